"""The native front over real sockets: its HTTP/1.1 layer (keep-alive, pipelining, limits,
timeouts, malformed requests, random input), static files with ranges and validators, its
access log, TLS facts reaching the rules, its counters in the admin API.

Each test runs ``stockade serve``'s native front in-process (``ServerThread``) in front of
the proxy tests' upstream (``upstream_app``, under uvicorn).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.server.listen import ListenAddress
from stockade.server.native import NativeServer
from stockade.server.settings import Limits, ListenerSpec, TlsSettings
from stockade.server.testing import ServerThread
from tests.integration.conftest import Site
from tests.integration.http_support import TlsWire, Wire, closed_without_a_byte, make_certificates, request, responses
from tests.integration.test_protecting_server import TOKEN, _config, get
from tests.integration.test_proxy import Uvicorn

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with Uvicorn("tests.integration.upstream_app:app", log) as server:
        yield server


def fetch(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    status, found, data = get(port, path, headers, method, body)
    return status, {k.lower(): v for k, v in found.items()}, data


def native(config: Path, **kwargs: object) -> ServerThread:
    return ServerThread(config, **kwargs)  # type: ignore[arg-type]


def wire(running: ServerThread) -> Wire:
    return Wire(socket.create_connection(("127.0.0.1", running.port), timeout=10))


def echo(response: object) -> dict[str, object]:
    data = json.loads(response.body)  # type: ignore[attr-defined]
    assert isinstance(data, dict)
    return data


def test_keep_alive_and_pipelined_requests_in_order(site: Site, upstream: Uvicorn) -> None:
    with native(_config(site, upstream)) as running, wire(running) as conn:
        conn.send(b"".join(request("GET", f"/echo/{i}") for i in range(5)))
        assert [echo(conn.response())["path"] for _ in range(5)] == [f"/echo/{i}" for i in range(5)]
        for i in range(3):
            conn.send(request("GET", f"/echo/again/{i}"))
            assert echo(conn.response())["path"] == f"/echo/again/{i}"


def test_http_1_0_closes_unless_kept_alive(site: Site, upstream: Uvicorn) -> None:
    with native(_config(site, upstream)) as running:
        with wire(running) as conn:
            conn.send(b"GET /echo/a HTTP/1.0\r\nHost: x\r\n\r\n")
            first = conn.read_all()
            assert first.startswith(b"HTTP/1.1 200 ")
            assert b"\r\nconnection: close\r\n" in first.lower()
        with wire(running) as conn:
            conn.send(b"GET /echo/b HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            response = conn.response()
            assert response.getheader("connection") == "keep-alive"
            conn.send(b"GET /echo/c HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            assert echo(conn.response())["path"] == "/echo/c"


def test_expect_100_continue(site: Site, upstream: Uvicorn) -> None:
    with native(_config(site, upstream)) as running, wire(running) as conn:
        conn.send(b"POST /echo/up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert conn.file.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert conn.file.readline() == b"\r\n"
        conn.send(b"hello")
        assert echo(conn.response())["body_size"] == 5


def test_limits_431_413_and_serving_on(site: Site, upstream: Uvicorn) -> None:
    limits = Limits(max_header_bytes=2048, max_body_bytes=1000)
    with native(_config(site, upstream), limits=limits) as running:
        for data in (request("GET", "/echo", [("X-Big", "x" * 3000)]), b"GET / HTTP/1.1\r\nX-Endless: " + b"z" * 5000):
            with wire(running) as conn:
                conn.send(data)
                reply = conn.read_all()
                assert reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), reply[:80]
                assert b"\r\nconnection: close\r\n" in reply
        with wire(running) as conn:
            conn.send(request("POST", "/echo", body=b"x" * 1001))
            assert conn.read_all().startswith(b"HTTP/1.1 413 ")
        with wire(running) as conn:
            conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(3):
                conn.send(b"200\r\n" + b"x" * 512 + b"\r\n")
            assert conn.read_all().startswith(b"HTTP/1.1 413 ")
        with wire(running) as conn:
            conn.send(request("POST", "/echo", body=b"x" * 1000))
            assert echo(conn.response())["body_size"] == 1000


MALFORMED = {
    "obsolete line folding": b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
    "two content-lengths": b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "space before colon": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "binary": b"\x00\x01\x02\x03\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "non-ascii target": b"GET /\xff HTTP/1.1\r\n\r\n",
    "bad version": b"GET / HTTP/9\r\n\r\n",
    "no host on HTTP/1.1": b"GET / HTTP/1.1\r\n\r\n",
    "tls to a plain listener": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40,
}


def test_malformed_requests_are_400(site: Site, upstream: Uvicorn) -> None:
    with native(_config(site, upstream)) as running:
        for name, data in MALFORMED.items():
            with wire(running) as conn:
                conn.send(data)
                reply = conn.read_all()
            assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), (name, reply)
            assert reply.endswith(b"\r\n\r\nBad Request\n"), name
        assert get(running.port, "/echo/after")[0] == 200


_FRAGMENTS = [b"Host: x\r\n", b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n", b"\r\n"]
_FRAGMENTS += [b"0\r\n\r\n", b"5\r\nhello\r\n", b"Content-Length: 2\r\n", b"Connection: close\r\n"]
_FRAGMENTS += [b"GET /echo/next HTTP/1.1\r\n", b"Upgrade: h2c\r\n", b"X-A: \xff\r\n"]
_FRAGMENT = st.sampled_from(_FRAGMENTS)
_HEADS = [b"GET /echo HTTP/1.1\r\n", b"POST /echo/x HTTP/1.1\r\nContent-Length: 3\r\n", b"", b"PROXY "]


def test_no_input_makes_an_error(site: Site, upstream: Uvicorn, caplog: pytest.LogCaptureFixture) -> None:
    """Random bytes after a request line, sent in random pieces: 1xx, 200 or 4xx, never a 5xx or a logged error."""
    pieces = st.lists(st.one_of(_FRAGMENT, _FRAGMENT, _FRAGMENT, st.binary(min_size=1, max_size=40)), max_size=8)
    limits = Limits(max_header_bytes=512, max_body_bytes=64, header_timeout=1.0)
    with native(_config(site, upstream), limits=limits) as running:

        @settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(head=st.sampled_from(_HEADS), tail=pieces, end=st.sampled_from([b"", b"\r\n\r\n", b"\r\n\r\nabc"]))
        def check(head: bytes, tail: list[bytes], end: bytes) -> None:
            with wire(running) as conn:
                try:
                    for piece in [head, *tail, end]:
                        conn.send(piece)
                    conn.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # the front refused and closed early
                reply = conn.read_all()
            lines = reply.split(b"\r\n")
            statuses = [int(line.split(b" ")[1]) for line in lines if line.startswith(b"HTTP/1.1 ")]
            assert all(s in (100, 200) or 400 <= s < 500 for s in statuses), reply

        check()
        assert get(running.port, "/echo/after")[0] == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_timeouts_close_without_an_answer(site: Site, upstream: Uvicorn) -> None:
    limits = Limits(header_timeout=0.3, keepalive_timeout=0.3, body_timeout=0.3)
    with native(_config(site, upstream), limits=limits) as running:
        with wire(running) as conn:
            conn.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            assert closed_without_a_byte(conn.sock)
        with wire(running) as conn:  # never a byte
            assert closed_without_a_byte(conn.sock)
        with wire(running) as conn:  # idle after a response
            conn.send(request("GET", "/echo/idle"))
            assert echo(conn.response())["path"] == "/echo/idle"
            assert conn.read_all() == b""
        with wire(running) as conn:  # a body that stops
            conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            assert closed_without_a_byte(conn.sock)


def test_websocket_upgrades_are_refused_and_other_upgrades_are_501(site: Site, upstream: Uvicorn) -> None:
    upgrade = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]
    with native(_config(site, upstream)) as running:
        with wire(running) as conn:
            conn.send(request("GET", "/echo/ws", upgrade))
            assert conn.read_all().startswith(b"HTTP/1.1 403 Forbidden\r\n")
        with wire(running) as conn:
            conn.send(request("GET", "/echo", [("Connection", "Upgrade"), ("Upgrade", "foo/2")]))
            assert conn.read_all().startswith(b"HTTP/1.1 501 ")


def test_static_files_head_ranges_and_validators(site: Site, upstream: Uvicorn) -> None:
    data = os.urandom(100_000)
    config = _config(site, upstream)
    (site.docroot / "files" / "big.bin").write_bytes(data)
    with native(config) as running:
        status, headers, body = fetch(running.port, "/files/big.bin")
        assert (status, body) == (200, data)
        assert headers["accept-ranges"] == "bytes"
        tag, modified = headers["etag"], headers["last-modified"]
        status, headers, body = fetch(running.port, "/files/big.bin", method="HEAD")
        assert (status, body, headers["content-length"]) == (200, b"", "100000")
        status, headers, body = fetch(running.port, "/files/big.bin", {"Range": "bytes=10-19"})
        assert (status, body, headers["content-range"]) == (206, data[10:20], "bytes 10-19/100000")
        status, _, body = fetch(running.port, "/files/big.bin", {"Range": "bytes=-5"})
        assert (status, body) == (206, data[-5:])
        status, headers, _ = fetch(running.port, "/files/big.bin", {"Range": "bytes=200000-"})
        assert (status, headers["content-range"]) == (416, "bytes */100000")
        assert fetch(running.port, "/files/big.bin", {"If-None-Match": tag})[0] == 304
        assert fetch(running.port, "/files/big.bin", {"If-Modified-Since": modified})[0] == 304
        status, _, body = fetch(running.port, "/files/big.bin", {"Range": "bytes=0-1", "If-Range": '"other"'})
        assert (status, body) == (200, data)
        status, headers, _ = fetch(running.port, "/files")
        assert (status, headers["location"]) == (301, "/files/")
        assert fetch(running.port, "/files/missing.txt")[0] == 404
        assert fetch(running.port, "/files/a.txt", method="POST", body=b"x")[0] == 405


def test_access_log_lines(site: Site, upstream: Uvicorn) -> None:
    log = site.base / "access.jsonl"
    with native(_config(site, upstream), access_log=str(log)) as running:
        assert get(running.port, "/echo/logged?q=1")[0] == 200
        assert get(running.port, "/files/a.txt")[0] == 200
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [
        ("GET", "/echo/logged?q=1", 200),
        ("GET", "/files/a.txt", 200),
    ]
    assert lines[1]["bytes"] == len(b"file a\n")
    assert lines[0]["client"] == "127.0.0.1"
    assert lines[0]["listener"] == f"127.0.0.1:{running.port}"
    assert set(lines[0]) == {"time", "client", "method", "path", "status", "bytes", "duration_ms", "listener"}


def test_tls_facts_reach_the_rules(site: Site, upstream: Uvicorn, tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path)
    config = _config(site, upstream)
    rules = json.loads((site.base / "rules.data").read_text())
    rules["Config"]["global"].append(
        {"Name": "sni", "Cond": 'ses_tls_sni_in("closed.test")', "Action": {"Cmd": "CLOSE", "Params": []}}
    )
    rules["Config"]["global"].append(
        {"Name": "cert", "Cond": 'ses_tls_client_auth() && req_path_in("/echo/cert", false)',
         "Action": {"Cmd": "CLOSE", "Params": []}}
    )  # fmt: skip
    (site.base / "rules.data").write_text(json.dumps(rules))
    tls = TlsSettings(certificates.server_cert, certificates.server_key, certificates.ca, "optional")
    listeners = [ListenerSpec(ListenAddress("127.0.0.1", 0), tls=tls)]
    plain = certificates.client_context(with_certificate=False)
    with native(config, listeners=listeners) as running:
        with TlsWire(running.port, plain, server_hostname="example.test") as conn:
            conn.send(request("GET", "/echo/cert", [("Connection", "close")]))
            data, _ = conn.read_all()
            assert responses(data)[0].status == 200
        unchecked = certificates.client_context(with_certificate=False)
        unchecked.check_hostname = False  # the certificate does not name closed.test
        with TlsWire(running.port, unchecked, server_hostname="closed.test") as conn:
            conn.send(request("GET", "/echo/x"))
            assert conn.read_all()[0] == b""
        with TlsWire(running.port, certificates.client_context(with_certificate=True)) as conn:
            conn.send(request("GET", "/echo/cert"))
            assert conn.read_all()[0] == b""


def test_the_admin_api_shows_the_fronts_counters(site: Site, upstream: Uvicorn) -> None:
    with native(_config(site, upstream)) as running:
        assert get(running.port, "/echo/count")[0] == 200
        admin = int(running.admin_url.rsplit(":", 1)[1])
        status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        counts = {
            line.split()[0]: float(line.split()[1]) for line in body.decode().splitlines() if line.startswith("front_")
        }
        assert counts["front_requests"] >= 1
        assert counts["front_responses_2xx"] >= 1


SERVE = """
import sys
from stockade.server.run import serve
serve(sys.argv[1])
"""


@pytest.mark.slow
def test_sigterm_drains_a_download_in_flight(site: Site, upstream: Uvicorn) -> None:
    data = os.urandom(20 * MIB)
    config = _config(site, upstream)
    (site.docroot / "files" / "big.bin").write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("stockade: listening on http://127.0.0.1:"), line
        port = int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(20)
        with Wire(sock) as conn:
            conn.send(request("GET", "/files/big.bin"))
            start = conn.file.read(65536)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            assert process.poll() is None  # still serving the download
            rest = conn.file.read()
        head, _, body = (start + rest).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert body == data
        assert process.wait(timeout=20) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_two_threads_serve_concurrent_keep_alive_connections_and_stop(site: Site, upstream: Uvicorn) -> None:
    """``workers = 2``: two event loops accept on the listener, each with its own upstream pool."""
    config = _config(site, upstream)
    config.write_text(config.read_text().replace("[server]", "[server]\nworkers = 2", 1))
    with native(config) as running:
        conns = [wire(running) for _ in range(8)]
        try:
            for round_ in range(3):
                for n, conn in enumerate(conns):
                    conn.send(request("GET", f"/echo/{n}/{round_}"))
                for n, conn in enumerate(conns):
                    assert echo(conn.response())["path"] == f"/echo/{n}/{round_}"
        finally:
            for conn in conns:
                conn.close()
        server = running.server
        assert isinstance(server, NativeServer)
        assert server.front is not None
        assert server.front.stats()["requests"] >= 24
