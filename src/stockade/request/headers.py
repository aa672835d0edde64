"""The request headers a backend receives: one canonical ``Host``, no client-address claims from strangers.

Backends and their frameworks read the client's address, scheme, host, user or original
URL from headers that proxies set (``X-Real-IP``, ``X-Forwarded-Proto``,
``X-Original-URL``, ``X-Forwarded-User``...). From a peer that is not a trusted proxy
those headers are the client's own words, so they are removed before anything else reads
them: the checks, and the backend. The protecting server then sets its own forwarding
headers. A trusted proxy's headers are kept.

Names are matched with ``_`` read as ``-``, because WSGI servers turn both into ``_`` in
the environ (``X_Real_IP`` would otherwise reach the app as ``HTTP_X_REAL_IP``).

A request with several ``Host`` headers is refused (RFC 9112 section 3.2); the one
``Host`` is replaced by its canonical spelling (:mod:`stockade.request.hosts`).

The work is native (``native/core/src/canonical/headers.rs``, which holds the list of
proxy-only headers); :mod:`stockade.oracle.headers` keeps the pure-Python version as the
differential tests' oracle.
"""

from __future__ import annotations

from collections.abc import Sequence

from stockade import _native
from stockade.request.hosts import CanonicalHost

Headers = list[tuple[bytes, bytes]]

# Headers in which a proxy tells the backend who the client is, how it connected, which
# URL it asked for or who it is logged in as. Only a trusted peer may send them.
PROXY_ONLY = frozenset(_native.proxy_only_headers())


def proxy_only(name: bytes) -> bool:
    """Whether ``name`` (any case, ``_`` or ``-``) is a header only a trusted proxy may send."""
    return _native.proxy_only(name)


def canonical_headers(headers: Sequence[tuple[bytes, bytes]], *, trusted: bool) -> tuple[Headers, CanonicalHost]:
    """The headers as the backend receives them, and the request's canonical host.

    ``headers`` are ASGI-style (lower-case names); the list given is returned as it is
    when nothing changes (the usual request). Raises :class:`BadRequest` for several
    ``Host`` headers or one that is not a host.
    """
    out, (name, port) = _native.canonical_headers(headers, trusted=trusted)
    return out, CanonicalHost(name, port)
