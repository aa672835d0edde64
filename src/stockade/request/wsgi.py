"""The canonical request of a WSGI environ (PEP 3333), for the WSGI middleware and its adapters.

A WSGI server has already percent-decoded ``PATH_INFO``; decoding it again would let
``%252f`` become a slash the app never sees. So the canonical path comes from the raw
request target the server keeps (gunicorn's ``RAW_URI``, uWSGI's and Werkzeug's
``REQUEST_URI``) when there is one, and otherwise from the decoded path, escaped rather
than decoded again. :func:`from_wsgi` then writes the canonical path, target, host and
client back into the environ, and removes the proxy-only headers of an untrusted peer.
Without ``HTTP_HOST`` the app falls back on ``SERVER_NAME`` (PEP 3333), and the checks see
no host.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from stockade.clock import Clock
from stockade.core.client_ip import FORWARDING_HEADERS, ClientIpResolver
from stockade.core.facts import RequestFacts
from stockade.errors import BadRequest
from stockade.netaddr import normalize_ip
from stockade.request.asgi import secure_proto
from stockade.request.headers import PROXY_ONLY
from stockade.request.hosts import canonical_host
from stockade.request.incoming import Incoming
from stockade.request.paths import CanonicalPath, PathPolicy, canonical_decoded_path, canonical_path

Environ = MutableMapping[str, Any]
RouteMatcher = Callable[[str, str], bool]

# WSGI turns these headers into CGI variables without the HTTP_ prefix.
_CGI_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
_CGI_KEYS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
# The headers the trusted-proxy rules read, as WSGI names them.
_FORWARDING_KEYS = tuple(("HTTP_" + name.upper().replace("-", "_"), name.encode()) for name in FORWARDING_HEADERS)
_PROXY_ONLY_KEYS = tuple(sorted("HTTP_" + name.decode().upper().replace("-", "_") for name in PROXY_ONLY))


def environ_key(name: str) -> str:
    """The environ key of a request header (``user-agent`` -> ``HTTP_USER_AGENT``)."""
    return _CGI_KEYS.get(name) or "HTTP_" + name.upper().replace("-", "_")


def wsgi_path(environ: MutableMapping[str, Any]) -> str:
    """The decoded request path as the server gave it (``SCRIPT_NAME`` + ``PATH_INFO``), ``/`` if empty."""
    raw = (str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))).encode("latin-1")
    return raw.decode("utf-8", "surrogateescape") or "/"


def _raw_target(environ: Environ) -> str:
    return str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")


def _canonical(environ: Environ, policy: PathPolicy) -> CanonicalPath:
    raw = _raw_target(environ)
    if not raw:
        return canonical_decoded_path(wsgi_path(environ), policy)
    path = raw.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") and path != "*":
        path = urlsplit(path).path or "/"  # absolute form: http://host/path
    return canonical_path(path.encode("latin-1"), policy)


def from_wsgi(
    environ: Environ,
    *,
    policy: PathPolicy,
    resolver: ClientIpResolver,
    clock: Clock,
    routes: RouteMatcher | None = None,
) -> Incoming:
    """Canonicalise ``environ`` in place and return its :class:`Incoming`.

    Raises :class:`~stockade.errors.BadRequest` for a request with no safe canonical form.
    """
    canon = _canonical(environ, policy)
    script = str(environ.get("SCRIPT_NAME", "")).encode("latin-1").decode("utf-8", "surrogateescape")
    if script and not (canon.path == script or canon.path.startswith(script.rstrip("/") + "/")):
        raise BadRequest("the path leaves the application's mount point")
    forwarding = [(name, str(environ[key]).encode("latin-1")) for key, name in _FORWARDING_KEYS if key in environ]
    peer = str(environ.get("REMOTE_ADDR") or "")
    decided = resolver.resolve(peer, forwarding)
    if not decided.trusted:
        for key in _PROXY_ONLY_KEYS:
            if key in environ:
                del environ[key]
    raw_host = environ.get("HTTP_HOST")
    host = canonical_host(str(raw_host).encode("latin-1")) if raw_host is not None else canonical_host(b"")
    protocol = str(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
    if host.name:
        environ["HTTP_HOST"] = host.header
    elif raw_host is not None:
        del environ["HTTP_HOST"]
    environ["PATH_INFO"] = canon.path[len(script.rstrip("/")) :].encode("utf-8", "surrogateescape").decode("latin-1")
    query = str(environ.get("QUERY_STRING", ""))
    target = canon.target.decode("latin-1")
    uri = target + "?" + query if query else target
    for key in ("RAW_URI", "REQUEST_URI"):
        if key in environ:
            environ[key] = uri
    if decided.header is not None:
        environ["REMOTE_ADDR"] = decided.address
    remote = (normalize_ip(peer) or peer) if peer else None
    method = str(environ.get("REQUEST_METHOD", "GET"))

    def make_facts() -> RequestFacts:
        facts = facts_from_wsgi(environ, now=clock.now(), client_ip=decided.address or None, remote_ip=remote, uri=uri)
        facts.trusted = decided.trusted
        return facts

    authorization = environ.get("HTTP_AUTHORIZATION")
    return Incoming(
        make_facts=make_facts,
        authorization=[str(authorization).encode("latin-1")] if authorization is not None else [],
        path=canon.path,
        target=canon.target,
        client=decided.address,
        method=method,
        query=query,
        proto=protocol,
        host=host.header,
        header_lookup=lambda name: str(environ.get(environ_key(name), "")),
        known_route=routes is not None and routes(method, canon.path),
        decided=decided,
    )


def facts_from_wsgi(
    environ: MutableMapping[str, Any],
    *,
    now: float,
    client_ip: str | None = None,
    remote_ip: str | None = None,
    uri: str | None = None,
) -> RequestFacts:
    """The facts of a WSGI environ, built as :func:`~stockade.request.asgi.facts_from_asgi` builds them.

    ``uri`` is the request target (the raw one the server kept, else the path and query).
    """
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append(("-".join(part.capitalize() for part in key[5:].split("_")), str(value)))
        elif key in _CGI_HEADERS and value:
            headers.append((_CGI_HEADERS[key], str(value)))
    path = wsgi_path(environ)
    query = str(environ.get("QUERY_STRING", ""))
    target = uri or _raw_target(environ)
    protocol = str(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
    secure = environ.get("wsgi.url_scheme") == "https"
    remote = remote_ip or str(environ.get("REMOTE_ADDR") or "") or None
    return RequestFacts(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        host=str(environ.get("HTTP_HOST", "")),
        path=path,
        query=query,
        uri=target or (path + ("?" + query if query else "")),
        proto=protocol,
        headers=headers,
        client_ip=client_ip or remote,
        remote_ip=remote,
        secure=secure,
        session_proto=secure_proto(secure, protocol.removeprefix("HTTP/")),
        now=now,
    )
