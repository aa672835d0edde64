"""The syntax tree of a condition: small frozen nodes that remember where they came from.

The parser builds it, ``semant`` checks it, the compiler turns it into a function and the
printer turns it back into text. Parentheses leave no node of their own: the shape of the tree
is the grouping, and the printer puts explicit parentheses back.

Every node carries a :class:`Span` so a later stage can point at the culprit (BFE reports a
call's problems at the position of its name). Spans use BFE's coordinates: ``start`` and
``end`` are byte offsets into the UTF-8 source, ``line`` and ``col`` are 1-based with ``col``
counting bytes (see :mod:`stockade.conditions.errors`). Spans take no part in ``==``, so two
trees compare equal when they have the same shape and values, wherever they were written.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

__all__ = ["Binary", "BinaryOp", "Call", "Ident", "Literal", "LiteralKind", "Node", "Not", "Span", "same_shape"]

LiteralKind = typing.Literal["STRING", "BOOL", "INT"]
BinaryOp = typing.Literal["&&", "||"]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in the source: byte offsets ``[start, end)`` and the line/column of ``start``."""

    start: int
    end: int
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Literal:
    """An argument of a call.

    STRING: ``value`` is the raw text between the quotes. Escapes were validated but are not
    decoded (BFE's ``scanString`` returns the source text), so ``"\\."`` is the two characters
    ``\\.``; a raw string (``quote`` is a backquote) has its ``\\r`` characters removed.
    BOOL: ``True`` or ``False`` (only lowercase ``true``/``false`` lex as BOOL).
    INT: the number (no primitive accepts one; the check rejects it).
    """

    kind: LiteralKind
    value: str | bool | int
    span: Span = field(compare=False)
    quote: str = ""  # '"' or '`' for STRING, "" otherwise; the printer writes the literal back with it


@dataclass(frozen=True, slots=True)
class Call:
    """A primitive call such as ``req_host_in("a.com")``; ``span.line``/``span.col`` point at the name."""

    name: str
    args: tuple[Literal, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Ident:
    """A bare name. It parses, as in BFE, and the check rejects it as an unresolved variable."""

    name: str
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand``."""

    operand: Node
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    """``left && right`` or ``left || right``; evaluation short-circuits from the left."""

    op: BinaryOp
    left: Node
    right: Node
    span: Span = field(compare=False)


Node: typing.TypeAlias = Call | Ident | Not | Binary


def same_shape(a: Node, b: Node) -> bool:
    """Whether two trees have the same structure and values, ignoring where they were written.

    The same as ``a == b``, but iterative, so it also works on trees deeper than Python's
    recursion limit (a long chain of ``&&`` is a tree as deep as it is long).
    """
    pending: list[tuple[Node, Node]] = [(a, b)]
    while pending:
        x, y = pending.pop()
        if isinstance(x, Binary) and isinstance(y, Binary):
            if x.op != y.op:
                return False
            pending.append((x.left, y.left))
            pending.append((x.right, y.right))
        elif isinstance(x, Not) and isinstance(y, Not):
            pending.append((x.operand, y.operand))
        elif x != y:  # leaves: Call and Ident compare by value, spans excluded
            return False
    return True
