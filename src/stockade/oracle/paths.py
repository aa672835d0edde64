"""The canonical request path in pure Python: the oracle of the native one.

The algorithm and the policy are described in :mod:`stockade.request.paths`; this is the
same algorithm written a second way, which the differential tests hold the native
``canonical_path`` and ``canonical_decoded_path`` equal to, refusal reasons included.
"""

from __future__ import annotations

import re

from stockade.errors import BadRequest
from stockade.request.paths import DEFAULT_POLICY, CanonicalPath, PathPolicy

_HEX = frozenset(b"0123456789abcdefABCDEF")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# pchar of RFC 3986 without "%": unreserved, sub-delims, ":" and "@"; "/" separates segments.
_RAW_OK = _UNRESERVED | frozenset(b"!$&'()*+,;=:@")
_SLASHES = frozenset({0x2F, 0x5C})
# Arguments of bytes.translate(None, ...): what is left once these are deleted is not plain.
_RAW_TABLE = bytes(_RAW_OK)
_PLAIN_TABLE = bytes(_RAW_OK | frozenset(b"/"))


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
        out.append(_escape_segment(part, policy, raw))
    return out


def _escape_segment(part: bytes, policy: PathPolicy, raw: bytes) -> bytes:
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
                        raise _refusal(raw, "the path contains an escaped slash or backslash")
                    built += b"%%%02X" % value
                elif value < 0x20 or value == 0x7F:
                    raise _refusal(raw, _control(value))
                else:
                    built += b"%%%02X" % value
                i += 3
                continue
            built += b"%25"
        elif byte == 0x5C:
            raise _refusal(raw, "the path contains a backslash")
        elif byte < 0x20 or byte == 0x7F:
            raise _refusal(raw, _control(byte))
        elif byte in _RAW_OK:
            built.append(byte)
        else:
            built += b"%%%02X" % byte
        i += 1
    return bytes(built)


def _control(byte: int) -> str:
    return "the path contains a null byte" if byte == 0 else "the path contains a control character"


_ESCAPE = re.compile(rb"%([0-9a-fA-F]{2})")


def _refusal(path: bytes, reason: str, escaped: bool = True) -> BadRequest:
    """The refusal of a path step 1 refuses: ``reason``, or a hostile one when the path, its
    escapes decoded once and split at slashes and backslashes, holds a piece of dots (or,
    for a raw path, holds them once decoded further, or names a Windows drive behind a
    backslash)."""
    decoded = _unescape(path) if escaped else path
    for piece in decoded.replace(b"\\", b"/").split(b"/"):
        if _is_dot_run(piece[:8]):
            return BadRequest("the path has a dot segment beside a backslash, an escaped slash or a control character")
    if escaped and _hides_encoded_dots(decoded):
        return BadRequest("the path has a dot segment beside a backslash, an escaped slash or a control character")
    if escaped and _DRIVE.search(decoded):
        return BadRequest("the path names a Windows drive beside a backslash")
    return BadRequest(reason)


# A drive letter as a whole piece right before a backslash: /static/C:\boot.ini.
_DRIVE = re.compile(rb"(?:^|[/\\])[A-Za-z]:\\")
# Overlong UTF-8 encodings (a lead byte, then continuation bytes) and the mask of the lead.
_OVERLONG = re.compile(
    rb"\xc0[\x80-\xbf]|\xc1[\x80-\xbf]|\xe0[\x80-\xbf]{2}|\xf0[\x80-\xbf]{3}|\xf8[\x80-\xbf]{4}|\xfc[\x80-\xbf]{5}"
)
_DROPPED = re.compile(rb"[\xc0\xc1](?=[\x00-\x7f])")
_LEAD_MASK = {0xC0: 0x1F, 0xC1: 0x1F, 0xE0: 0x0F, 0xF0: 0x07, 0xF8: 0x03, 0xFC: 0x01}
_EUC_JP = re.compile(rb"(?:[\x00-\x7f]|\x8e[\xa1-\xdf]|\x8f[\xa1-\xfe]{2}|[\xa1-\xfe]{2})*")


def _unescape(data: bytes) -> bytes:
    return _ESCAPE.sub(lambda found: bytes([int(found.group(1), 16)]), data)


def _is_dot_run(piece: bytes) -> bool:
    """``..``, ``...``, ``....`` (before any ``;`` parameters): what a traversal climbs with."""
    piece = piece.replace(b"%3B", b";").split(b";", 1)[0]
    return len(piece) >= 2 and not piece.strip(b".")


def _fold_overlong(data: bytes) -> bytes:
    """Overlong UTF-8 encodings of ASCII read as the ASCII byte they spell, and a ``C0`` or
    ``C1`` before an ASCII byte dropped (decoders that skip what they cannot read leave it)."""
    data = _DROPPED.sub(b"", data)

    def fold(found: re.Match[bytes]) -> bytes:
        sequence = found.group(0)
        value = sequence[0] & _LEAD_MASK[sequence[0]]
        for byte in sequence[1:]:
            value = value << 6 | (byte & 0x3F)
        return bytes([value]) if value < 0x80 else sequence[:1] + _fold_overlong(sequence[1:])

    return _OVERLONG.sub(fold, data)


def _hides_encoded_dots(data: bytes) -> bool:
    """Two pieces of dots once overlong encodings are read as ASCII and escapes decoded
    twice, or one in bytes that are not EUC-JP either (EUC-JP text spells ``%c0%ae``)."""
    read = _fold_overlong(_unescape(_fold_overlong(data)))
    runs = sum(1 for piece in read.replace(b"\\", b"/").split(b"/") if _is_dot_run(piece))
    return runs >= 2 or (runs == 1 and _EUC_JP.fullmatch(data) is None)


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
        if _hides_encoded_dots(bytes(decoded)):
            raise BadRequest("the path hides dot segments in bytes that are not UTF-8") from None
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
            raise _refusal(data, "the path contains a backslash", escaped=False)
        elif byte < 0x20 or byte == 0x7F:
            raise _refusal(data, _control(byte), escaped=False)
        else:
            escaped += b"%%%02X" % byte
    return canonical_path(bytes(escaped) or b"/", policy)
