"""The canonical request of an ASGI scope and a WSGI environ in pure Python: the oracle of
the native fronts (:func:`stockade.request.asgi.from_asgi`, :func:`stockade.request.wsgi.from_wsgi`).

Each function canonicalises its scope or environ in place, as the native call does, and
returns what the native call returns, so that a differential test can compare both on
copies of one request: the same tuple, the same scope or environ afterwards, or the same
refusal.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from stockade.core.client_ip import FORWARDING_HEADERS, ClientIp
from stockade.errors import BadRequest
from stockade.oracle.client_ip import ClientIpResolver
from stockade.oracle.headers import PROXY_ONLY, canonical_headers
from stockade.oracle.hosts import canonical_host
from stockade.oracle.paths import canonical_decoded_path, canonical_path
from stockade.request.paths import CanonicalPath, PathPolicy

AsgiParts = tuple[str, bytes, str, ClientIp, str, str, str, str]
WsgiParts = tuple[str, bytes, str, ClientIp, str, str, str, str]

_FORWARDING_KEYS = tuple(("HTTP_" + name.upper().replace("-", "_"), name.encode()) for name in FORWARDING_HEADERS)
_PROXY_ONLY_KEYS = tuple(sorted("HTTP_" + name.decode().upper().replace("-", "_") for name in PROXY_ONLY))


def asgi(
    scope: MutableMapping[str, Any], policy: PathPolicy, resolver: ClientIpResolver, *, require_host: bool = False
) -> AsgiParts:
    """``(path, target, host, client, method, query, proto, uri)`` of a scope, made canonical in place."""
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is None:  # a server that gives only the decoded path: escape it, never decode it again
        raw_path = quote(str(scope.get("path", "/")), safe="/:@!$&'()*+,;=~").encode("ascii")
    elif b"?" in raw_path:
        raw_path = raw_path.split(b"?", 1)[0]
    canon = canonical_path(raw_path, policy)
    peer = scope.get("client")
    decided = resolver.resolve(str(peer[0]) if peer and peer[0] else "", scope["headers"])
    headers, host = canonical_headers(scope["headers"], trusted=decided.trusted)
    version = str(scope.get("http_version", "1.1"))
    if require_host and not host.name and version == "1.1":
        raise BadRequest("an HTTP/1.1 request needs a Host header")
    scope["raw_path"] = canon.target
    scope["path"] = canon.path
    scope["headers"] = headers
    if decided.header is not None:
        scope["client"] = (decided.address, 0)
    raw_query: bytes = scope.get("query_string", b"")
    query = raw_query.decode("latin-1") if raw_query else ""
    method = str(scope.get("method", "GET"))
    text = canon.target.decode("latin-1")
    uri = text + "?" + query if query else text
    return canon.path, canon.target, host.header, decided, method, query, f"HTTP/{version}", uri


def wsgi_path(environ: MutableMapping[str, Any]) -> str:
    """The decoded request path as the server gave it (``SCRIPT_NAME`` + ``PATH_INFO``), ``/`` if empty."""
    raw = (str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))).encode("latin-1")
    return raw.decode("utf-8", "surrogateescape") or "/"


def _canonical(environ: MutableMapping[str, Any], policy: PathPolicy) -> CanonicalPath:
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if not raw:
        return canonical_decoded_path(wsgi_path(environ), policy)
    path = raw.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") and path != "*":
        path = urlsplit(path).path or "/"  # absolute form: http://host/path
    return canonical_path(path.encode("latin-1"), policy)


def wsgi(environ: MutableMapping[str, Any], policy: PathPolicy, resolver: ClientIpResolver) -> WsgiParts:
    """``(path, target, host, client, uri, query, method, protocol)`` of an environ, made canonical in place."""
    canon = _canonical(environ, policy)
    script = str(environ.get("SCRIPT_NAME", "")).encode("latin-1").decode("utf-8", "surrogateescape")
    if script and not (canon.path == script or canon.path.startswith(script.rstrip("/") + "/")):
        raise BadRequest("the path leaves the application's mount point")
    forwarding = [(name, str(environ[key]).encode("latin-1")) for key, name in _FORWARDING_KEYS if key in environ]
    peer = str(environ.get("REMOTE_ADDR") or "")
    decided = resolver.resolve(peer, forwarding)
    raw_host = environ.get("HTTP_HOST")
    host = canonical_host(str(raw_host).encode("latin-1")) if raw_host is not None else canonical_host(b"")
    # Refusals come before any change (as in the native call).
    if not decided.trusted:
        for key in _PROXY_ONLY_KEYS:
            if key in environ:
                del environ[key]
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
    method = str(environ.get("REQUEST_METHOD", "GET"))
    protocol = str(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
    return canon.path, canon.target, host.header, decided, uri, query, method, protocol
