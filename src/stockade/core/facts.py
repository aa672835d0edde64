"""The normalised request: what every adapter fills once and every condition reads.

A rule engine that runs many conditions over one request should not parse the query, the
cookies or an IP address once per condition. :class:`RequestFacts` holds the raw values an
adapter knows (method, Host header, path, headers, addresses, TLS state, ...). The cheap
values of the request line (host without port, upper/lower-case forms, port, protocol) are
derived once when the facts are built; the costly ones (parsed query, cookies, header map,
16-byte addresses) on first use, cached in a private slot. The class deliberately has no
``__getattr__``: CPython only specialises slot reads for classes without one, and the
condition compiler inlines reads such as ``r.host_lower in {...}`` or
``(r._query_params or r.query_params)`` (see :func:`read_expr`), which then cost no
function call once the value exists. Derived values reflect the fields given at
construction: build a new object (``dataclasses.replace``) to change one.

Every derivation follows BFE (Go) exactly, because conditions must mean what they mean in
BFE (``shared/spec/bfe.md`` §1.5): the host is the Host header up to the first ``:`` and the
port what follows it (default ``"80"``, even on TLS); the query is parsed like Go's
``url.ParseQuery`` (pairs with ``;`` or a bad ``%`` escape are dropped, ``+`` is a space, the
first value wins); cookies like Go's ``readCookies`` (token names, cookie-octet values, the
first cookie of a name wins); header names are case-insensitive and the first value counts;
IP addresses become their 16-byte form (IPv4 as ``::ffff:a.b.c.d``), ``b""`` when missing or
unparsable. Case folding follows Go's simple Unicode mappings (:func:`go_upper`), not
Python's full ones (``"ß".upper()`` is ``"SS"`` in Python, ``"ß"`` in Go), and bytes that are
not UTF-8 (kept as surrogate escapes) fold to U+FFFD as Go's ``strings.ToUpper`` makes them.

Nothing here raises on access: a missing value is ``""``, ``b""`` or ``None`` as documented.
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from stockade.core.jsonpath import json_path_value

__all__ = [
    "GO_SPACE",
    "LAZY_ATTRIBUTES",
    "RequestFacts",
    "go_lower",
    "go_upper",
    "host_key",
    "ip16",
    "read_expr",
]

# Go's unicode.IsSpace (strings.TrimSpace, the fmt scanner); Python's str.strip also strips \x1c-\x1f.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_V4_PREFIX = b"\x00" * 10 + b"\xff\xff"


def _upper_rune(char: str) -> str:
    if "\ud800" <= char <= "\udfff":  # an undecodable byte: Go's case mapping makes it U+FFFD
        return "\ufffd"
    upper = char.upper()
    if len(upper) == 1:
        return upper
    title = char.title()  # the simple mapping, where Python's full mapping has several characters
    return title if len(title) == 1 else char


def _lower_rune(char: str) -> str:
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    lower = char.lower()
    return lower if len(lower) == 1 else "i"  # only U+0130 lowers to more than one character


def go_upper(text: str) -> str:
    """Go's ``strings.ToUpper``: ASCII fast, simple per-character Unicode mapping otherwise."""
    if text.isascii():
        return text.upper()
    return "".join([_upper_rune(char) for char in text])


def go_lower(text: str) -> str:
    """Go's ``strings.ToLower`` (per character, so no final-sigma rule)."""
    if text.isascii():
        return text.lower()
    return "".join([_lower_rune(char) for char in text])


def host_key(name: str) -> str:
    """The key of host indexes: equal for any two names that Go's case-insensitive host match finds equal."""
    return name.lower() if name.isascii() else go_lower(go_upper(name))


def ip16(text: str | None) -> bytes:
    """The 16-byte form of an IP address (IPv4 as ``::ffff:a.b.c.d``), ``b""`` if missing or invalid.

    Like Go's ``net.ParseIP``: dotted quads without leading zeros, IPv6 without a zone, no CIDR.
    """
    if not text:
        return b""
    try:
        if ":" in text:
            return socket.inet_pton(socket.AF_INET6, text)
        return _V4_PREFIX + socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        return b""


def _query_unescape(text: str) -> str | None:
    """Go's ``url.QueryUnescape``; ``None`` for a bad escape. Bytes that are not UTF-8 become surrogate escapes."""
    if "%" not in text:
        return text.replace("+", " ")
    if _BAD_ESCAPE.search(text):
        return None
    raw = unquote_to_bytes(text.replace("+", " ").encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "surrogateescape")


def _parse_query(raw: str) -> dict[str, str]:
    """Go's ``url.ParseQuery``, keeping the first value of each key."""
    params: dict[str, str] = {}
    for pair in raw.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        key_text, value_text = _query_unescape(key), _query_unescape(value)
        if key_text is None or value_text is None:
            continue
        params.setdefault(key_text, value_text)
    return params


def _parse_cookies(lines: Iterable[str]) -> dict[str, str]:
    """Go's ``readCookies`` over every Cookie line; the first cookie with a name wins."""
    jar: dict[str, str] = {}
    for line in lines:
        for part in line.split(";"):
            name, _, value = part.strip(GO_SPACE).partition("=")
            if not _TOKEN.fullmatch(name):
                continue
            if len(value) > 1 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            if _COOKIE_VALUE.fullmatch(value):
                jar.setdefault(name, value)
    return jar


def _header_map(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name.lower(), value)
    return first


@dataclass(slots=True)
class RequestFacts:
    """One request as conditions see it: raw fields set by an adapter, derived values computed on first use.

    Raw fields: ``host`` is the Host header including any port; ``path`` the decoded URL
    path; ``query`` the raw query without ``?``; ``uri`` the raw request-target (empty means
    ``path`` plus ``?query``); ``headers`` every header line in order; ``client_ip`` the
    client address (possibly from trusted proxy headers), ``remote_ip`` the socket peer,
    ``vip`` the address the request arrived on; ``session_proto`` the TLS session protocol
    (``https``, ``h2``); ``now`` the current time in epoch seconds (``X-Bfe-Debug-Time`` overrides
    it for the time conditions); ``response_*`` are ``None`` until there is a response.

    Derived (read-only) attributes: ``host_name``, ``host_upper``, ``host_lower`` (the key of
    host indexes: lower case of ``host_upper``), ``port``, ``method_upper``, ``path_upper``,
    ``url``, ``protocol``, ``query_params`` (first value per key), ``cookies``,
    ``header_map`` (lower-case name to first value), ``response_header_map`` (``None``
    without a response), ``client_ip16``, ``remote_ip16``, ``vip16`` (``b""`` when missing)
    and ``memo``, a per-request cache for condition primitives.
    """

    method: str = "GET"
    host: str = ""
    path: str = "/"
    query: str = ""
    uri: str = ""
    proto: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    client_ip: str | None = None
    remote_ip: str | None = None
    vip: str | None = None
    secure: bool = False
    session_proto: str | None = None
    tls_sni: str | None = None
    tls_client_auth: bool = False
    tls_client_ca: str | None = None
    trusted: bool = False
    host_tag: str | None = None
    product: str | None = None
    tags: dict[str, list[str]] = field(default_factory=dict)
    context: dict[str, object] = field(default_factory=dict)
    body: bytes | None = None
    response_code: int | None = None
    response_headers: list[tuple[str, str]] | None = None
    now: float = 0.0

    host_name: str = field(init=False, repr=False, compare=False)
    host_upper: str = field(init=False, repr=False, compare=False)
    host_lower: str = field(init=False, repr=False, compare=False)
    port: str = field(init=False, repr=False, compare=False)
    method_upper: str = field(init=False, repr=False, compare=False)
    path_upper: str = field(init=False, repr=False, compare=False)
    url: str = field(init=False, repr=False, compare=False)
    protocol: str = field(init=False, repr=False, compare=False)
    _query_params: dict[str, str] | None = field(init=False, default=None, repr=False, compare=False)
    _cookies: dict[str, str] | None = field(init=False, default=None, repr=False, compare=False)
    _header_map: dict[str, str] | None = field(init=False, default=None, repr=False, compare=False)
    _response_header_map: dict[str, str] | None = field(init=False, default=None, repr=False, compare=False)
    _client_ip16: bytes | None = field(init=False, default=None, repr=False, compare=False)
    _remote_ip16: bytes | None = field(init=False, default=None, repr=False, compare=False)
    _vip16: bytes | None = field(init=False, default=None, repr=False, compare=False)
    _memo: dict[object, object] | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _derive_line(self)

    @property
    def facts(self) -> RequestFacts:
        """The facts themselves: what reads a lazily built request reads these the same way."""
        return self

    @property
    def query_params(self) -> dict[str, str]:
        """The query parsed like Go's ``url.ParseQuery``, first value per key."""
        if self._query_params is None:
            self._query_params = _parse_query(self.query)
        return self._query_params

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies of every ``Cookie`` line, parsed like Go's ``readCookies`` (first wins)."""
        if self._cookies is None:
            self._cookies = _parse_cookies(value for name, value in self.headers if name.lower() == "cookie")
        return self._cookies

    @property
    def header_map(self) -> dict[str, str]:
        """Lower-case header name to its first value."""
        if self._header_map is None:
            self._header_map = _header_map(self.headers)
        return self._header_map

    @property
    def response_header_map(self) -> dict[str, str] | None:
        """Like :attr:`header_map` for the response; ``None`` while there is no response."""
        if self.response_headers is None and self.response_code is None:
            return None
        if self._response_header_map is None:
            self._response_header_map = _header_map(self.response_headers or ())
        return self._response_header_map

    @property
    def client_ip16(self) -> bytes:
        if self._client_ip16 is None:
            self._client_ip16 = ip16(self.client_ip)
        return self._client_ip16

    @property
    def remote_ip16(self) -> bytes:
        if self._remote_ip16 is None:
            self._remote_ip16 = ip16(self.remote_ip)
        return self._remote_ip16

    @property
    def vip16(self) -> bytes:
        if self._vip16 is None:
            self._vip16 = ip16(self.vip)
        return self._vip16

    @property
    def memo(self) -> dict[object, object]:
        """A per-request cache for condition primitives."""
        if self._memo is None:
            self._memo = {}
        return self._memo

    def header(self, name: str) -> str:
        """The first value of a request header (any case of ``name``), ``""`` when absent."""
        return self.header_map.get(name.lower(), "")

    def body_json(self, path: str) -> str:
        """The value at ``path`` in the JSON body, as BFE's ``gjson`` text (see :func:`json_path_value`)."""
        key = ("body_json", path)
        cached = self.memo.get(key)
        if isinstance(cached, str):
            return cached
        value = json_path_value(self.body, path)
        self.memo[key] = value
        return value

    @classmethod
    def from_vector(cls, request: Mapping[str, object], *, now: float = 0.0) -> RequestFacts:
        """Facts from the ``request`` object of a BFE condition test vector (``bfe.md`` §4)."""
        path = _text(request.get("path"), "/")
        query = _text(request.get("query"), "")
        headers = _header_items(request.get("headers"))
        cookies = request.get("cookies")
        if isinstance(cookies, Mapping) and cookies:
            headers.append(("Cookie", "; ".join(f"{name}={cookies[name]}" for name in sorted(cookies))))
        tls = request.get("tls")
        tls_state: Mapping[str, object] = tls if isinstance(tls, Mapping) else {}
        client_ip = _optional_text(request.get("client_ip"))
        remote_ip = _optional_text(request.get("remote_ip")) if "remote_ip" in request else client_ip
        body = request.get("body")
        encoded = request.get("body_base64")
        if isinstance(encoded, str) and body is None:
            body = base64.b64decode(encoded)
        response = request.get("response")
        facts = cls(
            method=_text(request.get("method"), "GET"),
            host=_text(request.get("host"), ""),
            path=path,
            query=query,
            uri=_text(request.get("uri"), path + ("?" + query if query else "")),
            proto=_text(request.get("proto"), "HTTP/1.1"),
            headers=headers,
            client_ip=client_ip,
            remote_ip=remote_ip,
            vip=_optional_text(request.get("vip")),
            secure=bool(request.get("secure", False)),
            session_proto=_optional_text(request.get("session_proto")),
            tls_sni=_optional_text(tls_state.get("sni")),
            tls_client_auth=bool(tls_state.get("client_auth", False)),
            tls_client_ca=_optional_text(tls_state.get("client_ca")),
            trusted=bool(request.get("trusted", False)),
            host_tag=_optional_text(request.get("host_tag")),
            product=_optional_text(request.get("product")),
            body=body.encode("utf-8", "surrogateescape")
            if isinstance(body, str)
            else body
            if isinstance(body, bytes)
            else None,
            now=now,
        )
        tags = request.get("tags")
        if isinstance(tags, Mapping):
            facts.tags = {str(name): [str(tag) for tag in _values(values)] for name, values in tags.items()}
        context = request.get("context")
        if isinstance(context, Mapping):
            facts.context = {str(key): value for key, value in context.items()}
        if isinstance(response, Mapping):
            code = response.get("code", 0)
            facts.response_code = code if isinstance(code, int) else int(str(code))
            facts.response_headers = _header_items(response.get("headers"))
        return facts


def _text(value: object, default: str) -> str:
    return default if value is None else str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def _values(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _header_items(headers: object) -> list[tuple[str, str]]:
    if not isinstance(headers, Mapping):
        return []
    return [(str(name), str(value)) for name, values in headers.items() for value in _values(values)]


def host_lower_of(host: str) -> str:
    """``RequestFacts.host_lower`` of a Host header: its name before any ``:``, lower-cased as Go does."""
    index = host.find(":")
    name = host if index < 0 else host[:index]
    return name.lower() if name.isascii() else go_lower(go_upper(name))


def _derive_line(facts: RequestFacts) -> None:
    """The cheap values of the request line, all at once: one slot miss instead of one per value."""
    host = facts.host
    index = host.find(":")
    name = host if index < 0 else host[:index]
    facts.host_name = name
    facts.port = host[index + 1 :] if index > 0 else "80"
    facts.host_upper = go_upper(name)
    facts.host_lower = name.lower() if name.isascii() else go_lower(facts.host_upper)
    facts.method_upper = go_upper(facts.method)
    facts.path_upper = go_upper(facts.path)
    facts.url = facts.uri or (facts.path + "?" + facts.query if facts.query else facts.path)
    facts.protocol = (facts.session_proto or "") if facts.secure else facts.proto


# Lazily derived values: read them in generated code with read_expr, which costs no call once cached.
LAZY_ATTRIBUTES = frozenset({"query_params", "cookies", "header_map", "client_ip16", "remote_ip16", "vip16"})


def read_expr(name: str) -> str:
    """An inline expression template (``{r}`` is the facts) reading a derived attribute.

    For a lazily derived value it reads the private slot and calls the property only when
    the slot is still empty (or holds an empty value), so a warm read is a plain slot read.
    """
    if name in LAZY_ATTRIBUTES:
        return f"({{r}}._{name} or {{r}}.{name})"
    return "{r}." + name
