"""The bypass suite: crafted requests against real back ends; no protected handler may run.

Fronts, each over real sockets: ``stockade serve`` before a raw echo upstream and before
Flask under gunicorn; the ASGI middleware around Starlette under uvicorn on a dual-stack
socket (so the peer is ``::ffff:127.0.0.1``); the WSGI middleware around Flask under
gunicorn with two workers; the Django middleware under gunicorn. The client at 127.0.0.1
is no trusted proxy, and 127.0.0.2 is banned. Every back end records each handler that
runs with the path and host it saw (see ``apps.py``); the echo upstream records each
request it received. A request is judged by what the back end saw, read by this suite's
own rules (``cases.protected`` and an RFC 3986 reader), never by the guard's code.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stockade.server.listen import ListenAddress
from stockade.server.settings import ListenerSpec
from stockade.server.testing import ServerThread
from tests.integration.bypass.apps import handler_of
from tests.integration.bypass.cases import BANNED, SPOOFED, Case, all_cases, protected
from tests.integration.conftest import V2_SIGNATURE, htpasswd_text
from tests.integration.test_adapters_examples import free_port
from tests.unit.test_canonical_path import backend_reads

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
CASES = all_cases()

RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {"Name": "admin", "Cond": 'req_path_prefix_in("/admin", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
            {
                "Name": "static-private",
                "Cond": 'req_host_in("static.example.com") && req_path_prefix_in("/private", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            },
        ],
        "shop": [
            {
                "Name": "shop-admin",
                "Cond": 'req_path_prefix_in("/shop-admin", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            }
        ],
    },
}

GUARD = """\
[store]
url = "sqlite:///{base}/bypass.db"

[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
auth_name = "secure"
max_retries = "infinity"

[block]
rules = "rules.data"
ip_blocklist = "blocklist.data"
close_status = 403

[block.hosts]
"shop.example.com" = "shop"
"static.example.com" = "static"
default_product = "web"

[bans]
malicious_req_threshold = 1000000
"""


def write_guard(base: Path, upstream: str | None = None) -> Path:
    (base / "users.htpasswd").write_text(htpasswd_text())
    (base / "rules.data").write_text(json.dumps(RULES))
    (base / "blocklist.data").write_text("192.0.2.99\n")
    text = GUARD.format(base=base)
    if upstream is not None:
        text = f'[server]\nlisten = ["127.0.0.1:0"]\nupstream = "{upstream}"\n\n' + text
    config = base / "stockade.toml"
    config.write_text(text)
    done = subprocess.run(
        [str(BIN / "stockade"), "ip", "ban", BANNED, "-c", str(config)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return config


# -- sending -----------------------------------------------------------------------------------


@dataclass
class Sent:
    case: Case
    status: int | None  # None: closed without an answer
    reply: bytes


def send(case: Case, port: int, host: str = "127.0.0.1") -> Sent:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.bind((case.source, 0))
        sock.connect((host, port))
        chunks: list[bytes] = []
        try:
            sock.sendall(case.raw)
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass
    reply = b"".join(chunks)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.") else None
    return Sent(case, status, reply)


def send_all(port: int) -> list[Sent]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda case: send(case, port), CASES))


# -- judging -----------------------------------------------------------------------------------


@dataclass
class Record:
    handler: str
    case: str
    path: str
    host: str
    client: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def read_records(log: Path) -> list[Record]:
    if not log.exists():
        return []
    return [Record(**json.loads(line)) for line in log.read_text().splitlines() if line]


def judge(records: list[Record], sent: list[Sent]) -> None:
    """No protected handler ran, no banned or spoofed client got through, every control arrived."""
    by_case = {s.case.id: s.case for s in sent}
    failures: list[str] = []
    for record in records:
        case = by_case.get(record.case)
        name = f"{record.case}: {record.handler} ran with path {record.path!r} on host {record.host!r}"
        if case is not None and case.source == BANNED:
            failures.append(f"{name}, from the banned client")
        needed = protected(record.path, record.host)
        if record.handler == "secure" and record.case != "control-secure":
            needed = needed or "/secure"
        if needed is not None and not (needed == "/secure" and record.case == "control-secure"):
            failures.append(f"{name}, which {needed} protects")
        if record.handler in ("admin",):
            failures.append(f"{name}, behind a CLOSE rule")
        seen = " ".join(record.headers.values()) + " " + record.client
        if SPOOFED in seen:
            failures.append(f"{name}, believing a spoofed address: {record.headers} {record.client!r}")
        for header in ("x-original-url", "x-rewrite-url", "x-forwarded-user", "x-client-ip", "true-client-ip"):
            if header in record.headers:
                failures.append(f"{name}, with the client's own {header}")
    ran = {record.case: record.handler for record in records}
    for s in sent:
        if s.case.expect is not None and ran.get(s.case.id) != s.case.expect:
            failures.append(f"control {s.case.id}: expected {s.case.expect} to run, got {ran.get(s.case.id)}")
        if s.status == 500:  # an internal error (a server's 501 for an unknown coding is an answer)
            failures.append(f"{s.case.id}: answered {s.status}")
    assert not failures, "\n".join(failures)


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 300
    assert len({case.id for case in CASES}) == len(CASES)


# -- the raw echo upstream ---------------------------------------------------------------------


class Echo:
    """An HTTP/1.1 upstream that records each request it parses (target, Host, headers)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.records: list[Record] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            while True:
                line = reader.readline(65536)
                if not line:
                    return
                _method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers.setdefault(name.strip().lower(), value.strip())
                if "content-length" in headers:
                    reader.read(int(headers["content-length"]))
                elif headers.get("transfer-encoding", "").lower() == "chunked":
                    while (size := int(reader.readline().split(b";")[0], 16)) > 0:
                        reader.read(size + 2)
                    reader.readline()
                self._record(target, headers)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\necho\n")

    def _record(self, target: str, headers: dict[str, str]) -> None:
        try:
            path = backend_reads(target.split("?", 1)[0].encode("ascii"))
        except (UnicodeError, ValueError):
            path = target
        record = Record(handler_of(path), headers.get("x-case", ""), path, headers.get("host", ""), "", headers)
        with self._lock:
            self.records.append(record)

    def close(self) -> None:
        self.sock.close()


def test_server_before_a_raw_echo_upstream(tmp_path: Path) -> None:
    echo = Echo()
    try:
        with ServerThread(write_guard(tmp_path, f"http://127.0.0.1:{echo.port}")) as server:
            sent = send_all(server.port)
        records = echo.records
        for record in records:
            # The upstream hears of the peer as the client; nothing the client claimed survives.
            assert record.headers.get("x-forwarded-for") == "127.0.0.1", record
            assert record.headers.get("x-real-ip") == "127.0.0.1", record
        judge(records, sent)
    finally:
        echo.close()


def proxy_headers(source: str) -> list[bytes]:
    """PROXY protocol headers naming ``source``: v1 TCP4 and UNKNOWN, and v2 over TCP/IPv4."""
    v2_addresses = socket.inet_aton(source) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 80)
    v2 = V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(v2_addresses)) + v2_addresses
    return [
        f"PROXY TCP4 {source} 127.0.0.1 40000 80\r\n".encode(),
        b"PROXY UNKNOWN\r\n",
        f"PROXY TCP6 ::ffff:{source} ::1 40000 80\r\n".encode(),
        v2,
    ]


def test_proxy_headers_are_believed_from_trusted_peers_only(tmp_path: Path) -> None:
    echo = Echo()
    try:
        config = write_guard(tmp_path, f"http://127.0.0.1:{echo.port}")
        with config.open("a") as file:
            file.write('\n[proxy]\ntrusted = ["127.0.0.1"]\n')
        listeners = [ListenerSpec(ListenAddress("127.0.0.1", 0), proxy_protocol="any")]
        with ServerThread(config, listeners=listeners) as server:
            sent: list[Sent] = []
            for n, header in enumerate(proxy_headers(SPOOFED)):
                # The banned client is no proxy: whatever its header says, it is closed unanswered.
                case = Case(f"proxy-untrusted-{n}", header + request_bytes(f"proxy-untrusted-{n}"), source=BANNED)
                sent.append(send(case, server.port))
                assert sent[-1].status is None, sent[-1]
            for n, header in enumerate(proxy_headers(BANNED)):
                # The trusted proxy names the banned client: refused (or closed for UNKNOWN's own peer).
                case = Case(f"proxy-names-banned-{n}", header + request_bytes(f"proxy-names-banned-{n}"))
                sent.append(send(case, server.port))
            trusted = Case("proxy-trusted", proxy_headers("203.0.113.9")[0] + request_bytes("proxy-trusted"))
            sent.append(send(trusted, server.port))
        records = {record.case: record for record in echo.records}
        assert not [case for case in records if case.startswith("proxy-untrusted")]
        assert [case for case in records if case.startswith("proxy-names-banned")] == ["proxy-names-banned-1"]
        assert records["proxy-names-banned-1"].headers["x-forwarded-for"] == "127.0.0.1"  # UNKNOWN: the peer
        assert records["proxy-trusted"].headers["x-forwarded-for"] == "203.0.113.9"
    finally:
        echo.close()


def request_bytes(case: str) -> bytes:
    return f"GET /pub/page HTTP/1.1\r\nHost: www.example.com\r\nX-Case: {case}\r\nConnection: close\r\n\r\n".encode()


# -- real framework servers --------------------------------------------------------------------


@dataclass
class Backend:
    port: int
    log: Path


def wait_listening(process: subprocess.Popen[bytes], port: int, host: str = "127.0.0.1") -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError("the server never listened")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], env: dict[str, str], port: int, pass_fds: tuple[int, ...] = ()) -> Backend:
        log = tmp_path / f"records-{port}.jsonl"
        process = subprocess.Popen(
            command,
            pass_fds=pass_fds,
            cwd=ROOT,
            env={**os.environ, "BYPASS_LOG": str(log), "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        processes.append(process)
        wait_listening(process, port)
        return Backend(port, log)

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def gunicorn(app: str, port: int, workers: int = 1) -> list[str]:
    return [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", app]


def test_server_before_flask_under_gunicorn(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    backend = spawn(gunicorn("tests.integration.bypass.apps:flask_app()", port), {}, port)
    with ServerThread(write_guard(tmp_path, f"http://127.0.0.1:{port}")) as server:
        sent = send_all(server.port)
    judge(read_records(backend.log), sent)


def test_asgi_middleware_around_starlette_under_uvicorn_dual_stack(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    config = write_guard(tmp_path)
    # asyncio makes IPv6 listeners v6-only: the dual-stack socket is made here and handed over.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        command = [
            str(BIN / "uvicorn"),
            "--factory",
            "tests.integration.bypass.apps:starlette_guarded",
            "--fd",
            str(sock.fileno()),
            "--no-proxy-headers",
            "--log-level",
            "warning",
        ]
        backend = spawn(command, {"STOCKADE_CONFIG": str(config)}, port, pass_fds=(sock.fileno(),))
    sent = send_all(backend.port)
    records = read_records(backend.log)
    assert records, "nothing ran"
    assert {record.client for record in records} == {"::ffff:127.0.0.1"}  # the peers were IPv4-mapped
    judge(records, sent)


def test_wsgi_middleware_around_flask_under_gunicorn_two_workers(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    config = write_guard(tmp_path)
    port = free_port()
    backend = spawn(
        gunicorn("tests.integration.bypass.apps:flask_guarded()", port, workers=2),
        {"STOCKADE_CONFIG": str(config)},
        port,
    )
    sent = send_all(backend.port)
    judge(read_records(backend.log), sent)


def test_django_middleware_under_gunicorn(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    config = write_guard(tmp_path)
    port = free_port()
    env = {"STOCKADE_CONFIG": str(config), "DJANGO_SETTINGS_MODULE": "tests.integration.bypass.django_site"}
    backend = spawn(gunicorn("tests.integration.bypass.django_wsgi:application", port), env, port)
    sent = send_all(backend.port)
    judge(read_records(backend.log), sent)
