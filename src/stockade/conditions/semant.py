"""The checks a parsed condition must pass before any primitive is built.

A condition is checked once, when it is loaded, so a typo fails the rule file at load time
instead of making a rule silently never match. The checks and their order are BFE's
(``parser.go`` ``Parse``, ``semant.go`` ``prototypeCheck``, ``build.go`` ``Build``):

1. every call, in source order, against the primitive table: the name must be known
   (``primitive X not found``; names are case-sensitive), the number of arguments must match
   (``primitive args len error, expect N, got M``), then each argument's kind
   (``primitive P arg i expect BOOL, got STRING``, ``i`` counting from 0; no primitive takes
   an INT). The first bad call is reported at the position of its name;
2. then bare names: ``found unresolved variable x 1`` names the first one in source order and
   its Go ``token.Pos`` (the byte offset plus one), with no ``line:col`` prefix.

bfe.md §1.3 lists the unresolved variables before the prototype check, but that is the order
in which BFE *collects* them: ``parser.Parse`` returns the first prototype error before
``Build`` looks at the collected names, so ``a && nosuch()`` fails with "primitive nosuch not
found". We follow the code. An unknown name also gets a hint with the closest known name,
compared case-insensitively so ``REQ_HOST_IN`` suggests ``req_host_in``.

The primitive table is :mod:`stockade.conditions.registry`; tests may pass another ``lookup``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from stockade.conditions import registry
from stockade.conditions.errors import ArgCountError, ArgTypeError, UnknownPrimitiveError, UnresolvedVariableError
from stockade.conditions.syntax import Binary, Call, Ident, Node, Not

__all__ = ["Prototype", "check", "closest_name"]


class Prototype(Protocol):
    """What the check needs to know about a primitive: the kinds of its parameters."""

    @property
    def params(self) -> tuple[str, ...]: ...


Lookup = Callable[[str], Prototype | None]


def check(
    tree: Node,
    source: str | None = None,
    *,
    lookup: Lookup | None = None,
    names: Callable[[], Iterable[str]] | None = None,
) -> None:
    """Raise the first problem BFE would report for ``tree``; ``source`` is only used to show it.

    ``lookup`` maps a primitive name to its prototype (default: the registry's ``get``) and
    ``names`` lists the known names for the "did you mean" hint (default: the registry's).
    """
    lookup = lookup or registry.get
    names = names or registry.names
    for node in _source_order(tree):
        if isinstance(node, Call):
            _check_call(node, lookup(node.name), source, names)
    for node in _source_order(tree):
        if isinstance(node, Ident):
            message = f"found unresolved variable {node.name} {node.span.start + 1}"
            raise UnresolvedVariableError(message, line=node.span.line, col=node.span.col, source=source)


def _check_call(
    call: Call, prototype: Prototype | None, source: str | None, names: Callable[[], Iterable[str]]
) -> None:
    line, col = call.span.line, call.span.col
    if prototype is None:
        match = closest_name(call.name, names())
        hint = f"did you mean {match!r}?" if match else None
        raise UnknownPrimitiveError(f"primitive {call.name} not found", line=line, col=col, source=source, hint=hint)
    if len(prototype.params) != len(call.args):
        message = f"primitive args len error, expect {len(prototype.params)}, got {len(call.args)}"
        raise ArgCountError(message, line=line, col=col, source=source)
    for index, (param, arg) in enumerate(zip(prototype.params, call.args, strict=True)):
        if arg.kind != param:
            message = f"primitive {call.name} arg {index} expect {param}, got {arg.kind}"
            raise ArgTypeError(message, line=line, col=col, source=source)


def closest_name(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``name`` ignoring case (difflib's ratio, at least 0.6), or None."""
    by_folded = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_folded), n=1)
    return by_folded[matches[0]] if matches else None


def _source_order(tree: Node) -> Iterator[Node]:
    """Every node, parents before children and left before right (iterative: chains can be long)."""
    pending: list[Node] = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, Binary):
            pending.append(node.right)
            pending.append(node.left)
        elif isinstance(node, Not):
            pending.append(node.operand)
