"""One :class:`~stockade.core.facts.RequestFacts` from an ASGI scope or a WSGI environ.

Conditions must mean the same behind the protecting server, the ASGI middleware and the
WSGI middleware, so every adapter builds the facts here, the same way: the decoded path,
the raw query and request-target, every header line in order, the protocol, TLS facts and
addresses. The client address is the caller's to give (it comes from the trusted-proxy
rules); without one it is the socket peer. The body is not read: adapters that need it for
``req_body_json_*`` fill ``body`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from stockade.clock import Clock
from stockade.core.client_ip import ClientIp
from stockade.core.facts import RequestFacts
from stockade.engine._async.ladder import Incoming
from stockade.engine.settings import NO_LISTENER, Listener
from stockade.server.settings import TlsFacts

# WSGI turns these headers into CGI variables without the HTTP_ prefix.
_CGI_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def normalize_ip(address: str | None) -> str | None:
    """``::ffff:1.2.3.4`` is the IPv4 client ``1.2.3.4``."""
    if address and address.startswith("::ffff:") and "." in address:
        return address[len("::ffff:") :]
    return address or None


def _host(headers: list[tuple[str, str]]) -> str:
    """The first ``Host`` header's value, or ""."""
    for name, value in headers:
        if len(name) == 4 and name.lower() == "host":
            return value
    return ""


def _secure_proto(secure: bool, http_version: str) -> str | None:
    if not secure:
        return None
    return "h2" if http_version.startswith("2") else "https"


def facts_from_asgi(
    scope: Mapping[str, Any],
    *,
    now: float,
    client_ip: str | None = None,
    path: str | None = None,
    tls: TlsFacts | None = None,
) -> RequestFacts:
    """The facts of an ASGI ``http`` or ``websocket`` scope.

    ``path`` replaces the scope's decoded path (the protecting server gives the normalised
    one, so that no encoding or dot segment hides a path from the rules); ``tls`` are the
    handshake's facts from the protecting server's connection.
    """
    raw_headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers]
    query = (scope.get("query_string") or b"").decode("latin-1")
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
    raw_target = raw_path.decode("latin-1")
    http_version = str(scope.get("http_version", "1.1"))
    secure = scope.get("scheme") in ("https", "wss")
    peer = scope.get("client")
    local = scope.get("server")
    asgi_tls = (scope.get("extensions") or {}).get("tls") or {}
    remote = normalize_ip(str(peer[0])) if peer else None
    return RequestFacts(
        method=str(scope.get("method", "GET")),
        host=_host(headers),
        path=path if path is not None else str(scope.get("path", "/")),
        query=query,
        uri=raw_target + ("?" + query if query else ""),
        proto=f"HTTP/{http_version}",
        headers=headers,
        client_ip=client_ip or remote,
        remote_ip=remote,
        vip=normalize_ip(str(local[0])) if local else None,
        secure=secure,
        session_proto=_secure_proto(secure, http_version),
        tls_sni=tls.sni if tls is not None else asgi_tls.get("server_name") or None,
        tls_client_auth=tls.client_auth if tls is not None else bool(asgi_tls.get("client_cert_chain")),
        tls_client_ca=tls.client_ca if tls is not None else None,
        now=now,
    )


def wsgi_path_bytes(environ: Mapping[str, Any]) -> bytes:
    """The decoded request path's bytes: PEP 3333 carries them as latin-1 characters."""
    return (str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))).encode("latin-1")


def wsgi_path(environ: Mapping[str, Any]) -> str:
    """The decoded request path as the server gave it (before any normalisation), ``/`` if empty."""
    return wsgi_path_bytes(environ).decode("utf-8", "surrogateescape") or "/"


def incoming_from_asgi(
    scope: Mapping[str, Any],
    raw_path: bytes,
    path: str,
    decided: ClientIp,
    *,
    clock: Clock,
    tls: TlsFacts | None = None,
    listener: Listener | Callable[[], Listener] = NO_LISTENER,
    known_route: bool = False,
) -> Incoming:
    """The checks' view of an ASGI request: its cheap parts now, its facts on first use.

    ``raw_path`` is the raw path without the query, ``path`` the normalised one, ``decided``
    the client the trusted-proxy rules believe.
    """
    headers: list[tuple[bytes, bytes]] = scope["headers"]

    def make_facts() -> RequestFacts:
        facts = facts_from_asgi(scope, now=clock.now(), client_ip=decided.address or None, path=path, tls=tls)
        facts.trusted = decided.trusted
        return facts

    raw_query: bytes = scope.get("query_string", b"")
    query = raw_query.decode("latin-1") if raw_query else ""
    target = raw_path.decode("latin-1")
    return Incoming(
        make_facts=make_facts,
        listener=listener,
        path=path,
        client=decided.address,
        method=str(scope.get("method", "GET")),
        uri=target + "?" + query if query else target,
        query=query,
        proto=f"HTTP/{scope.get('http_version', '1.1')}",
        headers=headers,
        known_route=known_route,
    )


def facts_from_wsgi(
    environ: Mapping[str, Any], *, now: float, client_ip: str | None = None, path: str | None = None
) -> RequestFacts:
    """The facts of a WSGI environ (PEP 3333), built exactly as :func:`facts_from_asgi` builds them.

    ``path`` replaces the environ's decoded path (the middleware gives the normalised one).
    """
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append(("-".join(part.capitalize() for part in key[5:].split("_")), str(value)))
        elif key in _CGI_HEADERS and value:
            headers.append((_CGI_HEADERS[key], str(value)))
    given_path = wsgi_path(environ)
    query = str(environ.get("QUERY_STRING", ""))
    raw_target = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    protocol = str(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
    secure = environ.get("wsgi.url_scheme") == "https"
    remote = normalize_ip(str(environ.get("REMOTE_ADDR") or "") or None)
    return RequestFacts(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        host=str(environ.get("HTTP_HOST", "")),
        path=given_path if path is None else path,
        query=query,
        uri=raw_target or (given_path + ("?" + query if query else "")),
        proto=protocol,
        headers=headers,
        client_ip=client_ip or remote,
        remote_ip=remote,
        secure=secure,
        session_proto=_secure_proto(secure, protocol.removeprefix("HTTP/")),
        now=now,
    )
