"""Compile a condition tree into one fast Python function.

A condition is compiled once and evaluated on every request, so the compiler spends time
at build to save it at run time. It generates the Python source of one function per
condition and compiles it, because there is then one Python frame per evaluation instead of
one per node: ``bench/conditions.py`` measures a 3-term condition about ten times as fast
as closures over the same matchers.

- Every argument is checked and validated when the condition compiles, never when it runs:
  ``semant.check`` (unresolved names, unknown primitives, arity, argument kinds), then each
  primitive's builder; a builder's :class:`BuildFailure` becomes a
  :class:`PrimitiveBuildError` at the call's line and column, with the source and a caret.
- A primitive whose matcher offers an ``expr`` template is inlined (its constants become
  globals of the generated function, which CPython reads as fast as locals); the others are
  called through their ``test``.
- ``&&``, ``||`` and ``!`` become ``and``, ``or`` and ``not``. The tree already carries BFE's
  precedence (``||`` binds tighter than ``&&``); every operand is parenthesised, and chains of
  one operator are flattened (both are associative, and the left-to-right order of
  short-circuit evaluation is kept). Pairs of ``!`` cancel: every primitive returns a bool.
- A compiled condition never raises: the generated function catches any exception, counts
  it in :attr:`Condition.errors` and returns False (a primitive that fails to fetch its data
  is false in BFE too). The tests prove the count stays zero on every vector.
- Trees are walked with an explicit stack, and a subexpression nested deeper than
  ``_MAX_NESTING`` parentheses moves into a helper function, because Python's own parser
  gives up near 200 levels while BFE accepts any depth.
- The compiled condition is the generated function itself, with its text, tree and hints
  as attributes: a wrapper object's ``__call__`` measured about four plain calls more.
  :class:`SourceBuilder` also serves :class:`~stockade.conditions.ruleset.RuleList`, which
  compiles a whole group of rules into one function.

The closure strategy builds the same logic from nested functions: a reference for the
tests and the benchmark, and a fallback should Python ever refuse the generated text. That
text is our own, built from the registry's templates; the literals are never pasted into it
(they reach the function as bound constants), so ``exec`` here runs no input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from types import FunctionType
from typing import Any, Protocol, TypeVar, cast
from typing import Literal as TypingLiteral

from stockade.conditions.errors import BuildFailure, PrimitiveBuildError, UnknownPrimitiveError
from stockade.conditions.parser import parse
from stockade.conditions.registry import Matcher, get
from stockade.conditions.semant import check
from stockade.conditions.syntax import Binary, BinaryOp, Call, Ident, Node, Not
from stockade.core.facts import RequestFacts

__all__ = ["Condition", "HintValues", "Hints", "SourceBuilder", "Strategy", "compile_condition"]

Strategy = TypingLiteral["source", "closures"]
Test = Callable[[RequestFacts], bool]
HintValues = frozenset[str] | tuple[str, ...]
Hints = dict[str, HintValues]

_PLACEHOLDER = re.compile(r"\{(r|c(\d+))\}")
_FACTS = "r"
# Parentheses nest at most this deep in one generated function (Python gives up near 200).
_MAX_NESTING = 32


class Condition(Protocol):
    """A compiled condition: call it with a :class:`RequestFacts`; it returns a bool and never raises.

    It is the generated function itself, carrying these attributes (see the module docstring).
    ``hints`` says what every matching request has, for indexes: ``"host"`` (a set of
    ``facts.host_lower`` keys) and ``"path_prefix"`` (prefixes of ``facts.path``).
    ``errors`` counts exceptions swallowed at run time (the tests prove it stays 0);
    ``matchers`` maps ``id(call)`` of every call node of ``tree`` to its built matcher.
    """

    text: str
    tree: Node
    hints: Hints
    strategy: Strategy
    source: str | None
    errors: int
    matchers: Mapping[int, Matcher]

    def __call__(self, facts: RequestFacts, /) -> bool: ...


def compile_condition(text: str, *, strategy: Strategy = "source") -> Condition:
    """Parse, check, build and compile ``text``; raise a :class:`ConditionError` subclass if it is invalid."""
    tree = parse(text)
    check(tree, text)
    matchers = _build_matchers(tree, text)
    function: Callable[[RequestFacts], bool] | None = None
    source: str | None = None
    if strategy == "source":
        builder = SourceBuilder()
        body = builder.expression(tree, matchers)
        source = builder.source(
            f"def evaluate({_FACTS}):\n"
            f"    try:\n"
            # Every inline template is a bool expression, and so are `and`/`or`/`not` of them.
            f"        return {body}\n"
            f"    except Exception:\n"
            f"        evaluate.errors += 1\n"
            f"        return False\n"
        )
        try:
            function = cast(Callable[[RequestFacts], bool], builder.define(source, text)["evaluate"])
        except (SyntaxError, RecursionError, MemoryError):
            # Not expected (deep trees are split into helpers), but closures work whatever Python refuses.
            strategy, source = "closures", None
    if function is None:
        function = _closures(tree, matchers)
    attributes: dict[str, Any] = vars(function)
    attributes.update(
        text=text,
        tree=tree,
        hints=_hints(tree, matchers),
        strategy=strategy,
        source=source,
        errors=0,
        matchers=matchers,
    )
    if isinstance(function, FunctionType):
        function.__name__ = "condition"
        function.__qualname__ = f"condition {text[:80]!r}"
    return cast(Condition, function)


# -- building the matchers -----------------------------------------------------------------


def _calls(tree: Node) -> Iterator[Call]:
    """Every call in source order, without recursion (a tree may be thousands of levels deep)."""
    stack: list[Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Call):
            yield node
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, Binary):
            stack.append(node.right)
            stack.append(node.left)


def _build_matchers(tree: Node, text: str) -> dict[int, Matcher]:
    """One matcher per call node (keyed by ``id``); the first builder failure wins."""
    matchers: dict[int, Matcher] = {}
    for call in _calls(tree):
        spec = get(call.name)
        if spec is None:  # semant.check has already rejected unknown names
            raise UnknownPrimitiveError(
                f"primitive {call.name} not found", line=call.span.line, col=call.span.col, source=text
            )
        try:
            matchers[id(call)] = spec.build(*(arg.value for arg in call.args))
        except BuildFailure as exc:
            raise PrimitiveBuildError(str(exc), line=call.span.line, col=call.span.col, source=text) from None
    return matchers


# -- folding a tree without recursion ------------------------------------------------------

T = TypeVar("T")


def _fold(
    tree: Node,
    call: Callable[[Call], T],
    negate: Callable[[T, bool], T],
    combine: Callable[[BinaryOp, list[T]], T],
    ident: Callable[[Ident], T],
) -> T:
    """Fold ``tree`` bottom-up with an explicit stack: a tree may be deeper than Python's recursion limit.

    ``negate`` receives the operand under a run of ``!`` and whether the run has odd length
    (every primitive returns a bool, so pairs of ``!`` cancel); ``combine`` receives the
    operands of a chain of one operator, left to right (``a && (b && c)`` → a, b, c: both
    operators are associative, and the left-to-right order of evaluation is kept).
    """
    done: dict[int, T] = {}
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        if isinstance(node, Call):
            done[id(node)] = call(node)
        elif isinstance(node, Ident):
            done[id(node)] = ident(node)
        elif isinstance(node, Not):
            operand, odd = _strip_nots(node)
            if ready:
                done[id(node)] = negate(done[id(operand)], odd)
            else:
                stack.append((node, True))
                stack.append((operand, False))
        else:
            operands = _flatten(node)
            if ready:
                done[id(node)] = combine(node.op, [done[id(operand)] for operand in operands])
            else:
                stack.append((node, True))
                stack.extend((operand, False) for operand in reversed(operands))
    return done[id(tree)]


def _flatten(node: Binary) -> list[Node]:
    """The operands of a chain of one operator, left to right."""
    operands: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Binary) and current.op == node.op:
            stack.append(current.right)
            stack.append(current.left)
        else:
            operands.append(current)
    return operands


def _strip_nots(node: Not) -> tuple[Node, bool]:
    """The operand under a run of ``!`` and whether the run has odd length."""
    odd = False
    current: Node = node
    while isinstance(current, Not):
        odd = not odd
        current = current.operand
    return current, odd


# -- hints for indexing --------------------------------------------------------------------


def _hints(tree: Node, matchers: Mapping[int, Matcher]) -> Hints:
    """What every request that satisfies ``tree`` must have, by hint kind.

    A call contributes its matcher's hint. ``A && B`` must satisfy both, so a kind known on
    both sides keeps the narrower one (host sets intersect). ``A || B`` must satisfy one, so
    only kinds known on both sides survive, united. ``!`` and bare names know nothing.
    """

    def call(node: Call) -> Hints:
        hint = matchers[id(node)].hint
        if hint is None:
            return {}
        kind, values = hint
        if kind == "path_prefix" and "" in values:  # the empty prefix admits every path
            return {}
        return {kind: values}

    def combine(op: BinaryOp, parts: list[Hints]) -> Hints:
        merged = parts[0]
        for part in parts[1:]:
            merged = _and_hints(merged, part) if op == "&&" else _or_hints(merged, part)
        return merged

    return _fold(tree, call, lambda _hints, _odd: {}, combine, lambda _ident: {})


def _and_hints(left: Hints, right: Hints) -> Hints:
    merged = dict(left)
    for kind, values in right.items():
        known = merged.get(kind)
        if known is None:
            merged[kind] = values
        elif isinstance(values, frozenset) and isinstance(known, frozenset):
            merged[kind] = known & values
        elif len(values) < len(known):
            merged[kind] = values
    return merged


def _or_hints(left: Hints, right: Hints) -> Hints:
    merged: Hints = {}
    for kind in left.keys() & right.keys():
        a, b = left[kind], right[kind]
        if isinstance(a, frozenset) and isinstance(b, frozenset):
            merged[kind] = a | b
        else:
            merged[kind] = tuple(dict.fromkeys((*a, *b)))
    return merged


# -- generated source ----------------------------------------------------------------------


class SourceBuilder:
    """Python source for one or more conditions, whose constants share one namespace.

    :meth:`expression` returns the text of a condition as a Python expression of ``r`` (the
    facts) and binds what it needs in :attr:`namespace` under fresh names; :meth:`source`
    prefixes the helper functions of deep trees; :meth:`define` compiles and runs the text.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, object] = {}
        self._helpers: list[str] = []
        self._serial = itertools.count(1)
        self._matchers: Mapping[int, Matcher] = {}

    def expression(self, tree: Node, matchers: Mapping[int, Matcher]) -> str:
        self._matchers = matchers
        text, _ = _fold(tree, self._call, self._negate, self._combine, lambda _ident: ("False", 1))
        return text

    def source(self, body: str) -> str:
        return "".join(self._helpers) + body

    def define(self, source: str, label: str) -> dict[str, object]:
        code = compile(source, f"<condition {label[:60]!r}>", "exec")
        exec(code, self.namespace)  # noqa: S102 - our own generated text, see the module docstring
        return self.namespace

    def _call(self, node: Call) -> tuple[str, int]:
        matcher = self._matchers[id(node)]
        index = next(self._serial)
        expr = matcher.expr
        if expr is None or not _template_fits(expr, len(matcher.consts)):
            self.namespace[f"_t{index}"] = matcher.test
            return f"_t{index}({_FACTS})", 1
        for position, const in enumerate(matcher.consts):
            self.namespace[f"_c{index}_{position}"] = const

        def substitute(found: re.Match[str]) -> str:
            return _FACTS if found.group(1) == "r" else f"_c{index}_{found.group(2)}"

        return "(" + _PLACEHOLDER.sub(substitute, expr) + ")", 1

    def _negate(self, operand: tuple[str, int], odd: bool) -> tuple[str, int]:
        text, depth = operand
        return self._bounded(f"(not {text})", depth + 1) if odd else operand

    def _combine(self, op: BinaryOp, operands: list[tuple[str, int]]) -> tuple[str, int]:
        joiner = " and " if op == "&&" else " or "
        text = "(" + joiner.join(text for text, _ in operands) + ")"
        return self._bounded(text, 1 + max(depth for _, depth in operands))

    def _bounded(self, text: str, depth: int) -> tuple[str, int]:
        """Move a deep subexpression into a helper function: Python's parser gives up near 200 levels."""
        if depth < _MAX_NESTING:
            return text, depth
        name = f"_s{next(self._serial)}"
        self._helpers.append(f"def {name}({_FACTS}):\n    return {text}\n")
        return f"{name}({_FACTS})", 1


def _template_fits(expr: str, consts: int) -> bool:
    """Whether every ``{cN}`` of a template names one of the matcher's constants."""
    return all(found.group(2) is None or int(found.group(2)) < consts for found in _PLACEHOLDER.finditer(expr))


# -- closures ------------------------------------------------------------------------------


def _closures(tree: Node, matchers: Mapping[int, Matcher]) -> Callable[[RequestFacts], bool]:
    inner = _closure(tree, matchers)

    def evaluate(facts: RequestFacts) -> bool:
        try:
            return bool(inner(facts))
        except Exception:  # a compiled condition must never raise
            vars(evaluate)["errors"] += 1
            return False

    return evaluate


def _closure(tree: Node, matchers: Mapping[int, Matcher]) -> Test:
    def negate(test: Test, odd: bool) -> Test:
        return (lambda facts: not test(facts)) if odd else test

    def combine(op: BinaryOp, tests: list[Test]) -> Test:
        if len(tests) == 2:
            first, second = tests
            if op == "&&":
                return lambda facts: first(facts) and second(facts)
            return lambda facts: first(facts) or second(facts)
        chain = tuple(tests)
        if op == "&&":
            return lambda facts: all(test(facts) for test in chain)
        return lambda facts: any(test(facts) for test in chain)

    return _fold(tree, lambda node: matchers[id(node)].test, negate, combine, lambda _ident: _never)


def _never(facts: RequestFacts) -> bool:
    return False
