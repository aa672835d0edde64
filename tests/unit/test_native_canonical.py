"""The native canonical request against its pure-Python oracle (:mod:`stockade.oracle`).

Differential tests (hypothesis): every piece (path, decoded path, host, header list,
proxy-only names, client-IP resolution) and the whole request of an ASGI scope and a WSGI
environ give the same answer both ways, or the same refusal with the same reason; the
scope or environ afterwards is the same too, and a refused request leaves it untouched.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import stockade.config  # noqa: F401  (loads stockade.server.settings without an import cycle)
from stockade import _native
from stockade._native import CanonicalRequest
from stockade.core.client_ip import ClientIp, ClientIpResolver, TrustedProxies
from stockade.errors import BadRequest, InvalidArgument
from stockade.oracle import client_ip as oracle_client_ip
from stockade.oracle import fronts, headers, hosts, paths
from stockade.request.headers import PROXY_ONLY, canonical_headers, proxy_only
from stockade.request.hosts import canonical_host
from stockade.request.paths import PathPolicy, canonical_decoded_path, canonical_path
from tests.unit.test_canonical_path import PIECES
from tests.unit.test_client_ip import _PAIR, _PEERS, TRUSTED

POLICIES = st.sampled_from(
    [PathPolicy(), PathPolicy(escaped_slashes="keep"), PathPolicy(merge_slashes=False), PathPolicy(False, "keep")]
)


def outcome(call: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``("refused", reason)``; a native result without the
    :class:`CanonicalRequest` it ends with (the oracle has none)."""
    try:
        result = call(*args, **kwargs)
    except BadRequest as exc:
        return "refused", exc.reason
    if isinstance(result, tuple) and result and isinstance(result[-1], CanonicalRequest):
        result = result[:-1]
    return "ok", result


# -- the path --------------------------------------------------------------------------------

SEGMENT = st.lists(PIECES, max_size=3).map(b"".join)
RAW_PATHS = st.one_of(
    st.lists(SEGMENT, max_size=7).map(lambda s: b"/" + b"/".join(s)),
    st.binary(max_size=40).map(lambda b: b"/" + b),
    st.binary(max_size=20),
    st.sampled_from([b"*", b"", b"/", b"//", b"/.", b"/..", b"/%", b"/%2", b"/a%4"]),
)


@given(RAW_PATHS, POLICIES)
@example(b"/../a%00", PathPolicy())
@example(b"/a%2f.;x", PathPolicy(escaped_slashes="keep"))
@settings(max_examples=600, deadline=None)
def test_paths(raw: bytes, policy: PathPolicy) -> None:
    assert outcome(canonical_path, raw, policy) == outcome(paths.canonical_path, raw, policy)


DECODED = st.one_of(
    st.lists(st.sampled_from(["a", "/", "%2f", "%", ".", "..", "\\", "\x00", "\u00e9", " ", ";", "\udce9", "?"])).map(
        "".join
    ),
    st.text(max_size=30),
)


@given(DECODED, POLICIES)
@settings(max_examples=400, deadline=None)
def test_decoded_paths(path: str, policy: PathPolicy) -> None:
    assert outcome(canonical_decoded_path, path, policy) == outcome(paths.canonical_decoded_path, path, policy)


def test_a_canonical_path_is_handed_back_as_it_came() -> None:
    raw = b"/products/shoes/42"
    target, _ = _native.canonical_path(raw)
    assert target is raw


def test_bad_policies_are_named() -> None:
    with pytest.raises(InvalidArgument, match="escaped_slashes"):
        _native.canonical_path(b"/", True, "decode")
    with pytest.raises(InvalidArgument, match="forwarding header 'x-client-ip'"):
        _native.Canonicalizer(header="x-client-ip")


# -- the host ---------------------------------------------------------------------------------

HOST_PIECES = st.sampled_from(
    [
        b"shop.example.com",
        b"SHOP.Example.COM",
        b"a",
        b".",
        b"..",
        b"-",
        b"_",
        b":",
        b":80",
        b":080",
        b":65536",
        b":99999",
        b":x",
        b" ",
        b"\t",
        b"[",
        b"]",
        b"[::1]",
        b"[::ffff:1.2.3.4]",
        b"[::1.2.3.4]",
        b"[2001:DB8:0::1]",
        b"[fe80::1%eth0]",
        b"[1:0:0:2:0:0:0:3]",
        b"192.0.2.1",
        b"\xc3\xa9",
        b"@",
        b"a" * 250,
    ]
)
HOSTS = st.one_of(st.lists(HOST_PIECES, max_size=4).map(b"".join), st.binary(max_size=30))


@given(HOSTS)
@settings(max_examples=500, deadline=None)
def test_hosts(value: bytes) -> None:
    native = outcome(canonical_host, value)
    assert native == outcome(hosts.canonical_host, value)
    if native[0] == "ok":  # a canonical host is its own canonical form
        assert canonical_host(native[1].header.encode()) == native[1]


@pytest.mark.parametrize("value", [b"static.example.com..", b"static.example.com..:80", b"a...", b".."])
def test_a_host_with_an_empty_last_label_is_refused(value: bytes) -> None:
    # Found by fuzzing: "a.." lost one dot and kept the other, so "static.example.com." met no
    # rule for static.example.com while a backend reads both as the same site.
    with pytest.raises(BadRequest, match="not a host name"):
        canonical_host(value)


# -- the header list ---------------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        b"host",
        b"Host",
        b"HOST",
        b"accept",
        b"user-agent",
        b"x-real-ip",
        b"X-Real-IP",
        b"x_real_ip",
        b"X_FORWARDED_FOR",
        b"forwarded",
        b"x-original-url",
        b"x-forwarded",
        b"x-forwarded-preferred-username",
        b"remote-user",
        b"x-requested-with",
        b"hos",
    ]
)
LINES = st.lists(st.tuples(NAMES, st.one_of(HOSTS, st.just(b"6.6.6.6"))), max_size=5)


@given(LINES, st.booleans())
@settings(max_examples=500, deadline=None)
def test_header_lists(lines: list[tuple[bytes, bytes]], trusted: bool) -> None:
    native = outcome(canonical_headers, lines, trusted=trusted)
    assert native == outcome(headers.canonical_headers, lines, trusted=trusted)
    if native[0] == "ok" and native[1][0] == lines:
        assert native[1][0] is lines  # unchanged: the list given, not a copy


def test_proxy_only_names() -> None:
    assert headers.PROXY_ONLY == PROXY_ONLY  # written twice, in Rust and in the oracle
    for name in PROXY_ONLY:
        for spelling in (name, name.upper(), name.replace(b"-", b"_"), name.title()):
            assert proxy_only(spelling)
            assert headers.proxy_only(spelling)


@given(st.one_of(NAMES, st.binary(max_size=35), st.sampled_from(sorted(PROXY_ONLY)).map(lambda n: n[:-1])))
def test_proxy_only(name: bytes) -> None:
    assert proxy_only(name) == headers.proxy_only(name)


# -- the client IP -----------------------------------------------------------------------------

HEADERS_CONFIGURED = st.sampled_from(["x-forwarded-for", "forwarded", "x-real-ip"])


def resolvers(header: str) -> tuple[ClientIpResolver, oracle_client_ip.ClientIpResolver]:
    trust = TrustedProxies(TRUSTED, header)
    return ClientIpResolver(trust), oracle_client_ip.ClientIpResolver(trust)


@given(_PEERS, st.lists(_PAIR, min_size=1, max_size=5), HEADERS_CONFIGURED)
@settings(max_examples=500, deadline=None)
def test_client_resolution(peer: str, pairs: list[tuple[bytes, str]], header: str) -> None:
    raw = [(name, value.encode("latin-1", "replace")) for name, value in pairs]
    native, oracle = resolvers(header)
    assert native.resolve(peer, raw) == oracle.resolve(peer, raw)


FORWARDING_NAMES = st.sampled_from([b"x-forwarded-for", b"forwarded", b"x-real-ip", b"X-Real-Ip", b"host"])
PEERS = st.one_of(
    _PEERS,
    st.sampled_from(["", " 10.0.0.1 ", "fe80::1%eth0", "fe80::1%", "fe80::1%a b", "::1%lo", "unix:/x", "1.2.3.4%x"]),
)


@given(PEERS, st.lists(st.tuples(FORWARDING_NAMES, st.binary(max_size=50)), max_size=4), HEADERS_CONFIGURED)
@settings(max_examples=500, deadline=None)
@example("10.0.0.1", [(b"x-forwarded-for", b"fe80::1%\xe9")], "x-forwarded-for")
@example("10.0.0.1", [(b"forwarded", b"for=\xc0;by=x, for=1.2.3.4")], "forwarded")
def test_client_resolution_of_any_bytes(peer: str, lines: list[tuple[bytes, bytes]], header: str) -> None:
    native, oracle = resolvers(header)
    assert native.resolve(peer, lines) == oracle.resolve(peer, lines)


def test_client_ip_is_a_value() -> None:
    one = ClientIp("203.0.113.5", "10.0.0.1", trusted=True, header="x-forwarded-for", forwarded=True)
    same = ClientIp("203.0.113.5", "10.0.0.1", True, "x-forwarded-for", True)
    assert one == same
    assert hash(one) == hash(same)
    assert one != ClientIp("203.0.113.5", "10.0.0.1")
    assert one != ("203.0.113.5",)
    assert repr(ClientIp("a", "b")) == "ClientIp(address='a', peer='b', trusted=False, header=None, forwarded=False)"


def test_a_normal_peer_is_handed_back_as_it_came() -> None:
    peer = "".join(["203.0.113.", "7"])  # a fresh str object
    found = ClientIpResolver(TrustedProxies()).resolve(peer, [])
    assert found.address is peer
    assert found.peer is peer


# -- the whole request: ASGI -------------------------------------------------------------------

TARGETS = st.lists(SEGMENT, max_size=5).map(lambda s: b"/" + b"/".join(s))
QUERIES = st.sampled_from([b"", b"?a=1", b"?x=%2e%2e/", b"?\xe9=1"])
SCOPE_HOSTS = st.sampled_from(
    [b"shop.example.com", b"SHOP.example.com. ", b"a.example:8080", b"bad host", b"", b"[::1]"]
)
EXTRA = st.lists(
    st.sampled_from(
        [
            (b"x-real-ip", b"6.6.6.6"),
            (b"x-forwarded-for", b"6.6.6.6, 198.51.100.4"),
            (b"forwarded", b"for=198.51.100.9"),
            (b"x_real_ip", b"6.6.6.6"),
            (b"x-original-url", b"/admin"),
            (b"accept", b"*/*"),
            (b"host", b"other.example"),
        ]
    ),
    max_size=3,
)
SCOPE_PEERS = st.sampled_from(["203.0.113.7", "127.0.0.1", "::ffff:127.0.0.1", "::1", "unix", None])


def make_scope(
    target: bytes, query: bytes, host: bytes | None, extra: list[tuple[bytes, bytes]], peer: str | None, raw: str
) -> dict[str, Any]:
    """A scope as servers make one; ``raw`` says what ``raw_path`` holds (``none`` for no ``raw_path``)."""
    lines = ([(b"host", host)] if host is not None else []) + extra
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target.decode("latin-1"),
        "query_string": query[1:],
        "headers": lines,
        "client": (peer, 40000) if peer is not None else None,
        "server": ("127.0.0.1", 8080),
    }
    if raw == "path":
        scope["raw_path"] = target
    elif raw == "with query":
        scope["raw_path"] = target + query
    return scope


@given(
    TARGETS,
    QUERIES,
    st.one_of(st.none(), SCOPE_HOSTS),
    EXTRA,
    SCOPE_PEERS,
    st.sampled_from(["none", "path", "with query"]),
    st.booleans(),
    st.sampled_from(["1.1", "1.0", "2"]),
)
@settings(max_examples=400, deadline=None)
def test_asgi_scopes(
    target: bytes,
    query: bytes,
    host: bytes | None,
    extra: list[tuple[bytes, bytes]],
    peer: str | None,
    raw: str,
    require_host: bool,
    version: str,
) -> None:
    scope = make_scope(target, query, host, extra, peer, raw)
    scope["http_version"] = version
    native_scope, oracle_scope = copy.deepcopy(scope), copy.deepcopy(scope)
    trust = TrustedProxies(("127.0.0.0/8", "::1"))
    canonicalizer = ClientIpResolver(trust).canonicalizer(PathPolicy())
    native = outcome(canonicalizer.asgi, native_scope, require_host)
    oracle = outcome(
        fronts.asgi, oracle_scope, PathPolicy(), oracle_client_ip.ClientIpResolver(trust), require_host=require_host
    )
    assert native == oracle
    if native[0] == "ok":
        assert native_scope == oracle_scope
    else:
        assert native_scope == scope  # refused: nothing written


def test_an_ordinary_scope_is_left_as_it_came() -> None:
    lines = [(b"host", b"www.example.com"), (b"accept", b"*/*")]
    scope = make_scope(b"/products/42", b"?a=1", None, lines, "203.0.113.7", raw="path")
    kept = dict(scope)
    path, target, *_ = ClientIpResolver(TrustedProxies()).canonicalizer(PathPolicy()).asgi(scope)
    assert all(scope[key] is kept[key] for key in kept)  # nothing rewritten, not even with equal objects
    assert path is kept["path"]
    assert target is kept["raw_path"]


# -- the whole request: WSGI -------------------------------------------------------------------

ENV_EXTRA = st.dictionaries(
    st.sampled_from(
        [
            "HTTP_X_REAL_IP",
            "HTTP_X_FORWARDED_FOR",
            "HTTP_FORWARDED",
            "HTTP_X_ORIGINAL_URL",
            "HTTP_ACCEPT",
            "HTTP_x_real_ip",
            "HTTP_REMOTE_USER",
            "HTTP_X-REAL-IP",
        ]
    ),
    st.sampled_from(["6.6.6.6", "6.6.6.6, 198.51.100.4", "for=198.51.100.9", "*/*"]),
    max_size=3,
)


@given(
    TARGETS,
    st.sampled_from(["", "a=1", "x=%2e%2e/", "\xe9=1"]),
    st.one_of(st.none(), SCOPE_HOSTS.map(lambda h: h.decode("latin-1"))),
    ENV_EXTRA,
    st.sampled_from(["203.0.113.7", "127.0.0.1", "::ffff:127.0.0.1", "", "unix"]),
    st.sampled_from(["RAW_URI", "REQUEST_URI", "both", "none", "absolute"]),
    st.sampled_from(["", "/app", "/app/", "/"]),
)
@settings(max_examples=400, deadline=None)
def test_wsgi_environs(
    target: bytes, query: str, host: str | None, extra: dict[str, str], peer: str, raw: str, script: str
) -> None:
    sent = target.decode("latin-1") + ("?" + query if query else "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": script,
        "PATH_INFO": re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), target.decode("latin-1")),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": peer,
        "wsgi.url_scheme": "http",
        **extra,
    }
    if raw in ("RAW_URI", "both"):
        environ["RAW_URI"] = sent
    if raw in ("REQUEST_URI", "both"):
        environ["REQUEST_URI"] = sent
    if raw == "absolute":
        environ["RAW_URI"] = "http://a.example" + sent
    if host is not None:
        environ["HTTP_HOST"] = host
    native_env, oracle_env = dict(environ), dict(environ)
    trust = TrustedProxies(("127.0.0.0/8",))
    canonicalizer = ClientIpResolver(trust).canonicalizer(PathPolicy())
    native = outcome(canonicalizer.wsgi, native_env)
    oracle = outcome(fronts.wsgi, oracle_env, PathPolicy(), oracle_client_ip.ClientIpResolver(trust))
    assert native == oracle
    if native[0] == "ok":
        assert native_env == oracle_env
    else:
        assert native_env == environ  # refused: nothing written


def test_wsgi_refusals_name_the_mount_point() -> None:
    environ = {"SCRIPT_NAME": "/app", "PATH_INFO": "/../admin", "REMOTE_ADDR": "203.0.113.7"}
    canonicalizer = ClientIpResolver(TrustedProxies()).canonicalizer(PathPolicy())
    with pytest.raises(BadRequest) as info:
        canonicalizer.wsgi(dict(environ))
    assert info.value.reason == "the path leaves the application's mount point"


# -- production calls native -------------------------------------------------------------------


def test_production_never_imports_the_oracle() -> None:
    source = Path(paths.__file__).parents[1]
    imports = re.compile(r"^\s*(from stockade\.oracle|import stockade\.oracle|from stockade import oracle)", re.M)
    for module in source.rglob("*.py"):
        if "oracle" not in module.relative_to(source).parts:
            assert not imports.search(module.read_text(encoding="utf-8")), module
