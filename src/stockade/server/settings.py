"""What the protecting server needs to know, independent of how it was configured.

The configuration (``stockade.config``) builds these; the native front
(``stockade.server.native``) and the admin API (``stockade.admin``) take them. Durations
are seconds; ``None`` for a size means no limit.

Each request the Python side decides comes with a :class:`ConnectionFacts` of the
connection it came on: the socket peer, the PROXY-protocol source when the listener speaks
it, and the TLS facts. The PROXY-protocol source is the client when there is one, else the
socket peer; which client IP the guard believes is decided later, from the trusted proxies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stockade.core.client_ip import TrustedProxies
from stockade.request.incoming import TlsFacts
from stockade.server.listen import ListenAddress

__all__ = [
    "AdminSettings",
    "ClientAuth",
    "ConnectionFacts",
    "Limits",
    "ListenerSpec",
    "ProxyProtocol",
    "Route",
    "RouteTarget",
    "TlsFacts",
    "TlsSettings",
    "TrustedProxies",
    "UpstreamSettings",
]

ProxyProtocol = Literal["off", "v1", "v2", "any"]
ClientAuth = Literal["none", "optional", "required"]
RouteTarget = Literal["files", "upstream"]


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """A TLS listener: the certificate chain and key, and optionally client certificates."""

    certfile: Path
    keyfile: Path
    client_ca: Path | None = None
    client_auth: ClientAuth = "none"
    http2: bool = True  # ALPN offers h2 before http/1.1 (the native engine; the Python one speaks HTTP/1.1)


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """One listening address with its options.

    ``proxy_protocol``: ``off``; ``v1`` or ``v2`` (that version only); ``any`` (either). When
    on, every connection must start with a PROXY header, or it is closed without a response.
    ``proxy_protocol_from`` are the networks of the peers allowed to send one (the proxies
    in front); a connection from any other peer is closed before a byte is read. Left
    empty, the configuration's ``[proxy] trusted`` networks are used; a PROXY listener
    with no trusted peer at all cannot be bound.
    """

    address: ListenAddress
    tls: TlsSettings | None = None
    proxy_protocol: ProxyProtocol = "off"
    proxy_protocol_from: tuple[str, ...] = ()
    admin: bool = False  # the admin API's listener, not the protected site's
    decision: bool = False  # the decision endpoint's listener, asked by the proxies in front


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one client may send and how slowly."""

    max_header_bytes: int = 64 * 1024  # request line plus headers
    max_body_bytes: int | None = None
    header_timeout: float = 10.0  # from the connection (or the previous response) to the end of the headers
    body_timeout: float = 30.0  # the longest pause between two pieces of a request body
    keepalive_timeout: float = 5.0  # an idle keep-alive connection is closed after this
    drain_timeout: float = 30.0  # on SIGTERM, how long in-flight requests may take to finish


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """The HTTP backend that ``stockade serve`` protects."""

    url: str  # http://host:port, optionally with a base path
    connect_timeout: float = 5.0
    read_timeout: float = 60.0  # until the first response byte, and between two pieces of it
    max_idle_connections: int = 64  # keep-alive connections kept to the upstream


@dataclass(frozen=True, slots=True)
class Route:
    """A URL path prefix (segment boundaries) and what serves it."""

    path: str
    to: RouteTarget


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """The administration API, on a listener of its own."""

    listen: ListenAddress = field(default_factory=lambda: ListenAddress("127.0.0.1", 9180))
    token: str = field(default="", repr=False)


@dataclass(slots=True)
class ConnectionFacts:
    """The connection a request came on (on the admin listener also ``scope["extensions"]["stockade"]``)."""

    peer: tuple[str, int]  # the socket peer
    local: tuple[str, int]  # the socket's own address
    listener: ListenerSpec
    source: tuple[str, int] | None = None  # the PROXY-protocol source address, if any
    tls: TlsFacts | None = None
