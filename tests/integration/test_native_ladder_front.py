"""The native front decides in Rust first: a clean request is forwarded and a banned client
refused without the Python ladder, exactly as the Python ladder would have; what only Python
can finish (a lockout directory) still reaches it; the counts reach the metrics.

The site: an upstream, a lockout directory, bans on with detection off (``rules = []``), or
on (a clean request is inspected natively; a hit or a body goes to Python), a SQLite store,
and mod_block rules or none (a request no rule matches, or an ALLOW or CLOSE rule matches,
is decided natively; one whose rules read the body goes to Python; the counters count each
request once and the Python side names the matched rules in its metrics).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stockade.core.bans import BanPolicy
from stockade.server.native import NativeServer
from stockade.server.testing import ServerThread
from stockade.stores.sqlite import SQLiteStore
from tests.integration.conftest import PUBLIC, Site
from tests.integration.test_native_front import fetch
from tests.integration.test_protecting_server import TOKEN, _rule, get
from tests.integration.test_proxy import Uvicorn


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with Uvicorn("tests.integration.upstream_app:app", log) as server:
        yield server


BLOCK_RULES = {
    "Version": "1",
    "Config": {
        "global": [_rule("no_debug", 'req_path_prefix_in("/echo/debug", false)', "CLOSE")],
        "shop": [
            _rule("ok_status", 'req_path_in("/echo/status", false)', "ALLOW"),
            _rule("no_tool", 'req_header_value_contain("User-Agent", "badtool", true)', "CLOSE"),
            _rule("no_wipe", 'req_path_prefix_in("/echo/api", false) && req_body_json_in("a", "wipe", false)', "CLOSE"),
            _rule("no_port", 'req_host_in("shop.example") && req_port_in("8080")', "CLOSE"),
        ],
    },
}


def config(site: Site, upstream: Uvicorn, *, detection: bool = False, block: bool = False) -> Path:
    directories = [{"path": "/echo/secure", "auth_user_file": site.htpasswd.name, "max_retries": 3, "block_time": 1}]
    path = site.write_config(directories=directories, audit=True)
    text = path.read_text().replace("[store]", f'upstream = "http://127.0.0.1:{upstream.port}"\n\n[store]', 1)
    rules = "" if detection else "rules = []\n"
    text += f'\n[bans]\n{rules}block_duration = 600\n\n[proxy]\ntrusted = ["127.0.0.1"]\n'
    text += f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
    if block:
        (site.base / "rules.data").write_text(json.dumps(BLOCK_RULES))
        (site.base / "ips.data").write_text("192.0.2.0/24\n")
        text += '\n[block]\nrules = "rules.data"\nip_blocklist = "ips.data"\nwatch = false\n'
        text += '[block.hosts]\n"shop.example" = "shop"\n'
    path.write_text(text)
    return path


@contextmanager
def serving(path: Path) -> Iterator[ServerThread]:
    """The server, after a first request: that one goes to Python (the forwarding warnings
    watch until a request settles whether every client comes through one proxy)."""
    with ServerThread(path) as running:
        assert fetch(running.port, "/echo/first")[0] in (200, 404)
        assert counts(running) == (0, 0, 0)
        yield running


def counts(running: ServerThread) -> tuple[int, int, int]:
    server = running.server
    assert isinstance(server, NativeServer)
    assert server.front is not None
    return server.front.ladder_counts()


def metrics(running: ServerThread, family: str = "stockade_requests_total") -> dict[str, float]:
    """The samples of one metric family, from the admin API's ``/metrics``."""
    admin = int(running.admin_url.rsplit(":", 1)[1])
    status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    return {line.split()[0]: float(line.split()[1]) for line in body.decode().splitlines() if line.startswith(family)}


def admin_post(running: ServerThread, path: str, body: dict[str, object]) -> int:
    admin = int(running.admin_url.rsplit(":", 1)[1])
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return int(get(admin, path, headers, "POST", json.dumps(body).encode())[0])


def echoed(response: tuple[int, dict[str, str], bytes]) -> dict[str, object]:
    status, _, body = response
    assert status == 200
    data = json.loads(body)
    assert isinstance(data, dict)
    return data


def test_the_native_ladder_forwards_as_the_python_ladder_does(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream)) as running:
        native = echoed(fetch(running.port, "/echo/a/./b%20c?x=1&y", {"X-Forwarded-For": "203.0.113.9"}))
        assert counts(running)[0] == 1
        server = running.server
        assert isinstance(server, NativeServer)
        assert server.front is not None
        server.front.set_ladder(None)  # the same request through the Python ladder
        python = echoed(fetch(running.port, "/echo/a/./b%20c?x=1&y", {"X-Forwarded-For": "203.0.113.9"}))
        assert counts(running)[0] == 1
        assert native == python
        assert native["path"] == "/echo/a/b c"


def test_a_ban_is_refused_natively_and_a_lockout_directory_goes_to_python(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream)) as running:
        status, headers, _ = fetch(running.port, "/echo/secure/x")
        assert status == 401
        assert "www-authenticate" in headers
        assert counts(running)[2] >= 1
        assert admin_post(running, "/ips/block", {"ip": "127.0.0.1", "seconds": 60}) == 200
        status, headers, _body = fetch(running.port, "/echo/b")
        assert status == 403
        assert 59 <= int(headers["retry-after"]) <= 60
        assert counts(running)[1] == 1
        found = metrics(running)
        assert found['stockade_requests_total{outcome="banned"}'] == 1
        assert admin_post(running, "/ips/unblock", {"ip": "127.0.0.1"}) == 200
        assert fetch(running.port, "/echo/c")[0] == 200
        assert metrics(running)['stockade_requests_total{outcome="allowed"}'] >= 1


def test_a_ban_another_process_writes_reaches_the_native_ladder(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream)) as running:
        assert fetch(running.port, "/echo/a")[0] == 200
        other = SQLiteStore(site.store)
        try:
            now = time.time()
            other.ban_ip("127.0.0.1", now + 60, now, BanPolicy())
        finally:
            other.close()
        deadline = time.monotonic() + 30
        while fetch(running.port, "/echo/b")[0] != 403:  # the catch-up runs every few milliseconds
            assert time.monotonic() < deadline, "the other process's ban never reached the front"
        assert counts(running)[1] >= 1


def test_with_detection_on_a_clean_request_is_inspected_natively(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream, detection=True)) as running:
        assert fetch(running.port, "/echo/a?q=shoes")[0] == 200
        assert counts(running) == (1, 0, 0)
        # A rule fires: the strike is Python's to count.
        assert fetch(running.port, "/echo/b?id=1%27%20union%20select%20password%20from%20users--")[0] == 200
        assert counts(running) == (1, 0, 1)
        # A body detection reads, and a path the canonical form rewrote, go to Python too.
        assert fetch(running.port, "/echo/up", method="POST", body=b"comment=hello")[0] == 200
        assert fetch(running.port, "/echo/x/../a")[0] == 200
        assert counts(running) == (1, 0, 3)
        # A header byte beyond ASCII: the Python side reads it as Latin-1, so it decides.
        assert fetch(running.port, "/echo/c", {"User-Agent": "caf\u00e9"})[0] == 200
        assert counts(running) == (1, 0, 4)
        found = metrics(running)
        assert found['stockade_requests_total{outcome="allowed"}'] == 6  # the first request's too


def test_bodies_stream_through_a_native_pass(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream)) as running:
        body = bytes(range(256)) * 4096  # 1 MiB
        found = echoed(fetch(running.port, "/echo/up", method="POST", body=body))
        assert found["body_size"] == len(body)
        status, _, data = fetch(running.port, "/echo/head", method="HEAD")
        assert (status, data) == (200, b"")
        assert counts(running)[0] == 2


def test_the_files_of_a_site_without_an_upstream(site: Site) -> None:
    path = site.write_config(audit=True)
    path.write_text(path.read_text() + "\n[bans]\nrules = []\n")
    with serving(path) as running:
        status, _, data = fetch(running.port, "/index.html")
        assert (status, data) == (200, PUBLIC)
        assert counts(running)[0] == 1
        assert fetch(running.port, "/index.html", method="POST")[0] == 405  # answered by Python
        assert fetch(running.port, "/secure/")[0] == 401  # the lockout directory: Python
        assert counts(running)[0] == 1


def test_a_target_with_a_fragment_is_read_as_the_python_side_reads_it(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream)) as running:
        for target, status in ((b"/echo/secure#x", b"401"), (b"/echo/a#x", b"200")):
            with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
                sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 " + status), reply[:80]
        assert b'"path":"/echo/a"' in reply.replace(b" ", b"")
        assert counts(running)[0] == 0  # both went to the Python side, which drops the fragment


def rule_hits(running: ServerThread) -> dict[str, float]:
    admin = int(running.admin_url.rsplit(":", 1)[1])
    status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    found = {}
    for line in body.decode().splitlines():
        if line.startswith("stockade_block_rule_hits"):
            name = line.split('rule="', 1)[1].split('"', 1)[0]
            found[name] = float(line.split()[-1])
    return found


def block_counters(running: ServerThread) -> dict[str, int]:
    server = running.server
    assert isinstance(server, NativeServer)
    site = server.app.site
    assert site is not None
    assert site.block is not None
    return dict(site.block.table.counters.snapshot())


def closed(port: int, target: str, headers: dict[str, str] | None = None) -> bool:
    """Whether the server closed the connection without a word."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in (headers or {"Host": "shop.example"}).items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\n{lines}Connection: close\r\n\r\n".encode())
        try:
            return sock.recv(65536) == b""
        except ConnectionResetError:
            return True


def test_mod_block_runs_natively_and_names_its_rules_in_the_metrics(site: Site, upstream: Uvicorn) -> None:
    with serving(config(site, upstream, block=True)) as running:
        port = running.port
        before = block_counters(running)
        shop = {"Host": "shop.example"}
        # No rule matches: passed in the front, counted once.
        assert fetch(port, "/echo/a?x=1", shop)[0] == 200
        assert fetch(port, "/echo/a", {"Host": "other.example"})[0] == 200  # no product: global only
        assert counts(running) == (2, 0, 0)
        after = block_counters(running)
        assert after["REQ_TOTAL"] - before["REQ_TOTAL"] == 2
        assert after["REQ_ACCEPT"] - before["REQ_ACCEPT"] == 1  # the product's list ran to its end
        assert after["REQ_TO_CHECK"] - before["REQ_TO_CHECK"] == 2
        # A CLOSE rule (global, a header, the Host's port) and an ALLOW: decided in the front
        # too, counted once; the Python side names the rules in its metrics.
        assert closed(port, "/echo/debug/x")
        assert closed(port, "/echo/b", {"Host": "shop.example", "User-Agent": "BadTool/1.0"})
        assert closed(port, "/echo/b", {"Host": "shop.example:8080"})
        assert fetch(port, "/echo/status", shop)[0] == 200
        assert counts(running) == (3, 0, 0)
        last = block_counters(running)
        assert last["REQ_TOTAL"] - after["REQ_TOTAL"] == 4
        assert last["REQ_REFUSE"] - after["REQ_REFUSE"] == 3
        assert last["REQ_ACCEPT"] - after["REQ_ACCEPT"] == 1
        # A rule that reads the body: the Python side decides (it reads the body for it).
        assert fetch(port, "/echo/api/x", shop)[0] == 200
        assert counts(running) == (3, 0, 1)
        found = metrics(running)
        assert found['stockade_requests_total{outcome="closed"}'] == 3
        hits = rule_hits(running)
        assert {name: hits[name] for name in ("no_debug", "no_tool", "no_port", "ok_status")} == {
            "no_debug": 1,
            "no_tool": 1,
            "no_port": 1,
            "ok_status": 1,
        }
        # The same clean request through the Python ladder: the same answer, the same counts.
        server = running.server
        assert isinstance(server, NativeServer)
        assert server.front is not None
        native = echoed(fetch(port, "/echo/a?x=1", shop))
        server.front.set_ladder(None)
        python = echoed(fetch(port, "/echo/a?x=1", shop))
        assert native == python
        final = block_counters(running)
        assert final["REQ_TOTAL"] - last["REQ_TOTAL"] == 3
        assert final["REQ_ACCEPT"] - last["REQ_ACCEPT"] == 3


# Each rule closes; each request below hits one rule or just misses it. The native front and
# the Python side must close exactly the same ones.
DIFFERENTIAL_RULES = [
    'req_query_value_in("q", "café", false)',
    'req_header_value_in("X-Name", "café", false)',
    'req_header_value_in("X-Empty", "", false) && req_path_prefix_in("/echo/empty", false)',
    'req_cookie_value_in("sid", "abc", false)',
    'req_cookie_key_in("tracker")',
    'req_url_regmatch("k=caf")',
    'req_method_in("DELETE")',
    'req_proto_match("HTTP/1.0")',
    'req_cip_range("203.0.113.0", "203.0.113.255")',
    'ses_sip_range("127.0.0.1", "127.0.0.1") && req_path_prefix_in("/echo/sip", false)',
    'req_vip_in("127.0.0.1") && req_path_prefix_in("/echo/vip", false)',
    'req_cip_trusted() && req_path_prefix_in("/echo/trusted", false)',
    'req_header_key_in("X-Evil")',
    'req_query_exist() && req_path_prefix_in("/echo/qe", false)',
    'req_host_regmatch("^evil\\\\.")',
    'req_host_suffix_in(".bad.example")',
    'req_path_contain("secret", true)',
    'req_path_element_prefix_in("/echo/el", false)',
    "req_proto_secure()",
    'bfe_time_range("20000101000000Z", "20000102000000Z")',
]

DIFFERENTIAL_REQUESTS: list[tuple[bytes, list[tuple[bytes, bytes]]]] = [
    (b"GET /echo/a?q=caf%C3%A9 HTTP/1.1", []),
    (b"GET /echo/a?q=caf\xe9 HTTP/1.1", []),
    (b"GET /echo/a?q=cafe HTTP/1.1", []),
    (b"GET /echo/a HTTP/1.1", [(b"X-Name", b"caf\xe9")]),
    (b"GET /echo/a HTTP/1.1", [(b"X-Name", "café".encode())]),
    (b"GET /echo/empty HTTP/1.1", [(b"X-Empty", b"")]),
    (b"GET /echo/empty HTTP/1.1", [(b"X-Empty", b"x")]),
    (b"GET /echo/a HTTP/1.1", [(b"Cookie", b"a=1; sid=abc")]),
    (b"GET /echo/a HTTP/1.1", [(b"Cookie", b"a=1"), (b"Cookie", b"sid=abc")]),
    (b"GET /echo/a HTTP/1.1", [(b"Cookie", b"sid=abcd; tracker")]),
    (b"GET /echo/u?k=cafe HTTP/1.1", []),
    (b"GET /echo/u?k=caX HTTP/1.1", []),
    (b"DELETE /echo/a HTTP/1.1", []),
    (b"GET /echo/a HTTP/1.0", []),
    (b"GET /echo/a HTTP/1.1", [(b"X-Forwarded-For", b"203.0.113.9")]),
    (b"GET /echo/a HTTP/1.1", [(b"X-Forwarded-For", b"198.51.100.9")]),
    (b"GET /echo/sip HTTP/1.1", [(b"X-Forwarded-For", b"203.0.114.1")]),
    (b"GET /echo/vip/1 HTTP/1.1", []),
    (b"GET /echo/trusted HTTP/1.1", []),
    (b"GET /echo/a HTTP/1.1", [(b"x-evil", b"1")]),
    (b"GET /echo/qe? HTTP/1.1", []),
    (b"GET /echo/qe?x HTTP/1.1", []),
    (b"GET /echo/a HTTP/1.1", [(b"Host", b"EVIL.example.")]),
    (b"GET /echo/a HTTP/1.1", [(b"Host", b"www.bad.example:8443")]),
    (b"GET /echo/SeCrEt%2Fx HTTP/1.1", []),
    (b"GET /echo/a/../Secret HTTP/1.1", []),
    (b"GET /echo/el HTTP/1.1", []),
    (b"GET /echo/eleven HTTP/1.1", []),
    (b"GET /echo/a HTTP/1.1", [(b"X-Bfe-Debug-Time", b"20000101120000Z")]),
    (b"GET /echo/a HTTP/1.1", [(b"X-Bfe-Debug-Time", b"")]),
]


def answer(port: int, line: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The status line's code, or b"" when the server closed the connection without a word."""
    names = {name.lower() for name, _ in headers}
    lines = [] if b"host" in names else [b"Host: shop.example"]
    lines += [name + b": " + value for name, value in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(line + b"\r\n" + b"".join(item + b"\r\n" for item in lines) + b"Connection: close\r\n\r\n")
        try:
            reply = sock.recv(65536)
        except ConnectionResetError:
            return b""
    assert reply == b"" or reply.startswith(b"HTTP/1."), reply[:80]
    return reply[9:12]


def test_mod_block_decides_natively_as_the_python_side_does(site: Site, upstream: Uvicorn) -> None:
    rules = [_rule(f"r{i}", cond, "CLOSE") for i, cond in enumerate(DIFFERENTIAL_RULES)]
    path = config(site, upstream, block=True)
    (site.base / "rules.data").write_text(json.dumps({"Version": "1", "Config": {"global": rules}}))
    with serving(path) as running:
        server = running.server
        assert isinstance(server, NativeServer)
        assert server.front is not None
        native = [answer(running.port, line, headers) for line, headers in DIFFERENTIAL_REQUESTS]
        assert counts(running)[0] == native.count(b"200")  # every pass was the front's own
        server.front.set_ladder(None)
        python = [answer(running.port, line, headers) for line, headers in DIFFERENTIAL_REQUESTS]
        assert native == python
        assert python.count(b"") >= 15  # the requests do reach the rules
