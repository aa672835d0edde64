"""The BFE condition language: parse, check, compile and evaluate request conditions.

Conditions such as ``req_host_in("example.com") && req_path_prefix_in("/admin", false)``
decide which requests a rule applies to. They come from rule files written for BFE, so the
language is BFE's, quirks included (docs/conditions.md lists the few deviations), with
better errors: ``line:col``, the source with a caret, and the closest name of a misspelt
primitive. Everything is checked when a condition compiles; a compiled condition is a
plain function of a :class:`~stockade.core.facts.RequestFacts` that never raises.

The package is pure (no I/O, no clock): time reaches the time primitives through the facts.
"""

from stockade.conditions.compiler import Condition, compile_condition
from stockade.conditions.errors import (
    ArgCountError,
    ArgTypeError,
    BuildFailure,
    ConditionError,
    ConditionKeywordError,
    ConditionLexerError,
    ConditionSyntaxError,
    PrimitiveBuildError,
    UnknownPrimitiveError,
    UnresolvedVariableError,
)
from stockade.conditions.parser import parse
from stockade.conditions.printer import to_source
from stockade.conditions.ruleset import RuleList

__all__ = [
    "ArgCountError",
    "ArgTypeError",
    "BuildFailure",
    "Condition",
    "ConditionError",
    "ConditionKeywordError",
    "ConditionLexerError",
    "ConditionSyntaxError",
    "PrimitiveBuildError",
    "RuleList",
    "UnknownPrimitiveError",
    "UnresolvedVariableError",
    "compile_condition",
    "explain",
    "parse",
    "to_source",
]


def explain(text: str) -> str:
    """``text`` with every binary operation in parentheses, after checking it compiles.

    It shows how BFE reads a condition: ``a && b || c`` is ``(a && (b || c))``, because
    ``||`` binds tighter than ``&&`` there. Raises a :class:`ConditionError` if ``text`` is invalid.
    """
    return to_source(compile_condition(text).tree)
