"""Request smuggling: requests whose end a front and an upstream could disagree on.

Each is refused with a 400 and nothing of it reaches the upstream: CL.TE, TE.CL, two
``Content-Length`` lines, obfuscated ``Transfer-Encoding``, malformed chunking. The
upstream is a raw socket that records every byte it receives, so "nothing reached it" is
read from what it saw, not from the front's word.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.server.testing import ServerThread
from tests.integration.conftest import Site

HEAD = b"POST /target HTTP/1.1\r\nHost: a\r\n"

CASES: dict[str, bytes] = {
    "cl-te": HEAD + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "te-cl": HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    "two-lengths": HEAD + b"Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
    "two-equal-lengths": HEAD + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "length-list": HEAD + b"Content-Length: 3, 3\r\n\r\nabc",
    "signed-length": HEAD + b"Content-Length: +3\r\n\r\nabc",
    "te-xchunked": HEAD + b"Transfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-space-before-colon": HEAD + b"Transfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-chunked-identity": HEAD + b"Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-twice": HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-vertical-tab": HEAD + b"Transfer-Encoding: \x0bchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-folded": HEAD + b"Transfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-on-http-1.0": b"POST /target HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "chunk-size-not-hex": HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "chunk-size-negative": HEAD + b"Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    "chunk-size-overflow": HEAD + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    "chunk-longer-than-its-size": HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
    "chunk-size-bare-lf": HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
    "chunk-size-with-space": HEAD + b"Transfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n0\r\n\r\n",
}


class RecordingUpstream:
    """A raw upstream on a thread: records every byte it receives, answers every request 200."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.received = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                while data := conn.recv(65536):
                    with self.lock:
                        self.received += data
                    if b"\r\n\r\n" in data:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except OSError:
                return

    def seen(self) -> bytes:
        with self.lock:
            return bytes(self.received)


@pytest.fixture(scope="module")
def recorder() -> Iterator[RecordingUpstream]:
    upstream = RecordingUpstream()
    yield upstream
    upstream.sock.close()


@pytest.fixture
def front(site: Site, recorder: RecordingUpstream) -> Iterator[ServerThread]:
    config = site.write_config(directories=[])
    text = config.read_text().replace("[server]\n", f'[server]\nupstream = "http://127.0.0.1:{recorder.port}"\n', 1)
    Path(config).write_text(text)
    with ServerThread(config) as running:
        yield running


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def test_a_plain_post_reaches_the_upstream(front: ServerThread, recorder: RecordingUpstream) -> None:
    before = len(recorder.seen())
    answer = exchange(front.port, HEAD + b"Content-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"POST /target HTTP/1.1\r\n" in recorder.seen()[before:]


@pytest.mark.parametrize("case", list(CASES))
def test_smuggling_is_400_and_never_reaches_the_upstream(
    front: ServerThread, recorder: RecordingUpstream, case: str
) -> None:
    before = len(recorder.seen())
    answer = exchange(front.port, CASES[case])
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1, "a second request was read out of the first one's body"
    assert recorder.seen()[before:] == b""
