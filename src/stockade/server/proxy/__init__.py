"""The reverse proxy: an ASGI application that forwards requests to one HTTP upstream.

- :mod:`~stockade.server.proxy.headers`: hop-by-hop removal and the forwarding headers (pure).
- :mod:`~stockade.server.proxy.pool`: keep-alive connections to the upstream (asyncio + httptools).
- :mod:`~stockade.server.proxy.forward`: :class:`ReverseProxy`, the ASGI application.
"""

from stockade.server.proxy.errors import (
    BadUpstreamResponse,
    ClientGone,
    ResponseAborted,
    UpstreamClosed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from stockade.server.proxy.forward import ReverseProxy

__all__ = [
    "BadUpstreamResponse",
    "ClientGone",
    "ResponseAborted",
    "ReverseProxy",
    "UpstreamClosed",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]
