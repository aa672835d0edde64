"""The canonical header list in pure Python: the oracle of the native one.

See :mod:`stockade.request.headers` for the rules. The list of proxy-only headers is
written here a second time, so that a test compares it with the native module's.
"""

from __future__ import annotations

from collections.abc import Sequence

from stockade.errors import BadRequest
from stockade.oracle.hosts import canonical_host
from stockade.request.hosts import NO_HOST, CanonicalHost

Headers = list[tuple[bytes, bytes]]

# Headers in which a proxy tells the backend who the client is, how it connected, which
# URL it asked for or who it is logged in as. Only a trusted peer may send them.
PROXY_ONLY = frozenset(
    {
        # the client's address
        b"x-forwarded-for",
        b"forwarded",
        b"forwarded-for",
        b"x-forwarded",
        b"x-real-ip",
        b"x-client-ip",
        b"client-ip",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-cluster-client-ip",
        b"x-original-forwarded-for",
        b"x-originating-ip",
        b"x-remote-ip",
        b"x-remote-addr",
        b"x-proxyuser-ip",
        b"x-envoy-external-address",
        # how it connected, to which host and port
        b"x-forwarded-proto",
        b"x-forwarded-scheme",
        b"x-forwarded-ssl",
        b"x-forwarded-protocol",
        b"x-url-scheme",
        b"x-scheme",
        b"front-end-https",
        b"x-forwarded-host",
        b"x-forwarded-server",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-original-host",
        b"x-host",
        # which URL it asked for (rewrites honoured by IIS, Symfony, Zend, Envoy...)
        b"x-original-url",
        b"x-rewrite-url",
        b"x-original-uri",
        b"x-envoy-original-path",
        # who it is (set by authenticating proxies such as oauth2-proxy)
        b"x-forwarded-user",
        b"x-forwarded-email",
        b"x-forwarded-groups",
        b"x-forwarded-preferred-username",
        b"x-auth-request-user",
        b"x-auth-request-email",
        b"x-auth-request-groups",
        b"x-remote-user",
        b"remote-user",
    }
)
_LENGTHS = frozenset(len(name) for name in PROXY_ONLY)


def proxy_only(name: bytes) -> bool:
    """Whether ``name`` (any case, ``_`` or ``-``) is a header only a trusted proxy may send."""
    if len(name) not in _LENGTHS:
        return False
    lower = name.lower()
    if b"_" in lower:
        lower = lower.replace(b"_", b"-")
    return lower in PROXY_ONLY


def canonical_headers(headers: Sequence[tuple[bytes, bytes]], *, trusted: bool) -> tuple[Headers, CanonicalHost]:
    """The headers as the backend receives them, and the request's canonical host.

    ``headers`` are ASGI-style (lower-case names); the list given is returned as it is
    when nothing changes (the usual request). Raises :class:`BadRequest` for several
    ``Host`` headers or one that is not a host.
    """
    host_index = -1
    dropped = False
    for index, (name, _value) in enumerate(headers):
        if len(name) == 4 and name.lower() == b"host":
            if host_index >= 0:
                raise BadRequest("the request has several Host headers")
            host_index = index
        elif not trusted and proxy_only(name):
            dropped = True
    if host_index < 0:
        host, value = NO_HOST, b""
    else:
        value = headers[host_index][1]
        host = canonical_host(value)
    spelled = host.header.encode("ascii")
    if not dropped and spelled == value:
        return headers if isinstance(headers, list) else list(headers), host
    out: Headers = []
    for name, header_value in headers:
        if len(name) == 4 and name.lower() == b"host":
            if spelled:
                out.append((b"host", spelled))
        elif trusted or not proxy_only(name):
            out.append((name, header_value))
    return out, host
