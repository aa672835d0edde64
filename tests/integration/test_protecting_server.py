"""``stockade serve`` end to end, over real sockets: the reverse proxy behind every check.

A real upstream (the proxy tests' ASGI app under uvicorn, in a process of its own) sits
behind the protecting server (ServerThread), configured with lockout directories, BFE
mod_block files, IP bans, trusted proxies, PROXY protocol listeners and the admin API.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.clock import ManualClock
from stockade.server.listen import ListenAddress
from stockade.server.settings import ListenerSpec, TlsSettings
from stockade.server.testing import ServerThread
from tests.integration.conftest import PASSWORDS, V2_SIGNATURE, Site, basic
from tests.integration.http_support import TlsWire, Wire, make_certificates, responses
from tests.integration.test_proxy import Uvicorn
from tests.redis_servers import free_port

TOKEN = "an-admin-token-of-enough-length"


def _rule(name: str, cond: str, cmd: str) -> dict[str, object]:
    return {"Name": name, "Cond": cond, "Action": {"Cmd": cmd, "Params": []}}


RULES = {
    "Version": "1",
    "Config": {
        "global": [_rule("no_debug", 'req_path_prefix_in("/debug", false)', "CLOSE")],
        "web": [
            _rule("ok_status", 'req_path_in("/echo/status", false)', "ALLOW"),
            _rule("no_old", 'req_path_prefix_in("/echo/old", false)', "CLOSE"),
        ],
    },
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with Uvicorn("tests.integration.upstream_app:app", log) as server:
        yield server


def _config(
    site: Site, upstream: Uvicorn, *, blocklist: str = "192.0.2.0/24\n", extra: str = "", store_url: str | None = None
) -> Path:
    (site.base / "rules.data").write_text(json.dumps(RULES))
    (site.base / "ips.data").write_text(blocklist)
    directories = [{"path": "/echo/secure", "auth_user_file": site.htpasswd.name, "max_retries": 3, "block_time": 1}]
    path = site.write_config(directories=directories, audit=True, store_url=store_url)
    text = path.read_text().replace(
        "[store]",
        f'upstream = "http://127.0.0.1:{upstream.port}"\n[[server.route]]\npath = "/files"\nto = "files"\n\n[store]',
        1,
    )
    text += (
        '\n[block]\nrules = "rules.data"\nip_blocklist = "ips.data"\nwatch = false\n'
        '[block.hosts]\ndefault_product = "web"\n'
        "\n[bans]\nmalicious_req_threshold = 3\nblock_duration = 600\n"
        f'\n[proxy]\ntrusted = ["127.0.0.1"]\n\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n' + extra
    )
    path.write_text(text)
    (site.docroot / "files").mkdir()
    (site.docroot / "files" / "a.txt").write_bytes(b"file a\n")
    return path


def get(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes; b"" means it answered nothing at all."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except OSError:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def server(site: Site, upstream: Uvicorn) -> Iterator[ServerThread]:
    with ServerThread(_config(site, upstream), clock=ManualClock(time.time())) as running:
        yield running


def test_requests_reach_the_upstream_through_the_checks(server: ServerThread) -> None:
    status, _, body = get(server.port, "/echo/hello?x=1", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    echoed = json.loads(body)
    assert echoed["path"] == "/echo/hello"
    headers = {name.lower(): value for name, value in echoed["headers"]}
    # 127.0.0.1 is a trusted proxy: the spoofable leftmost entry is kept, this hop appended.
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    status, _, body = get(server.port, "/echo/upload", method="POST", body=b"x" * 100_000)
    assert (status, json.loads(body)["body_size"]) == (200, 100_000)
    assert get(server.port, "/files/a.txt")[2] == b"file a\n"


def test_the_lockout_protects_the_upstream(server: ServerThread) -> None:
    assert get(server.port, "/echo/secure/x")[0] == 401
    for _ in range(3):
        assert get(server.port, "/echo/secure/x", {"Authorization": basic("alice", "nope")})[0] == 401
    assert get(server.port, "/echo/secure/x", {"Authorization": basic("alice", PASSWORDS["alice"])})[0] == 403
    assert get(server.port, "/echo/secure/x", {"Authorization": basic("bob", PASSWORDS["bob"])})[0] == 200


def test_close_rules_drop_the_connection_without_a_response(server: ServerThread) -> None:
    assert raw(server.port, b"GET /debug/x HTTP/1.1\r\nHost: a\r\n\r\n") == b""
    assert raw(server.port, b"GET /echo/old/1 HTTP/1.1\r\nHost: a\r\n\r\n") == b""
    assert get(server.port, "/echo/status")[0] == 200  # ALLOW: mod_block is done, the request goes on
    counters = server.app.site.block.table.counters.snapshot()  # type: ignore[union-attr]
    assert (counters["REQ_REFUSE"], counters["REQ_ACCEPT"]) == (2, 1)


@pytest.mark.parametrize(
    "hosts", ['[block.hosts]\n"shop.example" = "web"\n', ""], ids=["unmapped-host", "no-host-table"]
)
def test_global_rules_apply_to_requests_without_a_product(site: Site, upstream: Uvicorn, hosts: str) -> None:
    # A deliberate difference from BFE, which refuses a request without a product before mod_block runs.
    config = _config(site, upstream)
    config.write_text(config.read_text().replace('[block.hosts]\ndefault_product = "web"\n', hosts))
    with ServerThread(config) as running:
        assert raw(running.port, b"GET /debug/x HTTP/1.1\r\nHost: other.example\r\n\r\n") == b""
        # The product's own rules need a product: /echo/old is closed only for shop.example.
        assert get(running.port, "/echo/old/1", {"Host": "other.example"})[0] == 200
        counters = running.app.site.block.table.counters.snapshot()  # type: ignore[union-attr]
        assert (counters["REQ_TOTAL"], counters["REQ_REFUSE"], counters["REQ_ACCEPT"]) == (2, 1, 0)


def test_a_blocklisted_source_is_closed_before_a_byte_is_read(site: Site, upstream: Uvicorn) -> None:
    config = _config(site, upstream, blocklist="127.0.0.0/8\n")
    with ServerThread(config) as running:
        assert raw(running.port, b"GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n") == b""
        counters = running.app.block_counters()  # as exported (the native front counts connections itself)
        assert (counters["mod_block_CONN_TOTAL"], counters["mod_block_CONN_REFUSE"]) == (1, 1)
        # The admin listener is not subject to the blocklist.
        status, _, _ = get(int(running.admin_url.rsplit(":", 1)[1]), "/health")
        assert status == 200


def test_proxy_protocol_sources_are_the_clients(site: Site, upstream: Uvicorn) -> None:
    config = _config(site, upstream, blocklist="198.51.100.66\n")
    listeners = [ListenerSpec(ListenAddress("127.0.0.1", 0), proxy_protocol="any")]
    with ServerThread(config, listeners=listeners) as running:
        request = b"GET /echo/who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        v1 = b"PROXY TCP4 203.0.113.50 127.0.0.1 40000 80\r\n"
        answer = raw(running.port, v1 + request)
        assert answer.startswith(b"HTTP/1.1 200")
        echoed = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        headers = {name.lower(): value for name, value in echoed["headers"]}
        assert headers["x-forwarded-for"] == "203.0.113.50"
        source = (
            bytes([198, 51, 100, 66]) + bytes([127, 0, 0, 1]) + (40000).to_bytes(2, "big") + (80).to_bytes(2, "big")
        )
        v2 = V2_SIGNATURE + bytes([0x21, 0x11]) + len(source).to_bytes(2, "big") + source
        assert raw(running.port, v2 + request) == b""  # the PROXY source is blocklisted


def raw_from(source: str, port: int, data: bytes) -> bytes:
    """:func:`raw` from the client address ``source`` (any 127.0.0.0/8 address is on the loopback)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        try:
            sock.sendall(data)
        except OSError:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _v2(source: str, port: int) -> bytes:
    addresses = socket.inet_aton(source) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", port, 80)
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(addresses)) + addresses


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_banned_client_cannot_name_another_address_in_a_proxy_header(
    site: Site, upstream: Uvicorn, version: str
) -> None:
    config = _config(site, upstream, blocklist="198.51.100.66\n")  # [proxy] trusted = ["127.0.0.1"]
    listeners = [ListenerSpec(ListenAddress("127.0.0.1", 0), proxy_protocol="any")]
    request = b"GET /echo/who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

    def header(source: str) -> bytes:
        return f"PROXY TCP4 {source} 127.0.0.1 40000 80\r\n".encode() if version == "v1" else _v2(source, 40000)

    with ServerThread(config, listeners=listeners) as running:
        admin = int(running.admin_url.rsplit(":", 1)[1])
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert get(admin, "/ips/block", bearer, "POST", json.dumps({"ip": "127.0.0.2"}).encode())[0] == 200
        assert get(admin, "/ips/block", bearer, "POST", json.dumps({"ip": "203.0.113.9"}).encode())[0] == 200
        # The banned client 127.0.0.2 is no proxy: its header is not believed, the connection is closed.
        assert raw_from("127.0.0.2", running.port, header("8.8.8.8") + request) == b""
        assert raw_from("127.0.0.2", running.port, header("198.51.100.66") + request) == b""
        # From the trusted proxy the same header is believed: 8.8.8.8 is the client...
        answer = raw_from("127.0.0.1", running.port, header("8.8.8.8") + request)
        assert answer.startswith(b"HTTP/1.1 200")
        echoed = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert {name.lower(): value for name, value in echoed["headers"]}["x-forwarded-for"] == "8.8.8.8"
        # ...and a banned or blocklisted source named by it is refused.
        assert raw_from("127.0.0.1", running.port, header("203.0.113.9") + request).startswith(b"HTTP/1.1 403")
        assert raw_from("127.0.0.1", running.port, header("198.51.100.66") + request) == b""
        status, _, body = get(admin, "/metrics", bearer)
        assert status == 200
        line = f'stockade_proxy_protocol_refused_total{{listener="127.0.0.1:{running.port}"}} 2.0'
        assert line.encode() in body.splitlines()


def half_closed(port: int, data: bytes) -> list[http.client.HTTPResponse]:
    """Send ``data``, shut the sending side (``SHUT_WR``), then read every answer until the server closes."""
    with Wire(socket.create_connection(("127.0.0.1", port), timeout=10)) as wire:
        wire.send(data)
        wire.half_close()
        answers = []
        while wire.file.peek(1):  # type: ignore[attr-defined]
            answers.append(wire.response())
        return answers


def test_a_half_closed_client_gets_its_answers(server: ServerThread) -> None:
    upload = b"POST /echo/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 50000\r\n\r\n" + b"u" * 50_000
    (answer,) = half_closed(server.port, upload)
    assert answer.status == 200
    assert json.loads(answer.body)["body_size"] == 50_000  # type: ignore[attr-defined]
    (answer,) = half_closed(server.port, b"GET /files/a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    assert (answer.status, answer.body) == (200, b"file a\n")  # type: ignore[attr-defined]
    pipelined = (
        b"POST /echo/one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /files/a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /echo/three HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    one, two, three = half_closed(server.port, pipelined)
    assert (one.status, json.loads(one.body)["path"], json.loads(one.body)["body_size"]) == (200, "/echo/one", 3)  # type: ignore[attr-defined]
    assert (two.status, two.body) == (200, b"file a\n")  # type: ignore[attr-defined]
    assert (three.status, json.loads(three.body)["path"]) == (200, "/echo/three")  # type: ignore[attr-defined]


@pytest.mark.parametrize("ending", ["close_notify", "half_close"])
def test_a_tls_client_done_sending_gets_its_answers(site: Site, upstream: Uvicorn, tmp_path: Path, ending: str) -> None:
    certificates = make_certificates(tmp_path)
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    listeners = [ListenerSpec(ListenAddress("127.0.0.1", 0), tls=tls)]
    upload = b"POST /echo/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 50000\r\n\r\n" + b"u" * 50_000
    files = b"GET /files/a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
    with (
        ServerThread(_config(site, upstream), listeners=listeners) as running,
        TlsWire(running.port, certificates.client_context(with_certificate=False)) as wire,
    ):
        wire.send(upload + files)
        wire.close_notify() if ending == "close_notify" else wire.half_close()
        data, end = wire.read_all()
    upload_answer, file_answer = responses(data)
    assert (upload_answer.status, json.loads(upload_answer.body)["body_size"]) == (200, 50_000)  # type: ignore[attr-defined]
    assert (file_answer.status, file_answer.body) == (200, b"file a\n")  # type: ignore[attr-defined]
    assert end == "close_notify"


def test_probes_ban_the_client_in_every_answer_after(site: Site, upstream: Uvicorn) -> None:
    config = _config(site, upstream)
    config.write_text(config.read_text().replace('trusted = ["127.0.0.1"]', "trusted = []"))
    with ServerThread(config) as running:
        for path in ("/.env", "/.git/config", "/wp-login.php"):
            get(running.port, path)
        status, headers, body = get(running.port, "/echo/clean")
        assert (status, body) == (403, b"Forbidden")
        assert 590 <= int(headers["retry-after"]) <= 600
        admin = int(running.admin_url.rsplit(":", 1)[1])
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        status, _, body = get(admin, "/ips/status?ip=127.0.0.1", bearer)
        assert status == 200
        assert json.loads(body)["verdict"] == "blocked"
        assert get(admin, "/ips/unblock", bearer, "POST", json.dumps({"ip": "127.0.0.1"}).encode())[0] == 200
        assert get(running.port, "/echo/clean")[0] == 200


def test_a_flood_of_fresh_probes_never_evicts_a_ban(site: Site, upstream: Uvicorn) -> None:
    # The numbers of the report: a memory store of 2,000 records, 100 bans, then 3,000 probes
    # from fresh addresses evicted 69 of the bans, which were still enforced but no longer listed.
    config = _config(site, upstream, store_url="memory://?max_records=2000")
    banned = [f"198.51.100.{i}" for i in range(100)]
    with ServerThread(config, clock=ManualClock(time.time())) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)

        def visit(path: str, client: str) -> int:
            conn.request("GET", path, headers={"X-Forwarded-For": client})  # 127.0.0.1 is a trusted proxy
            response = conn.getresponse()
            response.read()
            return response.status

        for ip in banned:
            for _ in range(3):  # malicious_req_threshold
                visit("/.env", ip)
        for i in range(3000):
            visit("/.env", f"10.{i // 250}.{i % 250}.1")
        assert all(visit("/echo/clean", ip) == 403 for ip in banned)
        admin = int(running.admin_url.rsplit(":", 1)[1])
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        status, _, body = get(admin, "/ips/banned", bearer)
        assert status == 200
        assert sorted(entry["ip"] for entry in json.loads(body)["bans"]) == sorted(banned)
        for ip in banned:
            status, _, body = get(admin, f"/ips/status?ip={ip}", bearer)
            assert (status, json.loads(body)["verdict"]) == (200, "blocked")
            assert get(admin, "/ips/unblock", bearer, "POST", json.dumps({"ip": ip}).encode())[0] == 200
        assert all(visit("/echo/clean", ip) == 200 for ip in banned)
        conn.close()


def test_the_admin_api_needs_its_token(server: ServerThread) -> None:
    admin = int(server.admin_url.rsplit(":", 1)[1])
    assert get(admin, "/users/blocked")[0] == 401
    assert get(admin, "/users/blocked", {"Authorization": "Bearer wrong"})[0] == 401
    status, _, body = get(admin, "/users/blocked", {"Authorization": f"Bearer {TOKEN}"})
    assert (status, json.loads(body)) == (200, {"users": []})
    raw(server.port, b"GET /debug/x HTTP/1.1\r\nHost: a\r\n\r\n")
    status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert b"stockade_requests_total" in body
    assert b"\nmod_block_REQ_REFUSE 1.0\n" in body
    status, _, body = get(admin, "/status", {"Authorization": f"Bearer {TOKEN}"})
    assert json.loads(body)["mod_block"]["mod_block_REQ_REFUSE"] == 1
    # The admin API is not served on the public listener: the request goes to the upstream.
    assert b'"users"' not in get(server.port, "/users/blocked")[2]


def test_a_broken_rule_file_on_reload_keeps_the_old_rules(server: ServerThread, site: Site) -> None:
    rules_file = site.base / "rules.data"
    rules_file.write_text('{"Version": "2"}')
    admin = int(server.admin_url.rsplit(":", 1)[1])
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, _, body = get(admin, "/reload", bearer, "POST", b"{}")
    # The one contract of a failed reload: 409, reload_failed, one line per error.
    assert status == 409
    answer = json.loads(body)
    assert answer["error"] == "reload_failed"
    assert answer["errors"] == [f"{rules_file}: no Config"]
    assert answer["message"] == f"the configuration was not reloaded: {rules_file}: no Config"
    assert [(w["reload"], w["errors"]) for w in answer["workers"]] == [("error", [f"{rules_file}: no Config"])]
    metrics = get(admin, "/metrics", bearer)[2]
    assert b"\nstockade_reload_errors_total 1.0\n" in metrics
    assert b"\nmod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE 1.0\n" in metrics
    assert raw(server.port, b"GET /debug/x HTTP/1.1\r\nHost: a\r\n\r\n") == b""  # still in force
    # A condition's mistake is reported at its place in the rule file.
    rules = json.loads(json.dumps(RULES))
    rules["Config"]["web"][1]["Cond"] = 'req_path_prefix_in("/echo/old", false) || req_pth_in("/x", false)'
    rules_file.write_text(json.dumps(rules, indent=1))
    status, _, body = get(admin, "/reload", bearer, "POST", b"{}")
    assert status == 409
    line = next(i for i, text in enumerate(rules_file.read_text().splitlines(), 1) if "req_pth_in" in text)
    column = rules_file.read_text().splitlines()[line - 1].index("req_pth_in") + 1
    assert json.loads(body)["errors"] == [
        f"{rules_file}:{line}:{column}: product 'web', rule 1 (name 'no_old'): primitive req_pth_in not found"
        " (hint: did you mean 'req_path_in'?)"
    ]
    rules = dict(RULES)
    rules["Config"] = {"web": []}
    rules_file.write_text(json.dumps(rules))
    status, _, body = get(admin, "/reload", bearer, "POST", b"{}")
    assert status == 200
    answer = json.loads(body)
    assert answer["reload"] == "ok"
    assert answer["changed"] == {"sections": [], "files": [str(rules_file)]}
    assert get(server.port, "/debug/x")[0] in (200, 404)  # the global CLOSE rule is gone
    server.flush_events()
    audited = [json.loads(line) for line in (site.base / "audit.jsonl").read_text().splitlines()]
    reloads = [(a["trigger"], a["outcome"], a.get("changed")) for a in audited if a["what"] == "reload"]
    assert reloads == [
        ("api", "error", None),
        ("api", "error", None),
        ("api", "ok", {"sections": [], "files": [str(rules_file)]}),
    ]
    calls = [(a["action"], a["status"]) for a in audited if a["what"] == "admin_call"]
    assert calls == [("reload", 409), ("reload", 409), ("reload", 200)]


def test_stockade_status_shows_the_running_servers_counters(site: Site, upstream: Uvicorn) -> None:
    config = _config(site, upstream)
    config.write_text(config.read_text().replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{free_port()}"'))
    with ServerThread(config) as running:
        raw(running.port, b"GET /debug/x HTTP/1.1\r\nHost: a\r\n\r\n")
        result = subprocess.run(
            [sys.executable, "-m", "stockade", "status", "-c", str(config), "--json"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    server = json.loads(result.stdout)["server"]
    assert server["mod_block"]["mod_block_REQ_REFUSE"] == 1
    assert server["mod_block"]["mod_block_CONN_TOTAL"] >= 1


def test_a_spoofed_leftmost_forwarded_entry_is_not_the_client(site: Site, upstream: Uvicorn) -> None:
    # 127.0.0.1 is a trusted proxy: the client is the first untrusted hop from the right.
    with ServerThread(_config(site, upstream)) as running:
        spoofed = {"X-Forwarded-For": "10.9.9.9, 203.0.113.77"}
        for path in ("/.env", "/.git/config", "/wp-login.php"):
            get(running.port, path, spoofed)
        assert str(running.guard.bans.settings.policy.threshold) == "3"
        assert get(running.port, "/echo/x", {"X-Forwarded-For": "203.0.113.77"})[0] == 403
        assert get(running.port, "/echo/x", {"X-Forwarded-For": "10.9.9.9"})[0] == 200


def test_forwarding_headers_of_an_untrusted_peer_are_ignored(site: Site, upstream: Uvicorn) -> None:
    config = _config(site, upstream)
    config.write_text(config.read_text().replace('trusted = ["127.0.0.1"]', 'trusted = ["10.0.0.0/8"]'))
    with ServerThread(config) as running:
        for path in ("/.env", "/.git/config", "/wp-login.php"):
            get(running.port, path, {"X-Forwarded-For": "198.51.100.1"})
        # The peer itself (127.0.0.1) was counted and banned, whatever the header claimed.
        assert get(running.port, "/echo/x", {"X-Forwarded-For": "198.51.100.2"})[0] == 403
        _, _, body = get(int(running.admin_url.rsplit(":", 1)[1]), "/ips/banned", {"Authorization": f"Bearer {TOKEN}"})
        assert [entry["ip"] for entry in json.loads(body)["bans"]] == ["127.0.0.1"]


def test_a_sighup_style_reload_applies_new_rules_and_keeps_counting(server: ServerThread, site: Site) -> None:
    assert raw(server.port, b"GET /echo/new HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200"
    )
    rules = json.loads(json.dumps(RULES))
    rules["Config"]["web"].append(_rule("no_new", 'req_path_prefix_in("/echo/new", false)', "CLOSE"))
    (site.base / "rules.data").write_text(json.dumps(rules))
    before = server.app.block_counters()["mod_block_REQ_TOTAL"]
    server.reload()
    deadline = time.monotonic() + 10
    while raw(server.port, b"GET /echo/new HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") != b"":
        assert time.monotonic() < deadline, "the reload never took effect"
        time.sleep(0.02)
    assert server.app.block_counters()["mod_block_REQ_TOTAL"] > before  # not reset by the reload
