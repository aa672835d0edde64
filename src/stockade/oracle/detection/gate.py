"""The gate: one linear scan that tells a clean value from one any rule could fire on.

Every rule that reads values (query and body arguments, cookies, headers) names its
*anchors*: literal words or character sequences, at least one of which any value it fires on
holds once decoded (``<`` for markup, ``union`` for a UNION, ``..`` for traversal). The gate is
one RE2 expression of every anchor of a target, so a request whose values hold none of them
costs one scan and no parsing, no decoding and no rule.

Anchors are matched case-insensitively; a word written in lower-case letters (and ``_``) only
where no letter touches it (``or`` is no anchor in ``information``); any other anchor (with a
capital, a digit or punctuation: ``rO0AB``, ``cnVudGltZ``, ``../``) wherever it stands. The gate
reads text still encoded:

* in a raw query, form body or ``Cookie`` header the structural characters (``&`` ``=`` ``+``
  or ``;``) are not anchors as they stand (a sequence holding one still is: ``&#``); a percent
  escape is one when the character it encodes is an anchor, a letter or a digit (browsers
  never encode those: only evasion does), a control character, ``%`` itself (double encoding)
  or the lead byte of an overlong UTF-8 form (``%c0%ae``); a sequence matches with any of its
  characters encoded (``%3A%2F%2F`` is ``://``); ``%20``, ``%2C``, ``%40`` and UTF-8 text are
  nothing;
* in a JSON document ``"{}[],:`` are structure; a quote inside a string is escaped (``\\``
  is an anchor), and a ``{`` inside a string follows something JSON never puts before one;
* in a decoded value every anchor counts as it stands, and so does any escape a
  transformation would decode (``%xx``, ``%uxxxx``, ``\\``, ``&#``).

A value the gate passes over holds no anchor and no encoding of one, so no rule can fire on
it: a test checks this against the evaluation corpus with the gate on and off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import re2

_WORD = re.compile(r"[a-z_]+")  # other anchors (rO0AB, 127, cnVudGltZQ) are matched wherever they stand
_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.max_mem = 32 << 20
_CONTROL = "\x00-\x08\x0a-\x1f\x7f"


@dataclass(frozen=True, slots=True)
class Anchors:
    """The anchors of the rules of one target, sorted into characters, sequences and words."""

    chars: frozenset[str]
    sequences: tuple[str, ...]
    words: tuple[str, ...]

    @classmethod
    def of(cls, anchors: Iterable[str]) -> Anchors:
        chars: set[str] = set()
        sequences: set[str] = set()
        words: set[str] = set()
        for anchor in anchors:
            lowered = anchor.lower()
            if _WORD.fullmatch(anchor):
                words.add(lowered)
            elif len(lowered) == 1:
                chars.add(lowered)
            else:
                sequences.add(lowered)
        return cls(frozenset(chars), tuple(sorted(sequences)), tuple(sorted(words)))


class Gate:
    """A compiled gate: where, in bytes, the first anchor at or after a position starts."""

    __slots__ = ("_match", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        compiled = re2.compile(pattern, options=_OPTIONS)
        # The wrapper's search() decodes offsets and builds a match object (about 3 µs a call
        # here); the compiled RE2 under it answers on bytes directly (about 1 µs).
        self._match = compiled._regexp.Match

    def find(self, data: bytes, position: int = 0) -> int:
        """The offset of the first anchor at or after ``position``, or -1."""
        start: int = self._match(_UNANCHORED, data, position, len(data))[0][0]
        return start

    def touches(self, text: str) -> bool:
        data = text.encode("utf-8", "surrogateescape")
        start: int = self._match(_UNANCHORED, data, 0, len(data))[0][0]
        return start >= 0


_UNANCHORED = re2._Anchor.UNANCHORED


class Search:
    """A linear-time search for a pattern of many alternatives: RE2 where Python's ``re`` would try
    every alternative at every position (tens of µs for a short value)."""

    __slots__ = ("_match",)

    def __init__(self, pattern: str, *, verbose: bool = False) -> None:
        if verbose:  # RE2 has no (?x): drop comments and the layout's white space
            lines = (re.sub(r"\s#.*$", "", line) for line in pattern.splitlines())
            pattern = re.sub(r"(?<!\\)\s+", "", "".join(lines))
        self._match = re2.compile(pattern, options=_OPTIONS)._regexp.Match

    def __call__(self, text: str) -> bool:
        data = text.encode("utf-8", "surrogateescape")
        return bool(self._match(_UNANCHORED, data, 0, len(data))[0][0] >= 0)


def compile_gate(
    anchors: Anchors, structural: str = "", *, encoded: bool = True, json: bool = False, separator: str = ""
) -> Gate:
    """The gate of ``anchors`` for text where ``structural`` characters are syntax; ``separator``
    splits the text into ``name=value`` fields.

    ``encoded``: the text may still hold percent escapes (a raw query, form or cookie). ``json``:
    the text is a JSON document.
    """
    parts: list[str] = []
    chars = sorted(c for c in anchors.chars if c not in structural)
    parts.append("[" + "".join(_class_char(c) for c in chars) + _CONTROL + "]")
    # Every sequence, even one holding a structural character ("=php" in a query): where that
    # character is syntax the gate opens for nothing, which costs a parse but never hides a value.
    parts.extend(_sequence(sequence, encoded=encoded) for sequence in anchors.sequences)
    if "=" in anchors.chars and "=" in structural and separator:
        # A field's second "=" is its value's own: q=1 or 1=1 (clients leave it unencoded).
        sep = re2.escape(separator)
        parts.append(f"=[^{sep}=]*=")
    if anchors.words:
        words = "|".join(re2.escape(word) for word in sorted(anchors.words, key=len, reverse=True))
        parts.append(f"(?:^|[^a-z])(?:{words})(?:[^a-z]|$)")
    # Whatever a transformation decodes: escapes of anchors and of letters, entities, backslashes.
    parts.append(r"%u[0-9a-f]{4}|\\|&#|&[a-z]{2,8};|[\x{ff01}-\x{ff5e}]")
    if encoded:
        parts.append("%(?:" + _escapes(anchors.chars | set(structural)) + ")")
    else:
        parts.append("%[0-9a-f]{2}")
    if json:
        parts.append(r"[^\s:\[,]\{|\{\{|\$\{")
    return Gate("|".join(parts))


def _sequence(sequence: str, *, encoded: bool) -> str:
    """A sequence anchor, each of its punctuation characters as it stands or percent-encoded."""
    if not encoded:
        return str(re2.escape(sequence))
    out = []
    for char in sequence:
        if char.isalnum() or ord(char) > 0x7F:
            out.append(re2.escape(char))
        else:
            out.append(f"(?:{re2.escape(char)}|%{ord(char):02x})")
    return "".join(out)


def _class_char(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


def _escapes(significant: frozenset[str]) -> str:
    """The percent escapes worth a look: of significant characters, letters, digits, controls, %."""
    wanted: set[int] = set(range(0x00, 0x20)) | {0x7F, 0x25}
    wanted |= set(range(ord("0"), ord("9") + 1))
    wanted |= set(range(ord("a"), ord("z") + 1)) | set(range(ord("A"), ord("Z") + 1))
    wanted |= {ord(c) for c in significant if ord(c) < 0x80}
    wanted.discard(0x20)
    by_high: dict[int, list[int]] = {}
    for code in sorted(wanted):
        by_high.setdefault(code >> 4, []).append(code & 0xF)
    alternatives = []
    for high, lows in sorted(by_high.items()):
        digits = "".join(f"{low:x}" for low in lows)
        alternatives.append(f"{high:x}[{digits}]")
    # Overlong UTF-8 lead bytes (%c0%ae is "." to old decoders) and the lead of U+FF0E-like forms.
    alternatives.append("c[01]|e0%[89]|f0%8|f[89a-f]|ef%b[cd]")
    return "|".join(alternatives)
