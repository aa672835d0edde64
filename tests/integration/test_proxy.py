"""The native front's reverse proxy over real sockets: a test upstream under uvicorn and the front, each a process.

The front (``tests.integration.native_front``) picks a variant per request from the
``x-test-front`` header; see that module. A scripted raw-socket upstream on a thread plays
the upstreams no ASGI app can be: one that sends garbage, or closes a kept-alive
connection just as the next request arrives.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.integration.upstream_app import PIECE, pattern, pattern_sha256

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
BIG = 50 * MB
START_TIMEOUT = 20.0


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Accepted sockets inherit it on Linux: uvicorn on a passed descriptor does not set it, and
    # its answers' head and body, written apart, then wait 40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class Uvicorn:
    """uvicorn serving ``target`` in a subprocess on a socket bound here (so the port is known at once)."""

    def __init__(self, target: str, log: Path, *, env: dict[str, str] | None = None) -> None:
        self.sock = bound_socket()
        self.port: int = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        command = [sys.executable, "-m", "uvicorn", target, "--fd", str(fd), "--http", "httptools"]
        command += ["--loop", "uvloop", "--log-level", "warning", "--no-access-log", "--no-server-header"]
        command += ["--no-proxy-headers"]
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                pass_fds=(fd,),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> Uvicorn:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.sock.close()

    def peak_rss_kib(self) -> int:
        """The process's peak resident set size so far (VmHWM), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc/<pid>/status")


class NativeFront:
    """The proxy tests' front on the native front, in a process of its own (``tests.integration.native_front``)."""

    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.native_front"],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                stdout=subprocess.PIPE,
                stderr=out,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        assert line.startswith("port "), f"the native front did not start: {line!r}"
        self.port = int(line.split()[1])

    def __enter__(self) -> NativeFront:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc/<pid>/status")


Front = NativeFront
Script = Callable[[socket.socket], None]


class ScriptedUpstream:
    """A raw TCP upstream on a thread: each accepted connection runs the next script of ``scripts``."""

    def __init__(self) -> None:
        self.sock = bound_socket()
        self.port: int = self.sock.getsockname()[1]
        self.scripts: list[Script] = []
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, name="scripted-upstream", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            script = self.scripts.pop(0) if self.scripts else _hang_up
            threading.Thread(target=self._run, args=(script, conn), daemon=True).start()

    @staticmethod
    def _run(script: Script, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy may hang up first
            conn.settimeout(10)
            script(conn)

    def close(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    """One request head (and a Content-Length body) from a raw connection; b"" at its end."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return b""
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            while len(rest) < int(value):
                rest += conn.recv(65536)
    return head


def _hang_up(conn: socket.socket) -> None:
    pass


def answer_ok(body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy-logs")


@pytest.fixture(scope="module")
def upstream(logs: Path) -> Iterator[Uvicorn]:
    with Uvicorn("tests.integration.upstream_app:app", logs / "upstream.log") as server:
        yield server


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream()
    yield server
    server.close()


@pytest.fixture(scope="module")
def front(upstream: Uvicorn, scripted: ScriptedUpstream, logs: Path) -> Iterator[NativeFront]:
    """The proxy under test: the native front."""
    dead = socket.socket()  # bound, never listening: connecting to it is refused
    dead.bind(("127.0.0.1", 0))
    env = {
        "PROXY_TEST_UPSTREAM": f"http://127.0.0.1:{upstream.port}",
        "PROXY_TEST_DEAD": f"http://127.0.0.1:{dead.getsockname()[1]}",
        "PROXY_TEST_RAW": f"http://127.0.0.1:{scripted.port}",
    }
    with NativeFront(logs / "front.log", env) as native:
        yield native
    dead.close()


class Reply:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = [(k.lower(), v) for k, v in response.getheaders()]
        self.body = response.read()

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    def json(self) -> dict[str, object]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | Iterator[bytes] | None = None,
    chunked: bool = False,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        return Reply(conn.getresponse())
    finally:
        conn.close()


def seen_headers(reply: Reply) -> dict[str, list[str]]:
    """The request headers the upstream saw, from an ``/echo`` answer."""
    grouped: dict[str, list[str]] = {}
    raw = reply.json()["headers"]
    assert isinstance(raw, list)
    for name, value in raw:
        grouped.setdefault(name, []).append(value)
    return grouped


def stats(upstream: Uvicorn) -> dict[str, int]:
    data = request(upstream.port, "/stats").json()
    return {k: int(v) for k, v in data.items()}  # type: ignore[call-overload]


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes to ``port`` and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- round trips ----------------------------------------------------------------------------------


def test_get_round_trip_strips_hop_by_hop_and_sets_forwarding_headers(front: Front) -> None:
    reply = request(
        front.port,
        "/echo/a%20b?x=1&y=%2F",
        headers={
            "Host": "example.test:8443",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "300",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eDp5",
            "X-Forwarded-For": "6.6.6.6",
            "Forwarded": "for=6.6.6.6",
            "X-Custom": "kept",
        },
    )
    assert reply.status == 200
    echo = reply.json()
    assert (echo["method"], echo["raw_path"], echo["query"]) == ("GET", "/echo/a%20b", "x=1&y=%2F")
    assert echo["http_version"] == "1.1"
    seen = seen_headers(reply)
    assert seen["host"] == ["example.test:8443"]
    assert seen["x-custom"] == ["kept"]
    for gone in ("connection", "x-secret-hop", "keep-alive", "te", "proxy-authorization", "transfer-encoding"):
        assert gone not in seen
    # An untrusted peer's forwarding headers are replaced, never passed on.
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["forwarded"] == ['for=127.0.0.1;proto=http;host="example.test:8443"']
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == ["example.test:8443"]
    assert reply.header("date") is not None  # the front server's own, once


def test_trusted_peer_lists_are_appended_to(front: Front) -> None:
    reply = request(
        front.port,
        "/echo",
        headers={
            "x-test-front": "trusted",
            "x-test-client-ip": "2001:db8::1",
            "X-Forwarded-For": "203.0.113.9",
            "Forwarded": "for=203.0.113.9",
        },
    )
    seen = seen_headers(reply)
    assert seen["x-forwarded-for"] == ["203.0.113.9, 2001:db8::1"]
    assert seen["forwarded"] == [f'for=203.0.113.9, for="[2001:db8::1]";proto=http;host="127.0.0.1:{front.port}"']
    assert "x-test-front" not in seen


def test_forwarding_headers_the_connection_header_lists_are_hop_by_hop(front: Front) -> None:
    reply = request(
        front.port,
        "/echo",
        headers={
            "x-test-front": "trusted",
            "x-test-client-ip": "198.51.100.4",
            "Connection": "X-Forwarded-For, Forwarded",
            "X-Forwarded-For": "6.6.6.6",
            "Forwarded": "for=6.6.6.6",
        },
    )
    seen = seen_headers(reply)
    # Even from a trusted peer: what this hop was told to drop is not a list to extend.
    assert seen["x-forwarded-for"] == ["198.51.100.4"]
    assert seen["forwarded"] == [f'for=198.51.100.4;proto=http;host="127.0.0.1:{front.port}"']


HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer"}
    | {"transfer-encoding", "upgrade"}
)
_NAMES = st.sampled_from([b"host", b"x-a", b"connection", b"te", b"x-forwarded-for", b"forwarded", b"keep-alive"])
_VALUES = st.text(alphabet="abcdefgh, =;0123456789.:-XFa", max_size=12).map(str.encode)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=10), st.booleans())
def test_no_hop_by_hop_header_ever_reaches_the_upstream(
    front: Front, headers: list[tuple[bytes, bytes]], trusted: bool
) -> None:
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    if trusted:
        lines += b"x-test-front: trusted\r\n"
    answer = raw_exchange(front.port, b"GET /echo HTTP/1.1\r\nHost: t\r\n" + lines + b"Connection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    event(f"status {status}")
    if status == 400:
        return  # refused by the front (two hosts, none at all, a bad value): nothing reached the upstream
    assert status == 200, answer[:200]
    seen = [str(name).lower() for name, _ in json.loads(body)["headers"]]
    assert not HOP_BY_HOP & set(seen)
    assert seen.count("host") == seen.count("x-forwarded-for") == seen.count("forwarded") == 1


def test_post_round_trip_passes_content_length(front: Front) -> None:
    body = os.urandom(300_000)
    reply = request(front.port, "/echo/post", method="POST", body=body, headers={"Content-Type": "x/y"})
    echo = reply.json()
    assert (echo["method"], echo["body_size"]) == ("POST", len(body))
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    seen = seen_headers(reply)
    assert seen["content-length"] == [str(len(body))]
    assert "transfer-encoding" not in seen
    assert seen["content-type"] == ["x/y"]


def test_base_path_of_the_upstream_url_is_prefixed(front: Front) -> None:
    echo = request(front.port, "/echo/x?q=1", headers={"x-test-front": "prefix"}).json()
    assert (echo["raw_path"], echo["query"]) == ("/base/echo/x", "q=1")


def test_response_hop_by_hop_headers_are_stripped(front: Front) -> None:
    reply = request(front.port, "/hop")
    assert (reply.status, reply.body) == (200, b"hop")
    assert reply.header("x-end-to-end") == "yes"
    for gone in ("x-secret-hop", "keep-alive", "proxy-authenticate", "trailer"):
        assert reply.header(gone) is None


def test_head_request_has_no_body_and_the_connection_goes_on(front: Front) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    try:
        conn.request("HEAD", "/echo")
        head = conn.getresponse()
        assert head.status == 200
        assert head.read() == b""
        assert int(head.getheader("content-length") or 0) > 0
        conn.request("GET", "/echo/after-head")
        assert json.loads(conn.getresponse().read())["path"] == "/echo/after-head"
    finally:
        conn.close()


def test_chunked_request_body_is_streamed_chunked(front: Front) -> None:
    pieces = [os.urandom(n) for n in (1, 1000, 70_000, 5, 300_000)]
    reply = request(front.port, "/echo", method="PUT", body=iter(pieces), chunked=True)
    echo = reply.json()
    assert echo["body_size"] == sum(map(len, pieces))
    assert echo["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()
    seen = seen_headers(reply)
    assert seen["transfer-encoding"] == ["chunked"]
    assert "content-length" not in seen


def test_chunked_response_is_streamed_chunked(front: Front) -> None:
    reply = request(front.port, "/chunked?parts=20")
    assert reply.status == 200
    assert reply.header("transfer-encoding") == "chunked"
    assert reply.header("content-length") is None
    assert reply.body == b"".join(b"part %d " % i + b"x" * (i * 1000) for i in range(20))


# -- large bodies, bounded memory -----------------------------------------------------------------


def _upload(port: int, size: int) -> dict[str, object]:
    def pieces() -> Iterator[bytes]:
        for offset in range(0, size, PIECE):
            yield pattern(min(PIECE, size - offset))

    reply = request(port, "/echo", method="POST", body=pieces(), headers={"Content-Length": str(size)})
    return reply.json()


def _download(port: int, size: int, *, length: bool, pace: float = 0.0) -> tuple[int, str, http.client.HTTPMessage]:
    """Download ``size`` bytes of the pattern; ``pace`` seconds between pieces make a slow reader."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_TIMEOUT)
    try:
        conn.request("GET", f"/download?size={size}" + ("&length=1" if length else ""))
        response = conn.getresponse()
        digest = hashlib.sha256()
        total = 0
        while piece := response.read(PIECE):
            digest.update(piece)
            total += len(piece)
            if pace:
                time.sleep(pace)  # the client's pace, not a wait for the server
        return total, digest.hexdigest(), response.headers
    finally:
        conn.close()


def test_50_mb_upload_and_downloads_stream_in_bounded_memory(front: Front) -> None:
    _upload(front.port, 2 * MB)  # warm up the buffers before the baseline
    _download(front.port, 2 * MB, length=False)
    before = front.peak_rss_kib()

    echo = _upload(front.port, BIG)
    assert echo["body_size"] == BIG
    assert echo["body_sha256"] == pattern_sha256(BIG)

    total, digest, headers = _download(front.port, BIG, length=False)
    assert (total, digest) == (BIG, pattern_sha256(BIG))
    assert headers["transfer-encoding"] == "chunked"

    total, digest, headers = _download(front.port, BIG, length=True)
    assert (total, digest) == (BIG, pattern_sha256(BIG))
    assert headers["content-length"] == str(BIG)

    growth = front.peak_rss_kib() - before
    assert growth < 16 * 1024, f"the proxy's peak RSS grew by {growth} KiB over 3 x 50 MB bodies"


def test_a_slow_reader_holds_the_upstream_back_in_bounded_memory(front: Front) -> None:
    """A client reading far slower than the upstream sends: the front passes the pressure back."""
    _download(front.port, 2 * MB, length=True)  # warm up the buffers before the baseline
    before = front.peak_rss_kib()
    size = 32 * MB
    total, digest, _ = _download(front.port, size, length=True, pace=0.002)
    assert (total, digest) == (size, pattern_sha256(size))
    growth = front.peak_rss_kib() - before
    assert growth < 16 * 1024, f"the proxy's peak RSS grew by {growth} KiB under a slow reader of 32 MB"


# -- failures -------------------------------------------------------------------------------------


def _assert_error_page(reply: Reply, status: int, upstream_port: int) -> None:
    assert reply.status == status
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    assert len(reply.body) < 64
    assert b"127.0.0.1" not in reply.body
    assert str(upstream_port).encode() not in reply.body


def test_upstream_down_is_502(front: Front) -> None:
    reply = request(front.port, "/anything", headers={"x-test-front": "dead"})
    _assert_error_page(reply, 502, front.port)
    assert reply.body == b"502 Bad Gateway\n"


def test_upstream_slower_than_the_read_timeout_is_504(front: Front, upstream: Uvicorn) -> None:
    reply = request(front.port, "/slow?delay=0.8", headers={"x-test-front": "slow"})
    _assert_error_page(reply, 504, upstream.port)
    assert request(front.port, "/slow?delay=0", headers={"x-test-front": "slow"}).body == b"slow"


def test_upstream_failing_mid_body_aborts_the_client_connection(front: Front) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    try:
        conn.request("GET", "/truncated")
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
        assert len(caught.value.partial) == 50_000
    finally:
        conn.close()
    assert request(front.port, "/echo").status == 200


@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
    ids=["not-http", "bad-length", "length-and-chunked", "huge-header"],
)
def test_malformed_upstream_response_is_502(front: Front, scripted: ScriptedUpstream, garbage: bytes) -> None:
    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(garbage)

    scripted.scripts.append(script)
    _assert_error_page(request(front.port, "/x", headers={"x-test-front": "raw"}), 502, scripted.port)


def test_stale_pooled_connection_is_retried_once_for_idempotent_requests(
    front: Front, scripted: ScriptedUpstream
) -> None:
    requests_on_first: list[bytes] = []

    def answers_once_then_closes(conn: socket.socket) -> None:
        requests_on_first.append(read_request(conn))
        conn.sendall(answer_ok(b"first"))
        requests_on_first.append(read_request(conn))  # the upstream closes just as this one arrives

    def answers_and_closes(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer_ok(b"second", close=True))

    scripted.scripts += [answers_once_then_closes, answers_and_closes]
    accepted = scripted.accepted
    assert request(front.port, "/1", headers={"x-test-front": "raw"}).body == b"first"
    assert request(front.port, "/2", headers={"x-test-front": "raw"}).body == b"second"
    assert scripted.accepted - accepted == 2
    assert requests_on_first[1].startswith(b"GET /2 ")


def test_stale_pooled_connection_is_not_retried_for_post(front: Front, scripted: ScriptedUpstream) -> None:
    def answers_once_then_closes(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer_ok(b"first"))
        read_request(conn)

    scripted.scripts.append(answers_once_then_closes)
    accepted = scripted.accepted
    assert request(front.port, "/1", headers={"x-test-front": "raw"}).body == b"first"
    reply = request(front.port, "/2", method="POST", body=b"x", headers={"x-test-front": "raw"})
    assert reply.status == 502
    assert scripted.accepted - accepted == 1


def test_a_pooled_connection_the_upstream_closed_while_idle_is_not_used(
    front: Front, scripted: ScriptedUpstream
) -> None:
    # An upstream's keep-alive timeout (uvicorn's 5 s, gunicorn's 2 s) closes an idle connection:
    # a POST after that must not meet it (it would not be retried: a 502).
    closed = threading.Event()

    def answers_once_then_closes(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer_ok(b"first"))
        conn.shutdown(socket.SHUT_RDWR)
        closed.set()

    def answers(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer_ok(b"second"))

    scripted.scripts += [answers_once_then_closes, answers]
    accepted = scripted.accepted
    assert request(front.port, "/1", headers={"x-test-front": "raw"}).body == b"first"
    assert closed.wait(10)
    reply = request(front.port, "/2", method="POST", body=b"x", headers={"x-test-front": "raw"})
    assert (reply.status, reply.body) == (200, b"second")
    assert scripted.accepted - accepted == 2


def test_client_disconnect_mid_download_closes_the_upstream_connection(front: Front, upstream: Uvicorn) -> None:
    before = stats(upstream)
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        sock.sendall(f"GET /download?size={BIG} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        received = 0
        while received < 2 * MB:
            received += len(sock.recv(65536))
    deadline = time.monotonic() + 15
    while stats(upstream)["downloads_aborted"] == before["downloads_aborted"]:
        assert time.monotonic() < deadline, "the upstream never saw the proxy drop the download"
        time.sleep(0.05)
    assert stats(upstream)["downloads_finished"] == before["downloads_finished"]
    assert request(front.port, "/echo").status == 200


def test_client_disconnect_while_waiting_closes_the_upstream_connection(front: Front, upstream: Uvicorn) -> None:
    before = stats(upstream)["slow_abandoned"]
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as sock:
        sock.sendall(b"GET /slow?delay=0.9 HTTP/1.1\r\nHost: test\r\n\r\n")
        time.sleep(0.2)  # the proxy is waiting for the upstream's answer
        # A client that is gone resets; a mere end of input (FIN) could be a half-close,
        # which the front answers (see test_protecting_server).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    deadline = time.monotonic() + 15
    while stats(upstream)["slow_abandoned"] == before:
        assert time.monotonic() < deadline, "the proxy kept waiting for a client that had gone"
        time.sleep(0.05)
    assert request(front.port, "/echo").status == 200


# -- keep-alive -----------------------------------------------------------------------------------


def test_sequential_requests_share_one_upstream_connection(front: Front) -> None:
    ports = {request(front.port, f"/echo/{i}").json()["client"][1] for i in range(6)}  # type: ignore[index]
    assert len(ports) == 1


def test_connection_close_from_the_upstream_is_not_reused(front: Front) -> None:
    first = request(front.port, "/echo").json()["client"]
    assert request(front.port, "/close").body == b"closing"
    after = request(front.port, "/echo").json()["client"]
    assert first != after


# -- limits and unsupported requests --------------------------------------------------------------


def test_body_over_the_limit_by_content_length_is_413(front: Front) -> None:
    answer = raw_exchange(
        front.port,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nx-test-front: small\r\nContent-Length: 2000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nconnection: close\r\n" in answer.lower()
    assert answer.endswith(b"\r\n\r\n413 Content Too Large\n")


def test_streamed_body_over_the_limit_is_413(front: Front, upstream: Uvicorn) -> None:
    body = b"".join(b"%x\r\n%s\r\n" % (PIECE, b"z" * PIECE) for _ in range(16)) + b"1\r\nz\r\n0\r\n\r\n"
    answer = raw_exchange(
        front.port,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nx-test-front: small\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert request(front.port, "/echo", headers={"x-test-front": "small"}, body=b"x" * MB).json()["body_size"] == MB


def test_websocket_upgrade_is_403(front: Front) -> None:
    answer = raw_exchange(
        front.port,
        b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    # The front refuses WebSocket upgrades itself, before any check or upstream.
    assert answer.startswith(b"HTTP/1.1 403 ")


def test_other_upgrade_is_501(front: Front) -> None:
    reply = request(front.port, "/echo", headers={"Connection": "Upgrade", "Upgrade": "foo/2"})
    assert reply.status == 501
    assert reply.body == b"501 Not Implemented\n"
