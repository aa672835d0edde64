"""The canonical request: host, headers and client built once, and the same from every front.

The findings of the bypass audit each have a test here that failed before the request was
canonical: the WSGI path decoded twice (2), Host spellings that skipped the product table
and ``req_host_in`` (3), client-address and rewrite headers that reached the app from any
client (4). The properties check that the protecting server's scope, an ASGI server's
scope and a WSGI server's environ of the same raw request give the same canonical request.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.clock import ManualClock
from stockade.config import load_config
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.engine import AsyncGuard, Guard
from stockade.engine._async.ladder import AsyncLadder
from stockade.engine._sync.ladder import Ladder
from stockade.errors import BadRequest
from stockade.request.asgi import from_asgi
from stockade.request.headers import canonical_headers, proxy_only
from stockade.request.hosts import CanonicalHost, canonical_host
from stockade.request.incoming import Incoming
from stockade.request.paths import DEFAULT_POLICY
from stockade.request.wsgi import from_wsgi
from stockade.stores import MemoryStore
from tests.unit.test_canonical_path import PIECES

CLOCK = ManualClock(1_700_000_000.0)
UNTRUSTED = ClientIpResolver(TrustedProxies())
TRUSTED = ClientIpResolver(TrustedProxies(("127.0.0.0/8",)))


def scope(target: bytes, headers: list[tuple[bytes, bytes]], *, peer: str = "203.0.113.7") -> dict[str, Any]:
    """An ASGI scope as uvicorn (and the protecting server) make one: raw_path without the query."""
    raw_path, _, query = target.partition(b"?")
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "client": (peer, 40000),
        "server": ("127.0.0.1", 8080),
    }


def environ(target: bytes, headers: list[tuple[bytes, bytes]], *, peer: str = "203.0.113.7") -> dict[str, Any]:
    """A WSGI environ as gunicorn makes one: PATH_INFO decoded once, RAW_URI as sent."""
    raw_path, _, query = target.partition(b"?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": target.decode("latin-1"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": peer,
        "wsgi.url_scheme": "http",
    }
    for name, value in headers:
        key = {"content-type": "CONTENT_TYPE"}.get(name.decode(), "HTTP_" + name.decode().upper().replace("-", "_"))
        env[key] = (env[key] + "," if key in env else "") + value.decode("latin-1")
    return env


def asgi_request(target: bytes, headers: list[tuple[bytes, bytes]], **kwargs: Any) -> tuple[Incoming, dict[str, Any]]:
    built = scope(target, headers, **kwargs)
    return from_asgi(built, policy=DEFAULT_POLICY, resolver=UNTRUSTED, clock=CLOCK), built


def wsgi_request(target: bytes, headers: list[tuple[bytes, bytes]], **kwargs: Any) -> tuple[Incoming, dict[str, Any]]:
    built = environ(target, headers, **kwargs)
    return from_wsgi(built, policy=DEFAULT_POLICY, resolver=UNTRUSTED, clock=CLOCK), built


# -- finding 2: WSGI never decodes twice -------------------------------------------------------


def test_wsgi_uses_the_raw_target_and_hands_the_app_the_canonical_path() -> None:
    request, env = wsgi_request(b"/secure/x%252f..%252f..%252fpub", [(b"host", b"a.example")])
    assert request.path == "/secure/x%2f..%2f..%2fpub"
    assert env["PATH_INFO"] == "/secure/x%2f..%2f..%2fpub"
    assert env["RAW_URI"] == "/secure/x%252f..%252f..%252fpub"
    request, env = wsgi_request(b"/secure/%2e%2e/pub?a=%2e", [(b"host", b"a.example")])
    assert (request.path, env["PATH_INFO"], env["RAW_URI"]) == ("/pub", "/pub", "/pub?a=%2e")


def test_wsgi_without_a_raw_target_never_decodes_the_path_again() -> None:
    env = environ(b"/x", [(b"host", b"a.example")])
    del env["RAW_URI"]
    env["PATH_INFO"] = "/secure/x%2f..%2f..%2fpub"  # what the server decoded from %252f
    request = from_wsgi(env, policy=DEFAULT_POLICY, resolver=UNTRUSTED, clock=CLOCK)
    assert request.path == "/secure/x%2f..%2f..%2fpub"
    assert request.target == b"/secure/x%252f..%252f..%252fpub"


def test_wsgi_keeps_the_path_under_its_mount_point() -> None:
    env = environ(b"/app/../admin", [(b"host", b"a.example")])
    env["SCRIPT_NAME"] = "/app"
    with pytest.raises(BadRequest, match="mount point"):
        from_wsgi(env, policy=DEFAULT_POLICY, resolver=UNTRUSTED, clock=CLOCK)
    env = environ(b"/app/x/../page", [(b"host", b"a.example")])
    env["SCRIPT_NAME"] = "/app"
    request = from_wsgi(env, policy=DEFAULT_POLICY, resolver=UNTRUSTED, clock=CLOCK)
    assert (request.path, env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app/page", "/app", "/page")


# -- finding 3: one spelling of the host -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "host"),
    [
        (b"shop.example.com", CanonicalHost("shop.example.com")),
        (b"shop.example.com ", CanonicalHost("shop.example.com")),
        (b"\tshop.example.com \t", CanonicalHost("shop.example.com")),
        (b"SHOP.Example.COM.", CanonicalHost("shop.example.com")),
        (b"shop.example.com.:8080", CanonicalHost("shop.example.com", "8080")),
        (b"shop.example.com:", CanonicalHost("shop.example.com")),
        (b"[2001:DB8:0::1]:443", CanonicalHost("[2001:db8::1]", "443")),
        (b"192.0.2.1", CanonicalHost("192.0.2.1")),
        (b"", CanonicalHost("")),
    ],
)
def test_host_spellings(value: bytes, host: CanonicalHost) -> None:
    assert canonical_host(value) == host


@pytest.mark.parametrize(
    "value",
    [
        b"a..b",
        b".a",
        b"a b",
        b"a,b",
        b"a/b",
        b"a@b",
        b"a:b:c",
        b"a:99999",
        b"a:x",
        b"[::1",
        b"[zz]",
        b"\xc3\xa9.fr",
        b".",
    ],
)
def test_bad_hosts_are_refused(value: bytes) -> None:
    with pytest.raises(BadRequest):
        canonical_host(value)


def test_several_host_headers_are_refused() -> None:
    with pytest.raises(BadRequest, match="several Host headers"):
        canonical_headers([(b"host", b"a.example"), (b"host", b"b.example")], trusted=True)


RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {
                "Name": "static",
                "Cond": 'req_host_in("static.example.com") && req_path_prefix_in("/private", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            }
        ],
        "shop": [
            {
                "Name": "shop",
                "Cond": 'req_path_prefix_in("/shop-admin", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            }
        ],
    },
}


@pytest.fixture(scope="module")
def ladders(tmp_path_factory: pytest.TempPathFactory) -> tuple[AsyncLadder, Ladder]:
    base = tmp_path_factory.mktemp("canonical")
    (base / "rules.data").write_text(json.dumps(RULES))
    (base / "blocklist.data").write_text("")
    (base / "stockade.toml").write_text(
        '[block]\nrules = "rules.data"\nip_blocklist = "blocklist.data"\n'
        '[block.hosts]\n"shop.example.com" = "shop"\ndefault_product = "web"\n'
    )
    config = load_config(base / "stockade.toml")
    assert config.block is not None
    async_guard = AsyncGuard(config.guard_settings(), MemoryStore(), clock=CLOCK)
    guard = Guard(config.guard_settings(), MemoryStore(), clock=CLOCK)
    hosts = config.block.hosts
    return (
        AsyncLadder(async_guard, block=config.block.reloader(), hosts=hosts),
        Ladder(guard, block=config.block.reloader(), hosts=hosts),
    )


@pytest.mark.parametrize(
    ("host", "path"),
    [
        (spelling, path)
        for spelling in (b"shop.example.com ", b"shop.example.com\t", b"SHOP.example.com.", b"shop.example.com.:80")
        for path in (b"/shop-admin", b"/shop-admin/x")
    ]
    + [
        (spelling, b"/private/x")
        for spelling in (b"static.example.com.", b"static.example.com ", b"Static.Example.Com.:8080")
    ],
)
def test_every_spelling_of_a_host_meets_its_rules(
    ladders: tuple[AsyncLadder, Ladder], host: bytes, path: bytes
) -> None:
    async_ladder, ladder = ladders
    request, built = asgi_request(path, [(b"host", host)])
    assert asyncio.run(async_ladder.decide(request)).action == "close"
    assert dict(built["headers"])[b"host"] == request.host.encode()  # what the app receives
    request, env = wsgi_request(path, [(b"host", host)])
    assert ladder.decide(request).action == "close"
    assert env["HTTP_HOST"] == request.host


# -- finding 4: proxy-only headers from strangers ----------------------------------------------

SPOOFED = [
    (b"x-real-ip", b"6.6.6.6"),
    (b"x-client-ip", b"6.6.6.6"),
    (b"true-client-ip", b"6.6.6.6"),
    (b"cf-connecting-ip", b"6.6.6.6"),
    (b"x-forwarded-port", b"443"),
    (b"x-original-url", b"/admin"),
    (b"x-rewrite-url", b"/admin"),
    (b"x-forwarded-for", b"6.6.6.6"),
    (b"forwarded", b"for=6.6.6.6"),
    (b"x-forwarded-host", b"evil.example"),
    (b"x-forwarded-user", b"admin"),
    (b"x_real_ip", b"6.6.6.6"),
]


def test_proxy_only_headers_of_an_untrusted_peer_never_reach_the_app() -> None:
    headers = [(b"host", b"a.example"), (b"accept", b"*/*"), *SPOOFED]
    request, built = asgi_request(b"/", list(headers))
    assert built["headers"] == [(b"host", b"a.example"), (b"accept", b"*/*")]
    assert request.header("x-real-ip") == ""
    request, env = wsgi_request(b"/", list(headers))
    assert not [key for key in env if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_ACCEPT")]
    assert env["REMOTE_ADDR"] == "203.0.113.7"


def test_a_trusted_proxy_keeps_its_headers_and_names_the_client() -> None:
    headers = [(b"host", b"a.example"), (b"x-forwarded-for", b"6.6.6.6, 198.51.100.4"), (b"x-real-ip", b"198.51.100.4")]
    built = scope(b"/", list(headers), peer="127.0.0.1")
    request = from_asgi(built, policy=DEFAULT_POLICY, resolver=TRUSTED, clock=CLOCK)
    assert request.client == "198.51.100.4"
    assert built["headers"] == headers
    assert built["client"] == ("198.51.100.4", 0)
    env = environ(b"/", list(headers), peer="127.0.0.1")
    request = from_wsgi(env, policy=DEFAULT_POLICY, resolver=TRUSTED, clock=CLOCK)
    assert (request.client, env["REMOTE_ADDR"], env["HTTP_X_REAL_IP"]) == (
        "198.51.100.4",
        "198.51.100.4",
        "198.51.100.4",
    )


def test_which_headers_only_a_proxy_may_send() -> None:
    for name in (b"X-Real-IP", b"x_forwarded_for", b"X-Original-URL", b"Remote-User", b"CF-Connecting-IP"):
        assert proxy_only(name)
    for name in (b"host", b"user-agent", b"x-requested-with", b"authorization", b"cookie", b"x-forwarded"):
        assert proxy_only(name) is (name == b"x-forwarded")


# -- every front, the same request -------------------------------------------------------------

TARGETS = st.lists(st.lists(PIECES, max_size=3).map(b"".join), max_size=5).map(lambda s: b"/" + b"/".join(s))
HOSTS = st.sampled_from([b"shop.example.com", b"SHOP.example.com. ", b"a.example:8080", b"bad host", b"", b"[::1]"])
EXTRA = st.lists(st.sampled_from([*SPOOFED, (b"accept", b"*/*"), (b"user-agent", b"x")]), max_size=3)


@given(TARGETS, st.sampled_from([b"", b"?a=1", b"?x=%2e%2e/"]), HOSTS, EXTRA)
def test_the_same_raw_request_gives_the_same_canonical_request_everywhere(
    path: bytes, query: bytes, host: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [(b"host", host), *extra]
    outcomes = []
    for build in (asgi_request, wsgi_request):
        try:
            request, _ = build(path + query, list(headers))
        except BadRequest as exc:
            outcomes.append(("refused", str(exc)))
            continue
        outcomes.append(("ok", (request.path, request.target, request.query, request.host, request.client)))
    assert outcomes[0] == outcomes[1]


def test_the_ladders_decide_alike(ladders: tuple[AsyncLadder, Ladder]) -> None:
    async_ladder, ladder = ladders
    for target in (b"/shop-admin", b"/shop-admin/..", b"/pub/%2e%2e/shop-admin", b"/private/x", b"/pub"):
        for host in (b"shop.example.com ", b"static.example.com.", b"www.example.com"):
            a, _ = asgi_request(target, [(b"host", host)])
            w, _ = wsgi_request(target, [(b"host", host)])
            assert asyncio.run(async_ladder.decide(a)).action == ladder.decide(w).action, (target, host)


def test_the_path_reaches_the_scope(tmp_path: Path) -> None:
    request, built = asgi_request(b"/secure/%2e%2e/a%20b", [(b"host", b"a.example")])
    assert (built["raw_path"], built["path"]) == (b"/a%20b", "/a b")
    assert (request.target, request.path) == (b"/a%20b", "/a b")
