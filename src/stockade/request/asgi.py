"""The canonical request of an ASGI scope, for the protecting server and the ASGI middleware.

:func:`from_asgi` canonicalises the scope in place (``raw_path``, ``path``, ``headers``
and, when a trusted proxy named the client, ``client``) and returns the checks' view of
the same request. Whatever passes the checks then reaches the upstream or the app in
exactly the form the checks read. The canonical request is built natively, in one call
(:meth:`stockade._native.Canonicalizer.asgi`); :mod:`stockade.oracle.fronts` keeps the
pure-Python version as the differential tests' oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, cast

from stockade.clock import Clock
from stockade.core.client_ip import ClientIpResolver
from stockade.core.facts import RequestFacts
from stockade.engine.settings import NO_LISTENER, Listener
from stockade.errors import BadRequest, StockadeError
from stockade.netaddr import normalize_ip
from stockade.request.incoming import Incoming, TlsFacts
from stockade.request.paths import PathPolicy

RouteMatcher = Callable[[str, str], bool]


def address_of(peer: object) -> str | None:
    """The address of an ASGI ``client`` or ``server`` pair as the checks compare it (``::ffff:1.2.3.4``
    is ``1.2.3.4``); a non-address (a Unix socket) as given; ``None`` when there is none."""
    if not isinstance(peer, list | tuple) or not peer or not peer[0]:
        return None
    text = str(peer[0])
    return normalize_ip(text) or text


def client_of(resolver: ClientIpResolver, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client of a request refused before its canonical form existed (``""``: unknown)."""
    if not peer:
        return ""
    try:
        return resolver.resolve(peer, list(headers)).address
    except (StockadeError, ValueError, TypeError):
        return normalize_ip(peer) or ""


def from_asgi(
    scope: MutableMapping[str, Any],
    *,
    policy: PathPolicy,
    resolver: ClientIpResolver,
    clock: Clock,
    tls: TlsFacts | None = None,
    listener: Listener | Callable[[], Listener] = NO_LISTENER,
    routes: RouteMatcher | None = None,
    require_host: bool = False,
) -> Incoming:
    """Canonicalise an ``http`` or ``websocket`` scope in place and return its :class:`Incoming`.

    Raises :class:`~stockade.errors.BadRequest` for a request with no safe canonical form,
    and with ``require_host`` (the protecting server, which parsed the request itself) for an
    HTTP/1.1 request without ``Host`` (RFC 9112 section 3.2). Behind another server, the app
    falls back on the server's own name, as the checks do (no host).
    """
    # ASGI scopes are dicts (the specification says so); the native call reads them as such.
    try:
        path, target, host, decided, method, query, proto, uri, native = resolver.canonicalizer(policy).asgi(
            cast("dict[str, Any]", scope), require_host, tls
        )
    except BadRequest as exc:
        exc.client = client_of(resolver, address_of(scope.get("client")), scope.get("headers") or ())
        raise
    remote = decided.peer or None

    def make_facts() -> RequestFacts:
        facts = facts_from_asgi(scope, now=clock.now(), client_ip=decided.address or None, remote_ip=remote, tls=tls)
        facts.trusted = decided.trusted
        return facts

    return Incoming(
        make_facts=make_facts,
        listener=listener,
        path=path,
        target=target,
        client=decided.address,
        method=method,
        query=query,
        proto=proto,
        host=host,
        headers=scope["headers"],
        known_route=routes is not None and routes(method, path),
        decided=decided,
        uri=uri,
        native=native,
    )


def facts_from_asgi(
    scope: Mapping[str, Any],
    *,
    now: float,
    client_ip: str | None = None,
    remote_ip: str | None = None,
    tls: TlsFacts | None = None,
) -> RequestFacts:
    """The facts of an ASGI scope, as conditions read them.

    ``client_ip`` is the client the guard believes and ``remote_ip`` the socket peer
    (both default to the scope's client); ``tls`` are the protecting server's handshake facts.
    """
    raw_headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers]
    query = (scope.get("query_string") or b"").decode("latin-1")
    raw_path: bytes = scope.get("raw_path") or str(scope.get("path", "/")).encode("utf-8")
    target = raw_path.decode("latin-1")
    http_version = str(scope.get("http_version", "1.1"))
    secure = scope.get("scheme") in ("https", "wss")
    asgi_tls = (scope.get("extensions") or {}).get("tls") or {}
    remote = remote_ip or address_of(scope.get("client"))
    return RequestFacts(
        method=str(scope.get("method", "GET")),
        host=_host(headers),
        path=str(scope.get("path", "/")),
        query=query,
        uri=target + ("?" + query if query else ""),
        proto=f"HTTP/{http_version}",
        headers=headers,
        client_ip=client_ip or remote,
        remote_ip=remote,
        vip=address_of(scope.get("server")),
        secure=secure,
        session_proto=secure_proto(secure, http_version),
        tls_sni=tls.sni if tls is not None else asgi_tls.get("server_name") or None,
        tls_client_auth=tls.client_auth if tls is not None else bool(asgi_tls.get("client_cert_chain")),
        tls_client_ca=tls.client_ca if tls is not None else None,
        now=now,
    )


def _host(headers: list[tuple[str, str]]) -> str:
    """The first ``Host`` header's value, or ""."""
    for name, value in headers:
        if len(name) == 4 and name.lower() == "host":
            return value
    return ""


def secure_proto(secure: bool, http_version: str) -> str | None:
    """BFE's session protocol: ``https``, ``h2``, or ``None`` without TLS."""
    if not secure:
        return None
    return "h2" if http_version.startswith("2") else "https"
