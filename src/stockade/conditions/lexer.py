"""The scanner of the condition language, a faithful port of BFE's ``scanner.go``.

BFE's scanner is a trimmed copy of Go's own ``go/scanner``, so the language inherits Go's
lexical rules with a few twists (bfe.md §1.1): ``-`` is a letter (``a-b`` is one name), the 25
Go keywords are rejected, ``true``/``false`` are BOOL literals, and string escapes (Go's, plus
``\\.``) are validated but *not decoded*: the value is the raw text between the quotes.

It works on the UTF-8 bytes and keeps Go's structure on purpose, because that structure
decides which error BFE reports when there are several: the scanner reads one character ahead
(``_next``), reports NUL, bad UTF-8 and a misplaced byte order mark as soon as it reads them,
and the parser asks for one token at a time. Raising at the first report therefore gives
BFE's "first error wins" (``a b\\x00`` fails with the NUL, read while scanning ``b``, not with
the syntax error at ``b``). Positions are Go's too: 1-based lines counting ``\\n``, columns
counting bytes, and a line break at the very end of the source starts no new line.

Token kinds keep goyacc's numbers (``cond.y`` declares them in this order from 57346), because
BFE prints them: ``1:13 unrecognized token 57361`` is an ILLEGAL character. The parser reports
FLOAT (57358), IMAG (57359) and ILLEGAL (57361) that way; COMMENT (57360) never reaches it.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from typing import NoReturn, TypeVar

from stockade.conditions.errors import ConditionError, ConditionKeywordError, ConditionLexerError

__all__ = ["KEYWORDS", "LineIndex", "Scanner", "Tok", "Token", "to_bytes", "tokenize"]


class Tok(IntEnum):
    """Token kinds, numbered as goyacc numbers BFE's ``%token`` list."""

    EOF = 0
    IDENT = 57346
    LAND = 57347
    LOR = 57348
    LPAREN = 57349
    RPAREN = 57350
    NOT = 57351
    SEMICOLON = 57352
    BASICLIT = 57353  # the parser's name for BOOL, STRING and INT; the scanner never returns it
    COMMA = 57354
    BOOL = 57355
    STRING = 57356
    INT = 57357
    FLOAT = 57358
    IMAG = 57359
    COMMENT = 57360
    ILLEGAL = 57361


# The 25 Go keywords, rejected as names (BFE's token.go).
# fmt: off
KEYWORDS = frozenset((
    "break", "case", "chan", "const", "continue",
    "default", "defer", "else", "fallthrough", "for",
    "func", "go", "goto", "if", "import",
    "interface", "map", "package", "range", "return",
    "select", "struct", "switch", "type", "var",
))
# fmt: on

_E = TypeVar("_E", bound=ConditionError)
_EOF = -1
_BOM = 0xFEFF
_RUNE_ERROR = 0xFFFD
_SINGLE = {
    ord(";"): Tok.SEMICOLON,
    ord("("): Tok.LPAREN,
    ord(")"): Tok.RPAREN,
    ord("!"): Tok.NOT,
    ord(","): Tok.COMMA,
}
_SIMPLE_ESCAPES = frozenset(b'abfnrtv.\\"')  # bfe.md §1.1: BFE adds "\." to Go's list
_HEX_ESCAPES = {ord("x"): (2, 16, 0xFF), ord("u"): (4, 16, 0x10FFFF), ord("U"): (8, 16, 0x10FFFF)}  # digits, base, max


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text, where it starts and ends (byte offsets) and, for strings, the quote."""

    kind: Tok
    text: str
    start: int
    end: int
    quote: str = ""


def to_bytes(text: str | bytes) -> bytes:
    """The UTF-8 bytes the scanner reads. Lone surrogates in a str survive, and the scanner rejects them."""
    if isinstance(text, bytes):
        return text
    return text.encode("utf-8", "surrogatepass")


class LineIndex:
    """Maps byte offsets to 1-based (line, byte column), as Go's ``token.File`` does."""

    def __init__(self, src: bytes) -> None:
        # Go's File.AddLine ignores a line start at the very end of the file.
        self._starts = [0]
        newline = src.find(b"\n")
        while newline != -1 and newline + 1 < len(src):
            self._starts.append(newline + 1)
            newline = src.find(b"\n", newline + 1)

    def locate(self, offset: int) -> tuple[int, int]:
        """The line and byte column of ``offset``."""
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


class Scanner:
    """Turns condition source into tokens, one :meth:`scan` at a time; raises at the first error."""

    def __init__(self, text: str | bytes) -> None:
        self.src = to_bytes(text)
        self.lines = LineIndex(self.src)
        self._text = text
        self._ch = ord(" ")
        self._offset = 0
        self._rd = 0
        self._next()
        if self._ch == _BOM:
            self._next()  # a byte order mark is allowed as the very first character only

    # -- reading characters -------------------------------------------------------------------

    def _next(self) -> None:
        src = self.src
        if self._rd >= len(src):
            self._offset = len(src)
            self._ch = _EOF
            return
        self._offset = self._rd
        ch, width = src[self._rd], 1
        if ch == 0:
            self._error(self._offset, "illegal character NUL")
        elif ch >= 0x80:
            ch, width = _decode_rune(src, self._rd)
            if ch == _RUNE_ERROR and width == 1:
                self._error(self._offset, "illegal UTF-8 encoding")
            elif ch == _BOM and self._offset > 0:
                self._error(self._offset, "illegal byte order mark")
        self._rd += width
        self._ch = ch

    def _error(self, offset: int, message: str, cls: type[ConditionError] = ConditionLexerError) -> NoReturn:
        raise self.error(offset, message, cls)

    def error(self, offset: int, message: str, cls: type[_E]) -> _E:
        """An error of class ``cls`` at byte ``offset``, with this source for the caret."""
        line, col = self.lines.locate(offset)
        source = self._text if isinstance(self._text, str) else self._text.decode("utf-8", "replace")
        return cls(message, line=line, col=col, source=source)

    # -- tokens -------------------------------------------------------------------------------

    def scan(self) -> Token:
        """The next token; EOF (forever) at the end of the source."""
        while True:
            while self._ch in (0x20, 0x09, 0x0D, 0x0A):
                self._next()
            start = self._offset
            ch = self._ch
            if _is_letter(ch):
                return self._identifier(start)
            if 0x30 <= ch <= 0x39:
                kind, text = self._number()
                return Token(kind, text, start, self._offset)
            self._next()  # always make progress
            if ch == ord("/") and self._ch == ord("/"):
                self._skip_comment()
                continue
            return self._operator(ch, start)

    def _operator(self, ch: int, start: int) -> Token:
        if ch == _EOF:
            return Token(Tok.EOF, "", start, start)
        if ch in _SINGLE:
            return Token(_SINGLE[ch], chr(ch), start, self._offset)
        if ch == ord('"'):
            return Token(Tok.STRING, self._string(start), start, self._offset, '"')
        if ch == ord("`"):
            return Token(Tok.STRING, self._raw_string(start), start, self._offset, "`")
        if ch in (ord("&"), ord("|")) and self._ch == ch:
            self._next()
            return Token(Tok.LAND if ch == ord("&") else Tok.LOR, chr(ch) * 2, start, self._offset)
        # A single "&", "|" or "/", a quote "'" and every other character.
        return Token(Tok.ILLEGAL, chr(ch), start, self._offset)

    def _identifier(self, start: int) -> Token:
        while _is_letter(self._ch) or _is_digit(self._ch):
            self._next()
        text = self.src[start : self._offset].decode("utf-8")
        if text in KEYWORDS:
            # BFE reports it where the name ends.
            self._error(self._offset, "keyword can't be used", ConditionKeywordError)
        kind = Tok.BOOL if text in ("true", "false") else Tok.IDENT
        return Token(kind, text, start, self._offset)

    def _skip_comment(self) -> None:
        while self._ch not in (0x0A, _EOF):
            self._next()

    def _string(self, start: int) -> str:
        """A ``"..."`` string whose opening quote was consumed; its value is the raw text inside."""
        while True:
            ch = self._ch
            if ch in (0x0A, _EOF):
                self._error(start, "string literal not terminated")
            self._next()
            if ch == ord('"'):
                break
            if ch == ord("\\"):
                self._escape()
        return self.src[start + 1 : self._offset - 1].decode("utf-8")

    def _escape(self) -> None:
        """Validate the escape sequence after a backslash as BFE's ``scanEscape`` does; nothing is decoded."""
        start = self._offset
        ch = self._ch
        if ch in _SIMPLE_ESCAPES:
            self._next()
            return
        if 0x30 <= ch <= 0x37:
            digits, base, limit = 3, 8, 255
        elif ch in _HEX_ESCAPES:
            self._next()
            digits, base, limit = _HEX_ESCAPES[ch]
        else:
            self._error(start, "escape sequence not terminated" if ch == _EOF else "unknown escape sequence")
        value = 0
        for _ in range(digits):
            digit = _digit_value(self._ch)
            if digit >= base:
                if self._ch == _EOF:
                    self._error(self._offset, "escape sequence not terminated")
                self._error(self._offset, f"illegal character {_go_unicode(self._ch)} in escape sequence")
            value = value * base + digit
            self._next()
        if value > limit or 0xD800 <= value < 0xE000:
            self._error(start, "escape sequence is invalid Unicode code point")

    def _raw_string(self, start: int) -> str:
        """A backquoted string whose opening quote was consumed: no escapes, may span lines, ``\\r`` removed."""
        while True:
            ch = self._ch
            if ch == _EOF:
                self._error(start, "raw string literal not terminated")
            self._next()
            if ch == ord("`"):
                break
        return self.src[start + 1 : self._offset - 1].replace(b"\r", b"").decode("utf-8")

    def _number(self) -> tuple[Tok, str]:
        """INT, FLOAT or IMAG, by the rules of Go's old ``scanNumber`` (octal ``017``, hex ``0x1f``)."""
        start = self._offset
        kind = Tok.INT
        if self._ch == ord("0"):
            self._next()
            if self._ch in (ord("x"), ord("X")):
                self._next()
                self._mantissa(16)
                if self._offset - start <= 2:
                    self._error(start, "illegal hexadecimal number")
                return kind, self._text_from(start)
            self._mantissa(8)
            seen_decimal_digit = self._ch in (ord("8"), ord("9"))
            if seen_decimal_digit:
                self._mantissa(10)
            if self._ch not in (ord("."), ord("e"), ord("E"), ord("i")):
                if seen_decimal_digit:
                    self._error(start, "illegal octal number")
                return kind, self._text_from(start)
        else:
            self._mantissa(10)
        if self._ch == ord("."):
            kind = Tok.FLOAT
            self._next()
            self._mantissa(10)
        if self._ch in (ord("e"), ord("E")):
            kind = Tok.FLOAT
            self._next()
            if self._ch in (ord("-"), ord("+")):
                self._next()
            self._mantissa(10)
        if self._ch == ord("i"):
            kind = Tok.IMAG
            self._next()
        return kind, self._text_from(start)

    def _mantissa(self, base: int) -> None:
        while _digit_value(self._ch) < base:
            self._next()

    def _text_from(self, start: int) -> str:
        return self.src[start : self._offset].decode("ascii")


def tokenize(text: str | bytes) -> list[Token]:
    """All tokens of ``text`` up to and including EOF (the parser scans lazily; this is for tools and tests)."""
    scanner = Scanner(text)
    tokens = [scanner.scan()]
    while tokens[-1].kind is not Tok.EOF:
        tokens.append(scanner.scan())
    return tokens


def _decode_rune(src: bytes, i: int) -> tuple[int, int]:
    """Go's ``utf8.DecodeRune``: the rune at ``src[i]`` and its width, or (U+FFFD, 1) if invalid."""
    lead = src[i]
    width = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
    if width == 0:
        return _RUNE_ERROR, 1
    try:
        # Python's strict decoder rejects what Go rejects: overlong forms, surrogates, > U+10FFFF.
        decoded = src[i : i + width].decode("utf-8")
    except UnicodeDecodeError:
        return _RUNE_ERROR, 1
    if len(decoded) != 1:  # fewer bytes were left than the lead byte announced
        return _RUNE_ERROR, 1
    return ord(decoded), width


def _is_letter(ch: int) -> bool:
    if ch < 0x80:
        return 0x61 <= ch <= 0x7A or 0x41 <= ch <= 0x5A or ch in (0x5F, 0x2D)  # a-z A-Z _ -
    return unicodedata.category(chr(ch)).startswith("L")


def _is_digit(ch: int) -> bool:
    if ch < 0x80:
        return 0x30 <= ch <= 0x39
    return unicodedata.category(chr(ch)) == "Nd"


def _digit_value(ch: int) -> int:
    if 0x30 <= ch <= 0x39:
        return ch - 0x30
    if 0x61 <= ch <= 0x66:
        return ch - 0x61 + 10
    if 0x41 <= ch <= 0x46:
        return ch - 0x41 + 10
    return 16  # larger than any digit of any base


def _go_unicode(ch: int) -> str:
    """Go's ``%#U``: ``U+0067 'g'``, without the quoted character when it is not printable."""
    code = f"U+{ch:04X}"
    char = chr(ch)
    return f"{code} '{char}'" if char.isprintable() else code
