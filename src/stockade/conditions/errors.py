"""The errors of the condition language, one class per kind of mistake.

BFE reports a bad condition as one line, ``"<line>:<col> <msg>"`` (``1:13 unrecognized token
57361``). Every error here keeps those parts as fields, so :attr:`ConditionError.bfe_message`
reproduces BFE's text exactly (the compliance vectors compare it), while ``str()`` adds what a
person needs to fix the condition: the offending source line, a caret under the column and,
for a misspelt primitive, the closest known name.

Positions follow BFE: ``line`` is 1-based and counts ``\\n`` only; ``col`` is 1-based and
counts **bytes** of the UTF-8 source (Go's ``token.Position``). The caret is placed by
characters, so it lands under the right character in non-ASCII sources too.

Two kinds carry no position in BFE's text, because BFE raises them after parsing with a plain
``fmt.Errorf``: an unresolved variable (``found unresolved variable x 1``, the number being
Go's ``token.Pos``, the byte offset plus one) and a failed primitive build (``compile regexp
err ...``). Their :attr:`~ConditionError.bfe_message` is the message alone; ``line`` and
``col`` still point at the culprit, and ``str()`` adds them (``... (at 2:3)``) before the caret.
"""

from __future__ import annotations

from typing import ClassVar

from stockade.errors import StockadeError

__all__ = [
    "ArgCountError",
    "ArgTypeError",
    "BuildFailure",
    "ConditionError",
    "ConditionKeywordError",
    "ConditionLexerError",
    "ConditionSyntaxError",
    "PrimitiveBuildError",
    "UnknownPrimitiveError",
    "UnresolvedVariableError",
]

_BOM = "\ufeff"


class ConditionError(StockadeError):
    """A condition failed to scan, parse, check or build; ``kind`` names the stage and the mistake."""

    kind: ClassVar[str] = "condition"
    # False for the kinds BFE reports without a "line:col " prefix (see the module docstring).
    located: ClassVar[bool] = True

    def __init__(
        self, message: str, *, line: int, col: int, source: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, line, col)
        self.message = message
        self.line = line
        self.col = col
        self.source = source
        self.hint = hint

    @property
    def bfe_message(self) -> str:
        """The error exactly as BFE prints it."""
        if self.located:
            return f"{self.line}:{self.col} {self.message}"
        return self.message

    def __str__(self) -> str:
        excerpt = _excerpt(self.source, self.line, self.col)
        # BFE's text of the unlocated kinds has no position: add it, a multi-line condition needs it.
        parts = [self.bfe_message if self.located or not excerpt else f"{self.bfe_message} (at {self.line}:{self.col})"]
        if excerpt:
            parts.extend(excerpt)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ConditionSyntaxError(ConditionError):
    """The tokens do not form a condition (``1:1 syntax error``)."""

    kind = "syntax"


class ConditionLexerError(ConditionError):
    """A character or literal cannot be scanned (``unrecognized token``, a bad escape, bad UTF-8)."""

    kind = "lexer"


class ConditionKeywordError(ConditionError):
    """A Go keyword was used as a name (``keyword can't be used``)."""

    kind = "keyword"


class UnresolvedVariableError(ConditionError):
    """A bare name stands where a primitive call belongs (``found unresolved variable a 1``)."""

    kind = "unresolved_variable"
    located = False


class UnknownPrimitiveError(ConditionError):
    """A call names no known primitive; ``hint`` suggests the closest known name."""

    kind = "unknown_primitive"


class ArgCountError(ConditionError):
    """A primitive got the wrong number of arguments."""

    kind = "arg_count"


class ArgTypeError(ConditionError):
    """A primitive argument has the wrong kind (STRING, BOOL or INT)."""

    kind = "arg_type"


class PrimitiveBuildError(ConditionError):
    """A primitive rejected its arguments (a bad regexp, IP, hash section, time or host)."""

    kind = "build"
    located = False


class BuildFailure(Exception):
    """Raised by a primitive builder with BFE's message; the compiler turns it into a PrimitiveBuildError."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _excerpt(source: str | None, line: int, col: int) -> list[str]:
    """The source line ``line`` and a caret under byte column ``col``; empty when unknown."""
    if source is None or line < 1:
        return []
    lines = source.split("\n")
    if line > len(lines):
        return []
    text = lines[line - 1]
    raw = text.encode("utf-8", "surrogatepass")
    prefix = raw[: max(col - 1, 0)].decode("utf-8", "replace").replace(_BOM, "")
    shown = text.replace(_BOM, "").rstrip("\r")
    # Keep tabs so the caret stays aligned however the terminal expands them.
    pad = "".join("\t" if ch == "\t" else " " for ch in prefix)
    return [shown, pad + "^"]
