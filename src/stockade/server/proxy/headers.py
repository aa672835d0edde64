"""The header rules of a reverse proxy, as pure functions over ASGI header lists.

Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, not the message, so
they are dropped in both directions: the fixed set below plus every header the
``Connection`` header names. The forwarding headers then say who the client was:
``X-Forwarded-For``, ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and the standard
``Forwarded`` (RFC 7239), and ``X-Real-IP`` names the client the guard decided on. What a
peer claims about earlier hops is kept only when the peer is trusted; otherwise this hop
starts the list afresh, so an untrusted client cannot plant an address the upstream would
believe. (The canonical request has already removed every other proxy-only header an
untrusted peer sent: see :mod:`stockade.request.headers`.)

Names are compared lower-case, as ASGI servers hand them over. The request side runs once
per proxied request, so it walks the header list once and builds nothing it can skip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Headers = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Tokens of a Connection header that name no other header (RFC 9112 section 9.6).
_CONNECTION_OPTIONS = frozenset({b"close", b"keep-alive"})

# The forwarding headers a client may mark as hop-by-hop in its Connection header.
_FORWARDING = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"})

# Upgrades an HTTP/1.1 server may ignore and answer normally (RFC 9110 section 7.8).
_IGNORABLE_UPGRADES = frozenset({b"h2c"})

# tchar of RFC 9110 section 5.6.2: a Forwarded value made only of these needs no quotes.
_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Request headers that the forwarding step reads, replaces or drops.
_REQUEST_SPECIAL = frozenset(
    {
        *HOP_BY_HOP,
        b"host",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"forwarded",
        b"x-real-ip",
        b"content-length",
        # The proxy reads the whole body itself (the server answers 100 Continue when asked
        # for the body), so the upstream must not be asked for an interim response.
        b"expect",
    }
)


def connection_tokens(values: Iterable[bytes]) -> set[bytes]:
    """The lower-case options of one or several ``Connection`` header values."""
    tokens: set[bytes] = set()
    for value in values:
        for part in value.split(b","):
            token = part.strip().lower()
            if token:
                tokens.add(token)
    return tokens


def strip_hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The end-to-end headers: without the hop-by-hop set and whatever ``Connection`` lists.

    Names are compared case-insensitively and passed on as they came.
    """
    pairs = list(headers)
    listed = connection_tokens(v for n, v in pairs if n.lower() == b"connection")
    drop = HOP_BY_HOP | listed if listed else HOP_BY_HOP
    return [(n, v) for n, v in pairs if n.lower() not in drop]


def forwarded_node(ip: str | None) -> bytes:
    """An RFC 7239 node for ``for=``: IPv6 bracketed and quoted, ``unknown`` when not known."""
    if not ip:
        return b"unknown"
    if ":" in ip:
        return b'"[' + ip.encode("ascii", "replace") + b']"'
    return ip.encode("ascii", "replace")


def forwarded_value(value: bytes) -> bytes:
    """``value`` as an RFC 7239 value: a token as it is, anything else as a quoted string."""
    if value and not value.translate(None, _TCHAR):
        return value  # nothing is left once every tchar is deleted
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def forwarded_element(ip: str | None, proto: bytes, host: bytes | None) -> bytes:
    """This hop's element of the ``Forwarded`` header: ``for=...;proto=...;host=...``."""
    element = b"for=" + forwarded_node(ip) + b";proto=" + proto
    if host is not None:
        element += b";host=" + forwarded_value(host)
    return element


@dataclass(slots=True)
class UpstreamRequest:
    """What the proxy sends upstream, from one ASGI request's headers.

    ``headers`` are the end-to-end headers plus the forwarding headers, ``Host`` first.
    ``content_length`` is the client's when it sent one and no ``Transfer-Encoding``;
    ``chunked`` says the client's body has no length known in advance (it sent
    ``Transfer-Encoding``); ``upgrade`` says the client asked for a protocol switch.
    """

    headers: Headers
    content_length: int | None
    chunked: bool
    upgrade: bool
    bad_length: bool = False  # a Content-Length that is not one non-negative integer


# This hop's forwarding headers depend only on the client, the scheme and the Host: most
# requests repeat a recent combination (keep-alive clients), so they are built once.
_HOP_CACHE: dict[tuple[str | None, bytes, bytes | None, str | None], tuple[tuple[bytes, bytes], ...]] = {}
_CACHE_SIZE = 4096


def _this_hop(
    client_ip: str | None, proto: bytes, host: bytes | None, real_ip: str | None
) -> tuple[tuple[bytes, bytes], ...]:
    """X-Forwarded-For, Forwarded, X-Forwarded-Proto (and -Host), X-Real-IP as this hop alone would set them."""
    key = (client_ip, proto, host, real_ip)
    pairs = _HOP_CACHE.get(key)
    if pairs is None:
        ip = client_ip.encode("ascii", "replace") if client_ip else b"unknown"
        pairs = ((b"x-forwarded-for", ip), (b"forwarded", forwarded_element(client_ip, proto, host)))
        pairs += ((b"x-forwarded-proto", proto),)
        if host is not None:
            pairs += ((b"x-forwarded-host", host),)
        real = real_ip or client_ip
        if real:
            pairs += ((b"x-real-ip", real.encode("ascii", "replace")),)
        if len(_HOP_CACHE) >= _CACHE_SIZE:
            _HOP_CACHE.clear()
        _HOP_CACHE[key] = pairs
    return pairs


def _add_forwarding(
    out: Headers,
    *,
    client_ip: str | None,
    proto: bytes,
    host: bytes | None,
    real_ip: str | None,
    seen: dict[bytes, list[bytes]],
    trusted: bool,
) -> None:
    """Append this hop's forwarding headers; a trusted peer's own are extended or kept."""
    hop = _this_hop(client_ip, proto, host, real_ip)
    xff = seen.get(b"x-forwarded-for")
    fwd = seen.get(b"forwarded")
    xfp = seen.get(b"x-forwarded-proto")
    xfh = seen.get(b"x-forwarded-host")
    if not trusted or not (xff or fwd or xfp or xfh):
        out += hop
        return
    ip = hop[0][1]
    element = hop[1][1]
    out.append((b"x-forwarded-for", b", ".join([*xff, ip]) if xff else ip))
    out.append((b"forwarded", b", ".join([*fwd, element]) if fwd else element))
    out.append((b"x-forwarded-proto", xfp[-1] if xfp else proto))
    forwarded_host = xfh[-1] if xfh else host
    if forwarded_host is not None:
        out.append((b"x-forwarded-host", forwarded_host))
    if hop[-1][0] == b"x-real-ip":
        out.append(hop[-1])


def _listed(values: list[bytes]) -> set[bytes]:
    """The header names a Connection header lists (its options aside)."""
    if len(values) == 1 and values[0].lower() in _CONNECTION_OPTIONS:
        return set()  # the usual "keep-alive" or "close"
    return connection_tokens(values) - _CONNECTION_OPTIONS


def upstream_request(
    headers: Sequence[tuple[bytes, bytes]],
    *,
    client_ip: str | None,
    trusted: bool,
    proto: bytes,
    default_host: bytes,
    real_ip: str | None = None,
) -> UpstreamRequest:
    """Turn a client's request headers into the upstream's, in one walk over the list.

    ``client_ip`` is this hop's peer, the address appended to the forwarding lists;
    ``trusted`` says the peer's own forwarding headers are believed (and appended to)
    rather than replaced; ``real_ip`` is the client the guard decided on (``X-Real-IP``,
    the peer by default). ``proto`` is
    ``b"http"`` or ``b"https"``; ``default_host`` is sent as ``Host`` when the client sent
    none (HTTP/1.0).
    """
    out: Headers = [(b"host", default_host)]
    host: bytes | None = None
    seen: dict[bytes, list[bytes]] | None = None
    special = _REQUEST_SPECIAL
    append = out.append
    for pair in headers:
        name = pair[0]
        if name not in special:
            append(pair)
        elif name == b"host":
            if host is None:
                host = pair[1]
                out[0] = (b"host", host)
        elif seen is None:
            seen = {name: [pair[1]]}
        else:
            seen.setdefault(name, []).append(pair[1])
    if seen is None:
        # The usual request: nothing to read, replace or drop but the Host.
        out += _this_hop(client_ip, proto, host, real_ip)
        return UpstreamRequest(out, None, False, False)

    listed = _listed(seen[b"connection"]) if b"connection" in seen else None
    if listed:
        # Whatever the client marked as meant for this hop only goes no further.
        out[1:] = [pair for pair in out[1:] if pair[0] not in listed]
        for name in listed & _FORWARDING:
            seen.pop(name, None)
    if trusted and not _FORWARDING.isdisjoint(seen):
        _add_forwarding(out, client_ip=client_ip, proto=proto, host=host, real_ip=real_ip, seen=seen, trusted=trusted)
    else:
        out += _this_hop(client_ip, proto, host, real_ip)
    upgrade = b"upgrade" in seen and bool(connection_tokens(seen[b"upgrade"]) - _IGNORABLE_UPGRADES)
    chunked = b"transfer-encoding" in seen
    lengths = seen.get(b"content-length")
    content_length: int | None = None
    bad_length = False
    if not chunked and lengths is not None:
        text = lengths[0].strip()
        if len(lengths) == 1 and text.isdigit() and len(text) < 19:
            content_length = int(text)
            append((b"content-length", text))
        else:
            bad_length = True
    return UpstreamRequest(out, content_length, chunked, upgrade, bad_length)


# Response header names as the upstream spells them -> (lower-case name, what to do).
PASS, DROP, CONNECTION, TRANSFER_ENCODING, LENGTH = range(5)
RESPONSE_NAMES: dict[bytes, tuple[bytes, int]] = {}


def response_name(name: bytes) -> tuple[bytes, int]:
    """The lower-case name of a response header and what the proxy does with it (cached)."""
    found = RESPONSE_NAMES.get(name)
    if found is not None:
        return found
    lower = name.lower()
    if lower == b"connection":
        kind = CONNECTION
    elif lower == b"transfer-encoding":
        kind = TRANSFER_ENCODING
    elif lower == b"content-length":
        kind = LENGTH
    # Date: the server in front sends its own, as nginx does; two would be wrong.
    elif lower in HOP_BY_HOP or lower == b"date":
        kind = DROP
    else:
        kind = PASS
    if len(RESPONSE_NAMES) < _CACHE_SIZE:
        RESPONSE_NAMES[name] = (lower, kind)
    return lower, kind


def chunked_last(value: bytes) -> bool:
    """A ``Transfer-Encoding`` value frames the body when ``chunked`` is its last coding."""
    return value.rsplit(b",", 1)[-1].strip().lower() == b"chunked"


def without_listed(out: Headers, connection: list[bytes]) -> tuple[Headers, bool]:
    """``out`` without the headers the ``Connection`` values name, and whether they said ``close``."""
    if not connection:
        return out, False
    if len(connection) == 1 and (only := connection[0].lower()) in _CONNECTION_OPTIONS:
        return out, only == b"close"  # the usual "keep-alive" or "close"
    tokens = connection_tokens(connection)
    listed = tokens - _CONNECTION_OPTIONS
    if listed:
        out = [pair for pair in out if pair[0] not in listed]
    return out, b"close" in tokens


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> tuple[Headers, bool, bool]:
    """An upstream response's headers for the client, whether it said ``close``, whether it is framed.

    ``raw`` are the headers as parsed (any case); the result has lower-case names and no
    ``Date`` (the server in front of the proxy sends its own). Framed means the body's end
    is known without the connection closing: a ``Content-Length``, or ``chunked`` as the
    last transfer coding. (The upstream pool does the same header by header, as they are
    parsed.)
    """
    out: Headers = []
    connection: list[bytes] = []
    framed = False
    names = RESPONSE_NAMES
    for name, value in raw:
        lower, kind = names.get(name) or response_name(name)
        if kind == PASS:
            out.append((lower, value))
        elif kind == LENGTH:
            framed = True
            out.append((lower, value))
        elif kind == CONNECTION:
            connection.append(value)
        elif kind == TRANSFER_ENCODING:
            framed = chunked_last(value)
    out, close = without_listed(out, connection)
    return out, close, framed
