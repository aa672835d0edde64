"""Stockade deciding for the real nginx (``auth_request``), Caddy (``forward_auth``) and HAProxy (Lua).

Each test runs the three parts as a site would: the upstream application, the proxy on a
loopback port, and stockade's decision endpoint (in-process, on a manual clock). The
clients connect from other loopback addresses (127.0.0.2, 127.0.0.3) than the proxy's
(127.0.0.1), as real clients do. The proxies' configurations are read from docs/decision.md,
as a user copies them, with the tests' ports put in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stockade.clock import ManualClock
from stockade.server.native import NativeServer
from stockade.server.testing import ServerThread
from tests.integration.proxies import Caddy, Haproxy, Nginx, Upstream, ask, free_port

ROOT = Path(__file__).resolve().parents[2]
LUA = ROOT / "examples" / "haproxy" / "stockade.lua"
DOCS = ROOT / "docs" / "decision.md"

RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {"Name": "old", "Cond": 'req_path_prefix_in("/old", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
            {
                "Name": "shop_admin",
                "Cond": 'req_host_in("shop.example.com") && req_path_prefix_in("/admin", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            },
        ]
    },
}
GOOD = "Basic " + base64.b64encode(b"alice:wonderland").decode()
BAD = "Basic " + base64.b64encode(b"alice:guess").decode()


def stockade_config(base: Path, extra: str = "") -> Path:
    sha1 = base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
    (base / "users.htpasswd").write_text(f"alice:{{SHA}}{sha1}\n")
    (base / "rules.data").write_text(json.dumps(RULES))
    (base / "ips.data").write_text("")
    path = base / "stockade.toml"
    path.write_text(
        """
[server]
listen = []
[store]
url = "memory://"
[decision]
listen = "127.0.0.1:0"
proxies = ["127.0.0.1"]
[bans]
malicious_req_threshold = 3
block_duration = 600
[block]
rules = "rules.data"
ip_blocklist = "ips.data"
watch = false
[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
auth_name = "Secure Area"
max_retries = 2
block_time = 1
"""
        + extra
    )
    return path


def documented(language: str, after: str) -> str:
    """The first ``language`` block of docs/decision.md after the heading ``after``, as a user copies it."""
    text = DOCS.read_text().split(f"\n## {after}\n", 1)[1]
    return text.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def placed(text: str, **replacements: str) -> str:
    """``text`` with each documented value replaced by the test's (each must be there)."""
    for old, new in replacements.items():
        assert old in text, f"docs/decision.md changed: no {old!r} in its example"
        text = text.replace(old, new)
    return text


def nginx_site(port: int, decision: int, upstream: int) -> str:
    """The nginx configuration of docs/decision.md, on the test's ports (the body of ``http``)."""
    return placed(
        documented("nginx", "nginx (`auth_request`)"),
        **{
            "listen 80;": f"listen 127.0.0.1:{port};",
            "server 127.0.0.1:9190;": f"server 127.0.0.1:{decision};",
            "proxy_pass http://127.0.0.1:8000;": f"proxy_pass http://127.0.0.1:{upstream};",
        },
    )


def caddy_site(port: int, decision: int, upstream: int) -> str:
    """The Caddyfile of docs/decision.md, on the test's ports and without automatic HTTPS."""
    return placed(
        documented("caddyfile", "Caddy (`forward_auth`)"),
        **{
            "example.com {": f"http://:{port} {{\n\tbind 127.0.0.1",
            "127.0.0.1:9190": f"127.0.0.1:{decision}",
            "127.0.0.1:8000": f"127.0.0.1:{upstream}",
        },
    )


def haproxy_site(port: int, decision: int, upstream: int) -> str:
    """The HAProxy configuration of docs/decision.md, with the project's Lua action, on the test's ports."""
    return placed(
        documented("haproxy", "HAProxy"),
        **{
            "lua-load /etc/haproxy/stockade.lua": f"lua-load {LUA}",
            "bind :80": f"bind 127.0.0.1:{port}",
            "http://127.0.0.1:9190/forward": f"http://127.0.0.1:{decision}/forward",
            "127.0.0.1:8000": f"127.0.0.1:{upstream}",
        },
    )


@dataclass
class Stack:
    proxy: str
    port: int
    stockade: ServerThread
    clock: ManualClock


@pytest.fixture(params=["nginx", "caddy", "haproxy"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    clock = ManualClock(1_800_000_000.0)
    with Upstream() as upstream, ServerThread(stockade_config(tmp_path), clock=clock) as stockade:
        port = free_port()
        if request.param == "nginx":
            with Nginx(tmp_path / "nginx", nginx_site(port, stockade.decision_port, upstream.port)):
                yield Stack("nginx", port, stockade, clock)
        elif request.param == "caddy":
            with Caddy(tmp_path / "caddy", caddy_site(port, stockade.decision_port, upstream.port)):
                yield Stack("caddy", port, stockade, clock)
        else:
            with Haproxy(tmp_path / "haproxy", haproxy_site(port, stockade.decision_port, upstream.port)):
                yield Stack("haproxy", port, stockade, clock)


def upstream_headers(body: bytes) -> dict[str, str]:
    return {name.lower(): value for name, value in json.loads(body)["headers"].items()}


def test_a_clean_request_reaches_the_upstream_with_the_client_stockade_decided_on(stack: Stack) -> None:
    status, _headers, body = ask(stack.port, "/hello?x=1")
    assert status == 200
    told = upstream_headers(body)
    assert told["x-stockade-client-ip"] == "127.0.0.2"
    assert told["x-stockade-decision-id"]
    assert stack.stockade.app.metrics.request_counts()["allowed"] == 1


def test_lockout_challenges_then_blocks_the_user(stack: Stack) -> None:
    status, headers, _ = ask(stack.port, "/secure/")
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="Secure Area", charset="UTF-8"'
    assert ask(stack.port, "/secure/", headers={"Authorization": GOOD})[0] == 200
    for _ in range(2):
        assert ask(stack.port, "/secure/", headers={"Authorization": BAD})[0] == 401
    # alice is blocked: her right password is refused, from any address, until the block ends.
    assert ask(stack.port, "/secure/", headers={"Authorization": GOOD})[0] == 403
    assert ask(stack.port, "/secure/x", source="127.0.0.3", headers={"Authorization": GOOD})[0] == 403
    stack.clock.advance(61)
    assert ask(stack.port, "/secure/", headers={"Authorization": GOOD})[0] == 200


def test_probes_ban_the_client_with_retry_after(stack: Stack) -> None:
    for probe in ("/.env", "/.git/config", "/wp-login.php"):
        assert ask(stack.port, probe)[0] == 200  # the probes themselves go on, as in Phx2Ban
    status, headers, _ = ask(stack.port, "/hello")
    assert status == 403
    assert headers["retry-after"] == "600"
    assert ask(stack.port, "/hello", source="127.0.0.3")[0] == 200
    stack.clock.advance(601)
    assert ask(stack.port, "/hello")[0] == 200


def test_mod_block_rules_refuse_with_403(stack: Stack) -> None:
    assert ask(stack.port, "/old/page")[0] == 403  # CLOSE: a proxy cannot be told to drop the connection
    assert ask(stack.port, "/admin/", headers={"Host": "Shop.Example.COM"})[0] == 403
    assert ask(stack.port, "/admin/", headers={"Host": "blog.example.com"})[0] == 200
    counters = stack.stockade.app.block_counters()
    assert counters["mod_block_REQ_REFUSE"] == 2


def test_forwarding_headers_from_clients_are_ignored(stack: Stack) -> None:
    spoofed = {
        "X-Forwarded-For": "9.9.9.9",
        "X-Real-IP": "9.9.9.9",
        "Forwarded": "for=9.9.9.9",
        # What the proxy tells the upstream: replaced by the proxy, never the client's own.
        "X-Stockade-Client-IP": "9.9.9.9",
        "X-Stockade-Decision-ID": "forged",
        # Each proxy's own question headers, sent by the client: the proxy overrides its own,
        # and stockade reads only the style's, so none of these changes what is decided.
        "X-Original-URI": "/.env",
        "X-Original-Method": "OPTIONS",
        "X-Forwarded-Uri": "/.env",
        "X-Forwarded-Method": "OPTIONS",
        "X-Original-URL": "http://example.com/.env",
    }
    for _ in range(4):
        status, _headers, body = ask(stack.port, "/hello", headers=spoofed)
        assert status == 200
        told = upstream_headers(body)
        assert told["x-stockade-client-ip"] == "127.0.0.2"
        assert told["x-stockade-decision-id"] != "forged"
    for probe in ("/.env", "/.git/config", "/wp-login.php"):
        ask(stack.port, probe, headers={"X-Forwarded-For": "9.9.9.9"})
    assert ask(stack.port, "/hello", headers={"X-Forwarded-For": "198.51.100.1"})[0] == 403  # the real client
    assert ask(stack.port, "/hello", source="127.0.0.3", headers={"X-Forwarded-For": "127.0.0.2"})[0] == 200


def test_the_decision_endpoint_refuses_callers_that_are_not_proxies(stack: Stack) -> None:
    status, _headers, body = ask(
        stack.stockade.decision_port,
        "/nginx",
        headers={"X-Original-URI": "/", "X-Original-Method": "GET", "X-Forwarded-For": "203.0.113.7"},
    )
    assert (status, body) == (403, b"Forbidden")
    assert stack.stockade.app.metrics.exposition().count(b'stockade_decisions_total{outcome="caller_refused"} 1.0') == 1


def test_a_proxy_calling_from_another_address_is_refused(tmp_path: Path) -> None:
    clock = ManualClock(1_800_000_000.0)
    with Upstream() as upstream, ServerThread(stockade_config(tmp_path), clock=clock) as stockade:
        port = free_port()
        site = nginx_site(port, stockade.decision_port, upstream.port).replace(
            "proxy_pass http://stockade/nginx;", "proxy_pass http://stockade/nginx;\n      proxy_bind 127.0.0.5;"
        )
        with Nginx(tmp_path / "nginx", site):
            assert ask(port, "/hello")[0] == 403
        assert stockade.app.metrics.exposition().count(b'stockade_decisions_total{outcome="caller_refused"} 1.0') == 1


def test_haproxy_refuses_when_stockade_cannot_be_asked(tmp_path: Path) -> None:
    with Upstream() as upstream:
        port, nobody = free_port(), free_port()  # nothing listens on ``nobody``
        with Haproxy(tmp_path / "haproxy", haproxy_site(port, nobody, upstream.port)):
            status, _headers, body = ask(port, "/hello")
    # HAProxy's HTTP client answers 503 itself when it cannot connect; the upstream is never asked.
    assert status == 503
    assert b'"path"' not in body


def test_haproxy_never_passes_a_clients_own_forwarded_header(tmp_path: Path) -> None:
    # Misconfigured to read Forwarded, which the Lua action does not set: every check names no
    # client and is refused, rather than a client's own Forwarded naming whom it likes.
    config = stockade_config(tmp_path)
    config.write_text(
        config.read_text().replace('proxies = ["127.0.0.1"]', 'proxies = ["127.0.0.1"]\nclient_header = "forwarded"')
    )
    with Upstream() as upstream, ServerThread(config, clock=ManualClock(1_800_000_000.0)) as stockade:
        port = free_port()
        with Haproxy(tmp_path / "haproxy", haproxy_site(port, stockade.decision_port, upstream.port)):
            for spoofed in ("for=9.9.9.9", 'for="[2001:db8::1]"'):
                assert ask(port, "/hello", headers={"Forwarded": spoofed})[0] == 400
            assert ask(port, "/hello", headers={"X-Real-IP": "9.9.9.9"})[0] == 400


def test_the_native_front_serves_the_decision_listener(tmp_path: Path) -> None:
    # The check requests are read and answered by the front: its counters see them.
    with ServerThread(stockade_config(tmp_path), clock=ManualClock(1_800_000_000.0)) as stockade:
        check = {"X-Original-URI": "/", "X-Original-Method": "GET", "X-Forwarded-For": "203.0.113.7"}
        assert ask(stockade.decision_port, "/nginx", source="127.0.0.1", headers=check)[0] == 200
        assert ask(stockade.decision_port, "/nginx", source="127.0.0.1", headers={"Host": "x"})[0] == 400
        front = stockade.app.front_stats
        assert front is not None
        # The front counts a response once it is written, which may be after the client read it.
        deadline = time.monotonic() + 10
        while (counts := front())["responses_4xx"] == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert (counts["requests"], counts["responses_2xx"], counts["responses_4xx"]) == (2, 1, 1)
        assert stockade.app.metrics.exposition().count(b'stockade_decisions_total{outcome="allowed"} 1.0') == 1


@pytest.mark.parametrize("proxy", ["nginx", "caddy", "haproxy"])
def test_the_native_ladder_answers_each_proxy_as_the_decision_point_does(tmp_path: Path, proxy: str) -> None:
    # On the system's clock the native front decides the usual check request in Rust: a
    # clean request and a banned client never reach the Python decision point, and each
    # proxy understands the answers (the client and the decision id for the upstream; 403
    # with Retry-After for the ban). The probes themselves are detection hits: Python's.
    with Upstream() as upstream, ServerThread(stockade_config(tmp_path)) as stockade:
        server = stockade.server
        assert isinstance(server, NativeServer)
        assert server.front is not None
        port = free_port()
        site = {"nginx": nginx_site, "caddy": caddy_site, "haproxy": haproxy_site}[proxy]
        kind = {"nginx": Nginx, "caddy": Caddy, "haproxy": Haproxy}[proxy]
        with kind(tmp_path / proxy, site(port, stockade.decision_port, upstream.port)):
            status, _headers, body = ask(port, "/hello?x=1")
            assert status == 200
            told = upstream_headers(body)
            assert told["x-stockade-client-ip"] == "127.0.0.2"
            assert told["x-stockade-decision-id"]
            assert server.front.check_counts()[0] >= 1
            for probe in ("/.env", "/.git/config", "/wp-login.php"):
                assert ask(port, probe)[0] == 200
            status, headers, _ = ask(port, "/hello")
            assert status == 403
            assert 599 <= int(headers["retry-after"]) <= 600
            assert server.front.check_counts()[1] == 1
            assert ask(port, "/hello", source="127.0.0.3")[0] == 200
