"""The canonical request of a WSGI environ (PEP 3333), for the WSGI middleware and its adapters.

A WSGI server has already percent-decoded ``PATH_INFO``; decoding it again would let
``%252f`` become a slash the app never sees. So the canonical path comes from the raw
request target the server keeps (gunicorn's ``RAW_URI``, uWSGI's and Werkzeug's
``REQUEST_URI``) when there is one, and otherwise from the decoded path, escaped rather
than decoded again. :func:`from_wsgi` then writes the canonical path, target, host and
client back into the environ, and removes the proxy-only headers of an untrusted peer.
Without ``HTTP_HOST`` the app falls back on ``SERVER_NAME`` (PEP 3333), and the checks see
no host. The canonical request is built natively, in one call
(:meth:`stockade._native.Canonicalizer.wsgi`); :mod:`stockade.oracle.fronts` keeps the
pure-Python version as the differential tests' oracle.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, cast

from stockade.clock import Clock
from stockade.core.client_ip import ClientIpResolver
from stockade.core.facts import RequestFacts
from stockade.errors import BadRequest
from stockade.request.asgi import client_of, secure_proto
from stockade.request.incoming import Incoming
from stockade.request.paths import PathPolicy

Environ = MutableMapping[str, Any]
RouteMatcher = Callable[[str, str], bool]

# WSGI turns these headers into CGI variables without the HTTP_ prefix.
_CGI_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
_CGI_KEYS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def environ_key(name: str) -> str:
    """The environ key of a request header (``user-agent`` -> ``HTTP_USER_AGENT``)."""
    return _CGI_KEYS.get(name) or "HTTP_" + name.upper().replace("-", "_")


def wsgi_path(environ: MutableMapping[str, Any]) -> str:
    """The decoded request path as the server gave it (``SCRIPT_NAME`` + ``PATH_INFO``), ``/`` if empty."""
    raw = (str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))).encode("latin-1")
    return raw.decode("utf-8", "surrogateescape") or "/"


def _raw_target(environ: Environ) -> str:
    return str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")


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
    # PEP 3333: the environ is a dict; the native call reads it as one.
    try:
        path, target, host, decided, uri, query, method, protocol, native = resolver.canonicalizer(policy).wsgi(
            cast("dict[str, Any]", environ)
        )
    except BadRequest as exc:
        forwarded = environ.get(environ_key(resolver.header))
        headers = [(resolver.header.encode(), str(forwarded).encode("latin-1", "replace"))] if forwarded else []
        exc.client = client_of(resolver, str(environ.get("REMOTE_ADDR") or ""), headers)
        raise
    remote = decided.peer or None

    def make_facts() -> RequestFacts:
        facts = facts_from_wsgi(environ, now=clock.now(), client_ip=decided.address or None, remote_ip=remote, uri=uri)
        facts.trusted = decided.trusted
        return facts

    authorization = environ.get("HTTP_AUTHORIZATION")
    return Incoming(
        make_facts=make_facts,
        authorization=[str(authorization).encode("latin-1")] if authorization is not None else [],
        path=path,
        target=target,
        client=decided.address,
        method=method,
        query=query,
        proto=protocol,
        host=host,
        header_lookup=lambda name: str(environ.get(environ_key(name), "")),
        known_route=routes is not None and routes(method, path),
        decided=decided,
        uri=uri,
        native=native,
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
