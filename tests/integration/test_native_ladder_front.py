"""The native front decides in Rust first: a clean request is forwarded and a banned client
refused without the Python ladder, exactly as the Python ladder would have; what only Python
can finish (a lockout directory) still reaches it; the counts reach the metrics.

The site: an upstream, a lockout directory, bans on with detection off (``rules = []``), or
on (a clean request is inspected natively; a hit or a body goes to Python), no mod_block, a
SQLite store.
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
from tests.integration.test_protecting_server import TOKEN, get
from tests.integration.test_proxy import Uvicorn


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with Uvicorn("tests.integration.upstream_app:app", log) as server:
        yield server


def config(site: Site, upstream: Uvicorn, *, detection: bool = False) -> Path:
    directories = [{"path": "/echo/secure", "auth_user_file": site.htpasswd.name, "max_retries": 3, "block_time": 1}]
    path = site.write_config(directories=directories, audit=True)
    text = path.read_text().replace("[store]", f'upstream = "http://127.0.0.1:{upstream.port}"\n\n[store]', 1)
    rules = "" if detection else "rules = []\n"
    text += f'\n[bans]\n{rules}block_duration = 600\n\n[proxy]\ntrusted = ["127.0.0.1"]\n'
    text += f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
    path.write_text(text)
    return path


@contextmanager
def serving(path: Path) -> Iterator[ServerThread]:
    """The server, after a first request: that one goes to Python (the forwarding warnings
    watch until a request settles whether every client comes through one proxy)."""
    with ServerThread(path, engine="native") as running:
        assert fetch(running.port, "/echo/first")[0] in (200, 404)
        assert counts(running) == (0, 0, 0)
        yield running


def counts(running: ServerThread) -> tuple[int, int, int]:
    server = running.server
    assert isinstance(server, NativeServer)
    assert server.front is not None
    return server.front.ladder_counts()


def metrics(running: ServerThread) -> dict[str, float]:
    admin = int(running.admin_url.rsplit(":", 1)[1])
    status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    return {
        line.split()[0]: float(line.split()[1])
        for line in body.decode().splitlines()
        if line.startswith("stockade_requests_total")
    }


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
