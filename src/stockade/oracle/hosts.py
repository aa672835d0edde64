"""The canonical host in pure Python: the oracle of the native one (see :mod:`stockade.request.hosts`)."""

from __future__ import annotations

import socket

from stockade.errors import BadRequest
from stockade.request.hosts import NO_HOST, CanonicalHost

_OWS = b" \t"
# reg-name characters a real host name uses: letters, digits, "-", "." and "_" (seen in the wild).
_NAME = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-._")
_NAME_TABLE = bytes(_NAME)
_MAX_NAME = 253


def canonical_host(value: bytes) -> CanonicalHost:
    """The canonical form of a ``Host`` header value (or an absolute-form target's authority)."""
    value = value.strip(_OWS)
    if not value:
        return NO_HOST
    if value[:1] == b"[":
        close = value.find(b"]")
        if close < 0:
            raise BadRequest("the Host header is not a host name")
        name = _ipv6(value[1:close])
        rest = value[close + 1 :]
        if rest and rest[:1] != b":":
            raise BadRequest("the Host header is not a host name")
        return CanonicalHost(name, _port(rest[1:]))
    name_bytes, colon, port = value.partition(b":")
    name_bytes = name_bytes.lower()
    if name_bytes.endswith(b"."):
        name_bytes = name_bytes[:-1]
    if (
        not name_bytes
        or len(name_bytes) > _MAX_NAME
        or name_bytes.translate(None, _NAME_TABLE)
        or b".." in name_bytes
        or name_bytes[:1] == b"."
        or name_bytes[-1:] == b"."  # "a..": an empty last label once one trailing dot is dropped
    ):
        raise BadRequest("the Host header is not a host name")
    return CanonicalHost(name_bytes.decode("ascii"), _port(port) if colon else "")


def _ipv6(text: bytes) -> str:
    try:
        packed = socket.inet_pton(socket.AF_INET6, text.decode("ascii"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise BadRequest("the Host header is not a host name") from None
    return "[" + socket.inet_ntop(socket.AF_INET6, packed) + "]"


def _port(text: bytes) -> str:
    """The port as sent; ``""`` for an empty one (``host:``, which RFC 3986 allows)."""
    if not text:
        return ""
    if not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise BadRequest("the Host header has a bad port")
    return text.decode("ascii")
