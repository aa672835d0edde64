"""A request target split into the raw path, the query and, in absolute form, the authority.

The native front hands each request's target as it was read; the canonical request is
built from these parts (:meth:`stockade.server.native.Bridge._scope`). RFC 9112 section
3.2.2: an absolute-form target's authority is the host, whatever ``Host`` says.
"""

from __future__ import annotations

import httptools

_HASH = ord("#")  # an int: `in` on bytes is much slower with a bytes needle


def target_parts(target: bytes) -> tuple[bytes, bytes, bytes | None]:
    """The raw path, the query and, for an absolute-form target, its authority (else ``None``)."""
    if target[:1] == b"/" and _HASH not in target:
        raw_path, _, query = target.partition(b"?")
        return raw_path, query, None
    raw_path, query = split_target(target)
    return raw_path, query, _authority(target)


def _authority(target: bytes) -> bytes | None:
    """The ``host[:port]`` of an absolute-form target (``http://host:port/path``), else ``None``."""
    if target[:1] == b"/" or target == b"*":
        return None
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return None
    end = len(rest)
    for mark in (b"/", b"?", b"#"):
        found = rest.find(mark)
        if 0 <= found < end:
            end = found
    authority = rest[:end]
    return authority.rpartition(b"@")[2]  # userinfo is not part of the host


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """The path and query of a request target (origin form, absolute form or ``*``)."""
    if target[:1] == b"/" or target == b"*":
        if _HASH in target:
            target = target.partition(b"#")[0]
        path, _, query = target.partition(b"?")
        return path, query
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        return target, b""  # authority form (CONNECT host:port): no path; the app decides
    return url.path or b"/", url.query or b""
