"""Request bodies reach detection through every front, and the app gets them whole, over real sockets.

Three fronts, each a real server in a process of its own: ``stockade serve`` in front of the
echo upstream of the proxy tests (uvicorn), the ASGI middleware under uvicorn and the WSGI
middleware under gunicorn (``body_apps``). Detection reads the first ``body_limit`` bytes of
a body before the request is decided: a malicious form, JSON or multipart body counts its
strike and bans at the threshold; the app or the upstream receives the body byte for byte
(small, exactly the limit, one byte more, chunked, 50 MB in bounded memory); ``Expect:
100-continue`` works; a client that stalls mid-body meets the body timeout; with detection
off nothing is read ahead.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stockade.server.settings import Limits
from stockade.server.testing import ServerThread
from tests.integration.http_support import closed_without_a_byte
from tests.integration.serve_process import ServeProcess
from tests.integration.test_proxy import ROOT, Uvicorn, bound_socket
from tests.integration.upstream_app import PIECE, pattern, pattern_sha256

pytestmark = pytest.mark.slow

LIMIT = 64 * 1024
MB = 1024 * 1024
BIG = 50 * MB
THRESHOLD = 3
CLOSE_STATUS = 451

COMMON = """\
[store]
url = "sqlite:///{name}.db"

[proxy]
trusted = ["127.0.0.1"]

[block]
rules = "rules.data"
ip_blocklist = "blocklist.data"
close_status = 451
"""
BANS_ON = f"""
[bans]
malicious_req_threshold = {THRESHOLD}
block_duration = 600
"""
BANS_OFF = """
[bans]
enabled = false
"""
# A mod_block rule on the JSON body: it sees the body detection read ahead.
RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {
                "Name": "no_wipe",
                "Cond": 'req_body_json_in("action", "wipe", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            },
        ]
    },
}

FORM = ("application/x-www-form-urlencoded", b"comment=1' UNION ALL SELECT password,2 FROM users--&name=jo")
JSON = ("application/json", b'{"name": "<script>alert(document.cookie)</script>", "age": 7}')
MULTIPART = (
    "multipart/form-data; boundary=XyZ",
    b'--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="cmd"\r\n\r\n;cat /etc/passwd\r\n--XyZ--\r\n',
)
CLEAN_FORM = ("application/x-www-form-urlencoded", b"comment=hello+world&name=jo")


@dataclass
class Front:
    """A front under test: its port, and the process that holds the bodies (for its memory)."""

    name: str
    port: int
    pid: int = 0


def _site(base: Path, name: str, bans: str, server: str = "") -> Path:
    base.mkdir(parents=True, exist_ok=True)
    (base / "rules.data").write_text(json.dumps(RULES))
    (base / "blocklist.data").write_text("192.0.2.99\n")
    path = base / f"{name}.toml"
    path.write_text(server + COMMON.format(name=name) + bans)
    return path


def _server_section(base: Path, upstream: Uvicorn, *, listen: str = "127.0.0.1:0") -> str:
    (base / "htdocs" / "files").mkdir(parents=True, exist_ok=True)
    (base / "htdocs" / "files" / "a.txt").write_text("file a\n")
    return (
        f'[server]\nlisten = ["{listen}"]\nupstream = "http://127.0.0.1:{upstream.port}"\n'
        'document_root = "htdocs"\n[[server.route]]\npath = "/files"\nto = "files"\n\n'
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bodies")


@pytest.fixture(scope="module")
def upstream(base: Path) -> Iterator[Uvicorn]:
    with Uvicorn("tests.integration.upstream_app:app", base / "upstream.log") as server:
        yield server


@pytest.fixture(scope="module")
def server_config(base: Path, upstream: Uvicorn) -> Path:
    return _site(base, "serve", BANS_ON, _server_section(base, upstream))


@contextlib.contextmanager
def _gunicorn(base: Path, env: dict[str, str]) -> Iterator[Front]:
    sock = bound_socket()
    fd = sock.fileno()
    command = [str(Path(sys.executable).with_name("gunicorn")), "-w", "1", "-k", "gthread", "--threads", "2"]
    command += ["-b", f"fd://{fd}", "--log-level", "warning", "tests.integration.body_apps:wsgi"]
    with (base / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            pass_fds=(fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Front("wsgi", sock.getsockname()[1])
    finally:
        process.terminate()
        process.wait(30)
        sock.close()


@pytest.fixture(scope="module", params=["server", "asgi", "wsgi"])
def front(request: pytest.FixtureRequest, base: Path, server_config: Path, upstream: Uvicorn) -> Iterator[Front]:
    if request.param == "server":
        with ServeProcess(server_config) as serving:
            yield Front(request.param, serving.port, serving.pid)
        return
    env = {
        "BODY_TEST_CONFIG": str(_site(base / request.param, "on", BANS_ON)),
        "BODY_TEST_CONFIG_OFF": str(_site(base / request.param, "off", BANS_OFF)),
    }
    if request.param == "asgi":
        with Uvicorn("tests.integration.body_apps:asgi", base / "uvicorn.log", env=env) as server:
            yield Front("asgi", server.port, server.process.pid)
        return
    with _gunicorn(base, env) as found:
        yield found


_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


def fresh_client() -> str:
    """A client address no other test has used (the store lives as long as the front)."""
    return next(_addresses)


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


def send(
    front: Front,
    method: str,
    path: str,
    *,
    client: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=60)
    try:
        all_headers = {"X-Forwarded-For": client, **(headers or {})}
        chunked = body is not None and not isinstance(body, bytes) and "Content-Length" not in all_headers
        conn.request(method, path, body=body, headers=all_headers, encode_chunked=chunked)
        response = conn.getresponse()
        return Answer(response.status, response.read())
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return Answer(0, b"")  # closed without an answer
    finally:
        conn.close()


def post(front: Front, body: bytes, content_type: str, *, client: str, path: str = "/echo/post") -> Answer:
    return send(front, "POST", path, client=client, body=body, headers={"Content-Type": content_type})


def assert_echoed(answer: Answer, body: bytes) -> None:
    assert answer.status == 200, answer.body
    echo = answer.json()
    assert (echo["body_size"], echo["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


# -- detection reads the body -------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body"), [FORM, JSON, MULTIPART], ids=["form", "json", "multipart"])
def test_a_malicious_body_counts_a_strike_and_bans_at_the_threshold(
    front: Front, content_type: str, body: bytes
) -> None:
    client = fresh_client()
    for _ in range(THRESHOLD - 1):
        assert_echoed(post(front, body, content_type, client=client), body)  # the probe itself goes on
    assert send(front, "GET", "/echo/clean", client=client).status == 200
    assert_echoed(post(front, body, content_type, client=client), body)
    assert send(front, "GET", "/echo/clean", client=client).status == 403


def test_a_chunked_malicious_body_counts_too(front: Front) -> None:
    client = fresh_client()
    content_type, body = JSON
    for _ in range(THRESHOLD):
        pieces = iter([body[:10], body[10:]])
        assert_echoed(post(front, pieces, content_type, client=client), body)  # type: ignore[arg-type]
    assert send(front, "GET", "/echo/clean", client=client).status == 403


def test_a_clean_body_counts_nothing(front: Front) -> None:
    client = fresh_client()
    content_type, body = CLEAN_FORM
    for _ in range(THRESHOLD + 1):
        assert_echoed(post(front, body, content_type, client=client), body)
    assert send(front, "GET", "/echo/clean", client=client).status == 200


def test_a_malicious_payload_beyond_the_limit_passes_uninspected(front: Front) -> None:
    client = fresh_client()
    content_type, payload = FORM
    body = b"pad=" + b"a" * LIMIT + b"&" + payload
    for _ in range(THRESHOLD):
        assert_echoed(post(front, body, content_type, client=client), body)
    assert send(front, "GET", "/echo/clean", client=client).status == 200


def test_mod_block_rules_read_the_body_read_ahead(front: Front) -> None:
    client = fresh_client()
    answer = post(front, b'{"action": "wipe"}', "application/json", client=client)
    assert answer.status == (0 if front.name == "server" else CLOSE_STATUS)
    assert_echoed(post(front, b'{"action": "keep"}', "application/json", client=client), b'{"action": "keep"}')


# -- the app gets the body whole ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 100, LIMIT - 1, LIMIT, LIMIT + 1, 3 * LIMIT + 17, 2 * MB])
def test_the_app_receives_the_body_byte_for_byte(front: Front, size: int) -> None:
    body = pattern(size)
    assert_echoed(post(front, body, "application/octet-stream", client=fresh_client()), body)


@pytest.mark.parametrize("sizes", [(1,), (10, LIMIT - 10), (LIMIT, 1), (7, 70_000, 5, 300_000), (LIMIT + 1,) * 5])
def test_a_chunked_body_arrives_byte_for_byte(front: Front, sizes: tuple[int, ...]) -> None:
    pieces = [os.urandom(size) for size in sizes]
    answer = post(front, iter(pieces), "application/octet-stream", client=fresh_client())  # type: ignore[arg-type]
    assert_echoed(answer, b"".join(pieces))


def test_an_empty_body_reads_nothing_and_passes(front: Front) -> None:
    answer = send(front, "POST", "/echo/empty", client=fresh_client(), body=b"", headers={"Content-Length": "0"})
    assert_echoed(answer, b"")


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def _upload(front: Front, size: int) -> Answer:
    def pieces() -> Iterator[bytes]:
        for offset in range(0, size, PIECE):
            yield pattern(min(PIECE, size - offset))

    headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
    return send(front, "POST", "/echo/upload", client=fresh_client(), body=pieces(), headers=headers)


def test_a_50_mb_upload_streams_in_bounded_memory(front: Front) -> None:
    warm = _upload(front, 2 * MB)  # warm up the buffers before the baseline
    assert warm.status == 200
    pid = front.pid or int(warm.json()["pid"])
    before = _peak_rss_kib(pid)
    answer = _upload(front, BIG)
    assert answer.status == 200
    assert (answer.json()["body_size"], answer.json()["body_sha256"]) == (BIG, pattern_sha256(BIG))
    growth = _peak_rss_kib(pid) - before
    assert growth < 16 * 1024, f"the {front.name} front's peak RSS grew by {growth} KiB over a 50 MB upload"


# -- Expect: 100-continue -----------------------------------------------------------------------------


def _head(path: str, length: int, client: str, *, method: str = "POST") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n"
    ).encode()


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    return data


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while piece := sock.recv(65536):
            data += piece
    return data


def test_expect_100_continue_is_answered_when_the_body_is_read(front: Front) -> None:
    client = fresh_client()
    body = FORM[1]
    for _ in range(THRESHOLD):
        with socket.create_connection(("127.0.0.1", front.port), timeout=30) as sock:
            sock.sendall(_head("/echo/continue", len(body), client))
            assert _read_until(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(body)
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert hashlib.sha256(body).hexdigest().encode() in answer
    assert send(front, "GET", "/echo/clean", client=client).status == 403  # the bodies were inspected


# Not WSGI: gunicorn answers 100 Continue itself, before the app runs.
@pytest.mark.parametrize("front", ["server", "asgi"], indirect=True)
def test_a_banned_clients_body_is_not_read(front: Front) -> None:
    client = fresh_client()
    content_type, body = FORM
    for _ in range(THRESHOLD):
        post(front, body, content_type, client=client)
    with socket.create_connection(("127.0.0.1", front.port), timeout=30) as sock:
        sock.sendall(_head("/echo/banned", len(body), client))
        answer = _read_until(sock, b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 "), answer  # refused without a 100 Continue


@pytest.mark.parametrize("front", ["asgi"], indirect=True)
def test_detection_off_reads_no_body_ahead_in_the_asgi_middleware(front: Front) -> None:
    for path, continued in (("/off/unread", False), ("/unread", True)):
        with socket.create_connection(("127.0.0.1", front.port), timeout=30) as sock:
            sock.sendall(_head(path, 10, fresh_client()))
            first = _read_until(sock, b"\r\n\r\n")
            assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") == continued, (path, first)
            if continued:
                sock.sendall(b"a=12345678")
                first = _read_all(sock)
            assert first.startswith(b"HTTP/1.1 200 ") or b"HTTP/1.1 200 " in first, first


@pytest.mark.parametrize("front", ["wsgi"], indirect=True)
def test_detection_off_leaves_wsgi_input_alone(front: Front) -> None:
    content_type, body = CLEAN_FORM
    assert post(front, body, content_type, client=fresh_client(), path="/off/echo").json()["input"] == "Body"
    assert post(front, body, content_type, client=fresh_client()).json()["input"] == "PrefixedInput"
    assert send(front, "GET", "/echo/get", client=fresh_client()).json()["input"] == "Body"  # no body: nothing read


# -- the protecting server's own ----------------------------------------------------------------------


def test_the_server_reads_no_body_ahead_with_detection_off(base: Path, upstream: Uvicorn, server_config: Path) -> None:
    off = _site(base / "server-off", "off", BANS_OFF, _server_section(base / "server-off", upstream))
    for config, continued in ((off, False), (server_config, True)):
        with ServerThread(config) as running, socket.create_connection(("127.0.0.1", running.port), 30) as sock:
            # The document root answers 405 to a POST without reading its body.
            sock.sendall(_head("/files/a.txt", 10, fresh_client()))
            first = _read_until(sock, b"\r\n\r\n")
            assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") == continued, (config.name, first)
            if continued:
                sock.sendall(b"a=12345678")
                first = _read_all(sock)
            assert b"HTTP/1.1 405 " in first


def test_a_client_that_stalls_mid_body_meets_the_body_timeout(server_config: Path) -> None:
    content_type, body = FORM
    client = fresh_client()
    with ServerThread(server_config, limits=Limits(body_timeout=0.3)) as running:
        for _ in range(THRESHOLD):
            with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
                head = (
                    f"POST /echo/stalled HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body) + 10}\r\n"
                    f"Content-Type: {content_type}\r\nX-Forwarded-For: {client}\r\n\r\n"
                )
                sock.sendall(head.encode() + body)  # and never the last 10 bytes
                assert closed_without_a_byte(sock)
        # The requests never reached the upstream nor the checks: the client is not banned.
        status, _ = _get(running.port, client)
        assert status == 200


def _get(port: int, client: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/echo/after", headers={"X-Forwarded-For": client})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
