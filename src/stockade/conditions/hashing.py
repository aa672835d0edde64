"""BFE's hash buckets: MurmurHash3 of a value, modulo 10000, and the ``N|N-M`` bucket lists.

``*_hash_in`` primitives split traffic into 10000 stable buckets, for gradual rollouts and
sampling. To send the same users to the same buckets as BFE, the hash must be bit-exact:
BFE takes ``murmur3.Sum64`` (the first 64-bit half of MurmurHash3 x64 128 with seed 0) of the
value's bytes; ``mmh3`` computes it in C. The section parser reproduces BFE's validation and
error texts (``hash value check section 100-99 err, start is larger``), Go's ``strconv.Atoi``
included: ``+5`` is a number, ``""``, ``-1`` and ``5_0`` are not.
"""

from __future__ import annotations

import re

import mmh3

from stockade.conditions.errors import BuildFailure

__all__ = ["BUCKETS", "bucket", "bucket_ranges", "go_ip_string", "go_quote", "parse_buckets"]

BUCKETS = 10000
_MASK64 = 0xFFFFFFFFFFFFFFFF
_ATOI = re.compile(r"[+-]?[0-9]+")
_V4_PREFIX = b"\x00" * 10 + b"\xff\xff"


def bucket(value: str) -> int:
    """The bucket (0..9999) of a value; bytes that are not UTF-8 (surrogate escapes) hash as themselves."""
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte string decodes to
        data = value.encode("utf-8", "replace")
    return (mmh3.hash128(data, 0, True, False) & _MASK64) % BUCKETS


_QUOTE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``, for error messages that quote a value as Go does."""
    out = []
    for char in text:
        code = ord(char)
        if char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept as a surrogate escape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _atoi(section: str, text: str) -> int:
    """Go's ``strconv.Atoi`` on one number of a section, with BFE's error text."""
    if not _ATOI.fullmatch(text):
        raise BuildFailure(
            f"hash value check section {section} number {text} err "
            f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax"
        )
    number = int(text)
    if not -(2**63) <= number < 2**63:
        raise BuildFailure(
            f"hash value check section {section} number {text} err "
            f"strconv.Atoi: parsing {go_quote(text)}: value out of range"
        )
    return number


def _section(section: str) -> range:
    numbers = section.split("-")
    if len(numbers) > 2:
        raise BuildFailure(f"hash value section {section} length error")
    bounds = []
    for raw in numbers:
        text = raw.replace(" ", "")
        number = _atoi(section, text)
        if not 0 <= number < BUCKETS:
            raise BuildFailure(f"hash value check section {section} number {text} overlimit")
        bounds.append(number)
    if bounds[-1] < bounds[0]:
        raise BuildFailure(f"hash value check section {section} err, start is larger")
    return range(bounds[0], bounds[-1] + 1)


def parse_buckets(sections: str) -> frozenset[int]:
    """The buckets named by ``N|N-M|...`` (BFE ``NewHashMatcher``); :class:`BuildFailure` on a bad section."""
    selected: set[int] = set()
    for section in sections.split("|"):
        selected.update(_section(section))
    return frozenset(selected)


def bucket_ranges(buckets: frozenset[int]) -> list[tuple[int, int]]:
    """The buckets as inclusive ranges of consecutive numbers, in order."""
    ranges: list[tuple[int, int]] = []
    for number in sorted(buckets):
        if ranges and ranges[-1][1] == number - 1:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    return ranges


def go_ip_string(address: bytes) -> str:
    """Go's ``net.IP.String()`` of a 16-byte address: dotted IPv4 when IPv4-mapped, else RFC 5952 IPv6."""
    if address[:12] == _V4_PREFIX:
        return ".".join(str(byte) for byte in address[12:])
    groups = [int.from_bytes(address[i : i + 2], "big") for i in range(0, 16, 2)]
    start, length = -1, 1  # the first longest run of at least two zero groups becomes "::"
    for i in range(8):
        end = i
        while end < 8 and groups[end] == 0:
            end += 1
        if end - i > length:
            start, length = i, end - i
    if start < 0:
        return ":".join(f"{group:x}" for group in groups)
    head = ":".join(f"{group:x}" for group in groups[:start])
    tail = ":".join(f"{group:x}" for group in groups[start + length :])
    return f"{head}::{tail}"
