"""How each proxy asks: the check requests of nginx, ingress-nginx, Caddy, Traefik, HAProxy and Envoy.

A proxy that asks stockade whether to serve a request sends a *check request* of its own
and describes the original request in it, each kind of proxy its own way:

- ``nginx`` (``auth_request``): ``X-Original-Method`` and ``X-Original-URI`` (``$request_uri``,
  path and query as sent), the original ``Host`` as the check's own ``Host`` header, and
  the scheme in ``X-Forwarded-Proto``;
- ``ingress-nginx`` (the ``auth-url`` annotation): ``X-Original-Method`` and
  ``X-Original-URL``, an absolute URL (``$scheme://$http_host$request_uri``);
- ``forward`` (Caddy's ``forward_auth``, Traefik's ``forwardAuth``, HAProxy with
  ``set-header``): ``X-Forwarded-Method``, ``-Uri``, ``-Host`` and ``-Proto``;
- ``envoy`` (``ext_authz`` with an HTTP service): the original method, its path appended to
  the check path (``path_prefix``), the original ``Host``; the headers are the original ones,
  and so is the body with ``with_request_body`` (detection reads it as ``stockade serve``
  reads a body). The other styles' check requests carry no body of the original request.

Every proxy passes the client's own headers along with its check request. So which headers
describe the original request must never depend on which are present: a client that adds
``X-Original-URI: /harmless`` to a request through Caddy, which sets only the
``X-Forwarded-*`` headers, would otherwise choose the path stockade decides on. The style
is chosen by the path the proxy calls (``/nginx``, ``/ingress-nginx``, ``/forward``,
``/envoy/...``), which only the proxy's configuration sets; a style reads its own headers
and no other, and each of them must come once.

This module is pure: it turns a check request (method, target, header lines) into the
:class:`Original` request, or raises :class:`~stockade.errors.BadCheck` for a check request
that does not describe one (a proxy whose configuration misses a header).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from stockade.errors import BadCheck, BadRequest

StyleName = Literal["nginx", "ingress-nginx", "forward", "envoy"]
Headers = list[tuple[bytes, bytes]]

_TCHAR: Final = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_MAX_METHOD: Final = 32
_SECURE: Final = frozenset({"https", "wss"})


@dataclass(frozen=True, slots=True)
class Style:
    """One way of asking: the check path that selects it and the headers that carry the question.

    ``reads`` are the headers the style reads (each at most once); ``consumed`` those the
    proxy sets to describe the original request, which are not part of it and which the
    checks do not see. With ``own_host`` the check request's ``Host`` is the original one.
    """

    name: StyleName
    path: bytes
    reads: frozenset[bytes]
    consumed: frozenset[bytes]
    own_host: bool
    prefix: bool = False  # the original path follows the check path (Envoy's path_prefix)
    body: bool = False  # the check request's body is the original one's (Envoy's with_request_body)


_NGINX_READS: Final = frozenset({b"x-original-method", b"x-original-uri", b"x-forwarded-proto", b"host"})
NGINX: Final = Style("nginx", b"/nginx", _NGINX_READS, _NGINX_READS - {b"host"}, own_host=True)
INGRESS_NGINX: Final = Style(
    "ingress-nginx",
    b"/ingress-nginx",
    frozenset({b"x-original-method", b"x-original-url"}),
    # ingress-nginx also sets these; X-Original-URI and X-Scheme only with auth-method.
    frozenset(
        {
            b"x-original-method",
            b"x-original-url",
            b"x-original-uri",
            b"x-scheme",
            b"x-sent-from",
            b"x-auth-request-redirect",
        }
    ),
    own_host=False,
)
_FORWARD_READS: Final = frozenset(
    {b"x-forwarded-method", b"x-forwarded-uri", b"x-forwarded-host", b"x-forwarded-proto"}
)
FORWARD: Final = Style("forward", b"/forward", _FORWARD_READS, _FORWARD_READS, own_host=False)
ENVOY: Final = Style(
    "envoy",
    b"/envoy",
    frozenset({b"x-forwarded-proto"}),
    # Envoy says so when with_request_body sent the first max_request_bytes of a longer body.
    frozenset({b"x-forwarded-proto", b"x-envoy-auth-partial-body"}),
    own_host=True,
    prefix=True,
    body=True,
)
STYLES: Final = (NGINX, INGRESS_NGINX, FORWARD, ENVOY)
STYLE_NAMED: Final[dict[str, Style]] = {style.name: style for style in STYLES}
CHECK_PATHS: Final = "/nginx, /ingress-nginx, /forward or /envoy/<original path>"
_BODY: Final = frozenset({b"content-length", b"transfer-encoding"})


class Original(NamedTuple):
    """The request the proxy asks about, as it was sent: raw target and query, ASGI-style headers.

    ``headers`` are the original request's (lower-case names), with its ``Host`` (the
    original host, or none) and without the headers that carried the question.
    """

    method: str
    target: bytes
    query: bytes
    scheme: str
    headers: Headers


def style_for(target: bytes) -> tuple[Style, bytes] | None:
    """The style a check target selects, and the rest of the target after its check path.

    The query of a check request is ignored (Caddy keeps the original query on its rewrite),
    except under ``envoy``, whose rest is the original target, query included.
    """
    for style in STYLES:
        path = style.path
        if not target.startswith(path):
            continue
        rest = target[len(path) :]
        if style.prefix:
            if rest[:1] == b"/" or rest == b"*" or rest[:2] == b"*?":
                return style, rest
            continue
        if not rest or rest[:1] == b"?":
            return style, b""
    return None


def describe(method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]]) -> tuple[Style, Original] | None:
    """The style and the original request of a check request; ``None`` for a target that is no check path.

    Raises :class:`~stockade.errors.BadCheck` with the style's name before the reason, and
    :class:`~stockade.errors.BadRequest` as :func:`original_request` does. The native
    front's requests read the same in Rust (``stockade._native.Request.original``).
    """
    found = style_for(target)
    if found is None:
        return None
    style, rest = found
    try:
        return style, original_request(style, method, rest, headers)
    except BadCheck as exc:
        raise BadCheck(f"{style.name}: {exc}") from None


def original_request(style: Style, method: str, rest: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Original:
    """The original request a check request describes under ``style``.

    ``rest`` is what :func:`style_for` left of the check target. Raises
    :class:`~stockade.errors.BadCheck` when a header of the style is missing, repeated or
    malformed, and :class:`~stockade.errors.BadRequest` for an original method that is not a
    method at all.
    """
    found, kept = _scan(headers, style)
    scheme = _scheme(found.get(b"x-forwarded-proto"))
    if style.name == "envoy":
        target, query = _split(rest)
        return Original(_method(method), target, query, scheme, kept)
    host: bytes | None
    if style.name == "forward":
        original_method = _required(found, b"x-forwarded-method")
        target, query = _split(_required(found, b"x-forwarded-uri"))
        host = found.get(b"x-forwarded-host")
    elif style.name == "nginx":
        original_method = _required(found, b"x-original-method")
        target, query = _split(_required(found, b"x-original-uri"))
        host = None
    else:
        original_method = _required(found, b"x-original-method")
        scheme, host, target, query = _absolute(_required(found, b"x-original-url"))
    if host is not None and host.strip(b" \t"):
        kept.append((b"host", host))
    return Original(_method(original_method.decode("latin-1")), target, query, scheme, kept)


def _scan(headers: Sequence[tuple[bytes, bytes]], style: Style) -> tuple[dict[bytes, bytes], Headers]:
    """One pass: the headers the style reads (each once), and the original request's headers.

    A check request's ``Content-Length`` and ``Transfer-Encoding`` describe its own body;
    its ``Host`` is the original one only where the style says so.
    """
    reads, consumed, own_host = style.reads, style.consumed, style.own_host
    found: dict[bytes, bytes] = {}
    kept: Headers = []
    for name, value in headers:
        lower = name.lower()
        if lower in reads:
            if lower in found:
                raise BadCheck(f"the check request has several {_spelled(lower)} headers")
            found[lower] = value
        if lower in consumed or lower in _BODY or (not own_host and lower == b"host"):
            continue
        kept.append((lower, value))
    return found, kept


def _required(found: dict[bytes, bytes], name: bytes) -> bytes:
    value = found.get(name, b"").strip(b" \t")
    if not value:
        raise BadCheck(f"the check request has no {_spelled(name)} header: set it in the proxy's configuration")
    return value


def _spelled(name: bytes) -> str:
    """A header's name as the proxies' documentation writes it (``X-Original-URI``, ``X-Forwarded-Uri``)."""
    words = name.decode("latin-1").split("-")
    original = words[:2] == ["x", "original"]
    return "-".join(w.upper() if original and w in ("uri", "url") else w.capitalize() for w in words)


def _split(target: bytes) -> tuple[bytes, bytes]:
    path, _, query = target.partition(b"?")
    return path.partition(b"#")[0], query.partition(b"#")[0]


def _absolute(url: bytes) -> tuple[str, bytes | None, bytes, bytes]:
    """Scheme, host, target and query of ingress-nginx's ``$scheme://$http_host$request_uri``."""
    scheme, sep, rest = url.partition(b"://")
    name = scheme.decode("latin-1").lower()
    if not sep or name not in ("http", "https"):
        raise BadCheck("X-Original-URL is not an absolute http or https URL")
    slash = rest.find(b"/")
    if slash < 0:
        raise BadCheck("X-Original-URL has no path")
    target, query = _split(rest[slash:])
    return name, rest[:slash], target, query


def _scheme(value: bytes | None) -> str:
    if value is None:
        return "http"
    # The first hop's, when a chain of proxies appended theirs.
    scheme = value.split(b",", 1)[0].strip(b" \t").decode("latin-1").lower()
    return "https" if scheme in _SECURE else "http"


def _method(method: str) -> str:
    if not method or len(method) > _MAX_METHOD or not _TCHAR.issuperset(method.encode("latin-1")):
        raise BadRequest("the original method is not an HTTP method")
    return method
