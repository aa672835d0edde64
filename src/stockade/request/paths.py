"""The canonical request path: one form that the checks decide on and the backend receives.

A guard that decides on one spelling of a path while the backend routes another can be
walked around: ``/admin/..``, ``/admin/%2e%2e`` or ``/secure/x%252f..`` mean one thing to
a check and another to a router. So every front turns the raw request target into one
canonical target, forwards exactly that, and decides on its decoded form.

The algorithm (RFC 3986 section 6.2.2, as Envoy's ``normalize_path`` and nginx do it):

1. Percent-escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded, once;
   every other escape is kept, its hex digits upper-cased. A ``%`` that starts no escape
   is itself escaped (``%25``). Bytes that may not appear raw in a path are escaped.
2. Segments are split at ``/``. An escaped slash or backslash (``%2F``, ``%5C``) has no
   safe canonical form, since backends disagree on whether it separates segments: it is
   refused (400) unless ``escaped_slashes = "keep"``, which forwards it escaped and
   refuses only the paths in which it would form a dot segment.
3. Dot segments are removed (RFC 3986 section 5.2.4), but a ``..`` above the root is
   refused rather than dropped; a dot segment with parameters (``..;x``, which Java
   servers read as ``..``) is refused. Empty segments (``//``) are merged unless
   ``merge_slashes = false``.
4. The decoded path is the canonical target with every escape decoded. It must be UTF-8
   (so overlong forms such as ``%c0%ae`` are refused) and free of control characters
   (``%00``, ``%0a``, ...) and backslashes.

Decoding the canonical target once more can form nothing a check would read differently:
step 1 already turned every escaped dot into a dot before step 3 ran, and steps 2 and 4
refuse every escape that could form a separator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from stockade.errors import BadRequest

EscapedSlashes = Literal["reject", "keep"]

_HEX = frozenset(b"0123456789abcdefABCDEF")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# pchar of RFC 3986 without "%": unreserved, sub-delims, ":" and "@"; "/" separates segments.
_RAW_OK = _UNRESERVED | frozenset(b"!$&'()*+,;=:@")
_SLASHES = frozenset({0x2F, 0x5C})
# Arguments of bytes.translate(None, ...): what is left once these are deleted is not plain.
_RAW_TABLE = bytes(_RAW_OK)
_PLAIN_TABLE = bytes(_RAW_OK | frozenset(b"/"))


@dataclass(frozen=True, slots=True)
class PathPolicy:
    """The operator's choices for what has no single reading (``[server]`` settings)."""

    merge_slashes: bool = True
    escaped_slashes: EscapedSlashes = "reject"


DEFAULT_POLICY = PathPolicy()


class CanonicalPath(NamedTuple):
    """``target`` is what the backend receives (escaped); ``path`` is what the checks read (decoded)."""

    target: bytes
    path: str


def canonical_path(raw: bytes, policy: PathPolicy = DEFAULT_POLICY) -> CanonicalPath:
    """The canonical form of a raw request path (the target without its query).

    Raises :class:`~stockade.errors.BadRequest` for a path with no safe canonical form.
    """
    if raw == b"*":
        return CanonicalPath(b"*", "*")  # OPTIONS *: no path at all
    if raw[:1] != b"/":
        raise BadRequest("the path must start with '/'")
    if b"//" not in raw and b"/." not in raw and not raw.translate(None, _PLAIN_TABLE):
        return CanonicalPath(raw, raw.decode("ascii"))  # the usual path: nothing to change
    return _canonical(raw, policy)


def _canonical(raw: bytes, policy: PathPolicy) -> CanonicalPath:
    segments = _segments(raw, policy)
    kept: list[bytes] = []
    trailing = False
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        name = _dot_name(segment, policy)
        if name == ".":
            trailing = index == last
            continue
        if name == "..":
            if not kept:
                raise BadRequest("the path climbs above the root")
            kept.pop()
            trailing = index == last
            continue
        if not segment and policy.merge_slashes:
            trailing = index == last
            continue
        kept.append(segment)
        trailing = False
    target = b"/" + b"/".join(kept)
    if trailing and kept:
        target += b"/"
    return CanonicalPath(target, _decode(target))


def _segments(raw: bytes, policy: PathPolicy) -> list[bytes]:
    """The segments after the leading ``/``, each with step 1 of the algorithm applied."""
    out: list[bytes] = []
    for part in raw[1:].split(b"/"):
        if b"%" not in part and not part.translate(None, _RAW_TABLE):
            out.append(part)
            continue
        out.append(_escape_segment(part, policy))
    return out


def _escape_segment(part: bytes, policy: PathPolicy) -> bytes:
    built = bytearray()
    i, size = 0, len(part)
    while i < size:
        byte = part[i]
        if byte == 0x25:  # "%"
            if i + 2 < size and part[i + 1] in _HEX and part[i + 2] in _HEX:
                value = int(part[i + 1 : i + 3], 16)
                if value in _UNRESERVED:
                    built.append(value)
                elif value in _SLASHES:
                    if policy.escaped_slashes == "reject":
                        raise BadRequest("the path contains an escaped slash or backslash")
                    built += b"%%%02X" % value
                elif value < 0x20 or value == 0x7F:
                    raise BadRequest("the path contains a control character")
                else:
                    built += b"%%%02X" % value
                i += 3
                continue
            built += b"%25"
        elif byte == 0x5C:
            raise BadRequest("the path contains a backslash")
        elif byte < 0x20 or byte == 0x7F:
            raise BadRequest("the path contains a control character")
        elif byte in _RAW_OK:
            built.append(byte)
        else:
            built += b"%%%02X" % byte
        i += 1
    return bytes(built)


def _dot_name(segment: bytes, policy: PathPolicy) -> str | None:
    """``"."`` or ``".."`` when the segment is a dot segment; refuses the ambiguous ones."""
    if segment[:1] != b"." and not (b"%" in segment and policy.escaped_slashes == "keep"):
        return None
    if segment in (b".", b".."):
        return segment.decode()
    # ";" starts parameters for Java servers, escaped or not once a framework has decoded it.
    if segment.replace(b"%3B", b";").split(b";", 1)[0] in (b".", b".."):
        raise BadRequest("the path has a dot segment with parameters")
    if policy.escaped_slashes == "keep":
        # An escaped slash kept in the target must not hide a dot segment from a backend that splits at it.
        for piece in segment.replace(b"%5C", b"%2F").split(b"%2F"):
            if piece.replace(b"%3B", b";").split(b";", 1)[0] in (b".", b".."):
                raise BadRequest("the path has a dot segment between escaped slashes")
    return None


def _decode(target: bytes) -> str:
    """The decoded form of a canonical target (whose escapes are all well formed and printable)."""
    if b"%" not in target:
        return target.decode("ascii")
    parts = target.split(b"%")
    decoded = bytearray(parts[0])
    for part in parts[1:]:
        decoded.append(int(part[:2], 16))
        decoded += part[2:]
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the path is not UTF-8") from None


def canonical_decoded_path(path: str, policy: PathPolicy = DEFAULT_POLICY) -> CanonicalPath:
    """The canonical form of a path a server has already percent-decoded once (WSGI without a raw URI).

    It is never decoded again: each character is escaped as needed to build the target, so
    ``%2f`` in the given path stays the three characters ``%2f`` (escaped as ``%252f``).
    """
    try:
        data = path.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the path is not UTF-8") from None
    escaped = bytearray()
    for byte in data:
        if byte == 0x2F or byte in _RAW_OK:
            escaped.append(byte)
        elif byte == 0x5C:
            raise BadRequest("the path contains a backslash")
        elif byte < 0x20 or byte == 0x7F:
            raise BadRequest("the path contains a control character")
        else:
            escaped += b"%%%02X" % byte
    return canonical_path(bytes(escaped) or b"/", policy)
