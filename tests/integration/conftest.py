"""Fixtures for tests that run the real server on real sockets.

- ``site``: a temporary site (document root, htpasswd file, SQLite store, audit logs, event
  file) with :meth:`Site.write_config` to write a ``stockade.toml`` for it.
- ``clock``: a :class:`~stockade.clock.ManualClock` (tests never sleep to move time).
- ``server``: the server of the default site config, running in-process on a thread
  (:class:`~stockade.server.testing.ServerThread`) with ``clock``; for other settings,
  write a config with ``site.write_config(...)`` and start ``ServerThread`` yourself.
- ``client``: an :class:`HttpClient` bound to ``server``.

Users (fast hashes so tests stay fast): alice/wonderland (SHA1), bob/builder (bcrypt cost 4),
carol/c:o:l:o:n (SHA1, a password containing colons).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from stockade.clock import ManualClock
from stockade.server.testing import ServerThread
from tests.integration import callbacks
from tests.integration.toml_text import toml_value

# The twelve bytes that open a PROXY protocol v2 header.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PASSWORDS = {"alice": "wonderland", "bob": "builder", "carol": "c:o:l:o:n"}
SECRET = b"<h1>top secret</h1>\n"
PUBLIC = b"<h1>public</h1>\n"


def _sha1(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def htpasswd_text() -> str:
    bob = bcrypt.hashpw(PASSWORDS["bob"].encode(), bcrypt.gensalt(4)).decode()
    return f"alice:{_sha1(PASSWORDS['alice'])}\nbob:{bob}\ncarol:{_sha1(PASSWORDS['carol'])}\n"


@dataclass
class Site:
    """A temporary site: ``docroot`` holds ``index.html``, ``secure/`` (protected) and ``pub/``."""

    base: Path
    docroot: Path
    htpasswd: Path
    store: Path
    events: Path

    def write_config(
        self,
        *,
        listen: Sequence[str] = ("127.0.0.1:0",),
        directories: Sequence[Mapping[str, object]] | None = None,
        store_url: str | None = None,
        audit: bool = True,
        workers: int | None = None,
        name: str = "stockade.toml",
        **directory: object,
    ) -> Path:
        """Write a config; ``directory`` overrides settings of the default ``/secure`` directory.

        The default directory is ``/secure`` with realm "Secure Area", max_retries 3,
        block_time 1 (minute), fail_expire_time 30 and the test callback. Pass
        ``directories`` to replace it with a list of tables.
        """
        if directories is None:
            defaults: dict[str, object] = {
                "path": "/secure",
                "auth_user_file": self.htpasswd.name,
                "auth_name": "Secure Area",
                "max_retries": 3,
                "block_time": 1,
                "fail_expire_time": 30,
                "callback": "tests.integration.callbacks:record",
            }
            directories = [{**defaults, **directory}]
        lines = ["[server]", f"listen = {toml_value(list(listen))}", f"document_root = {toml_value(self.docroot.name)}"]
        if workers is not None:
            lines.append(f"workers = {workers}")
        lines += ["", "[store]", f"url = {toml_value(store_url or 'sqlite:///' + self.store.name)}"]
        if audit:
            lines += ["", "[audit]", 'json = "audit.jsonl"', 'text = "security.log"']
        for table in directories:
            lines += ["", "[[directory]]", *(f"{key} = {toml_value(value)}" for key, value in table.items())]
        path = self.base / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def read_events(self, what: str | None = None) -> list[dict[str, object]]:
        """Events the test callback recorded (flush the server first), optionally of one kind."""
        return [e for e in callbacks.read(self.events) if what is None or e["what"] == what]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    made = new_site(tmp_path)
    monkeypatch.setenv("STOCKADE_TEST_EVENTS", str(made.events))
    return made


def new_site(tmp_path: Path) -> Site:
    """The files of a :class:`Site` under ``tmp_path``.

    The ``site`` fixture also points the test callback at its events.
    """
    docroot = tmp_path / "htdocs"
    (docroot / "secure" / "sub").mkdir(parents=True)
    (docroot / "pub").mkdir()
    (docroot / "index.html").write_bytes(PUBLIC)
    (docroot / "pub" / "page.html").write_bytes(b"<p>page</p>\n")
    (docroot / "secure" / "index.html").write_bytes(SECRET)
    (docroot / "secure" / "data.txt").write_bytes(b"secret data\n")
    (docroot / "secure" / "sub" / "index.html").write_bytes(SECRET)
    htpasswd = tmp_path / "users.htpasswd"
    htpasswd.write_text(htpasswd_text())
    events = tmp_path / "events.jsonl"
    return Site(tmp_path, docroot, htpasswd, tmp_path / "stockade.db", events)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(site: Site, clock: ManualClock) -> Iterator[ServerThread]:
    with ServerThread(site.write_config(), clock=clock) as running:
        yield running


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def basic(user: str, password: str, encoding: str = "utf-8") -> str:
    """The value of an ``Authorization: Basic`` header."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode(encoding)).decode("ascii")


class HttpClient:
    """A tiny stdlib HTTP client: one connection per request, headers passed through untouched."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: tuple[str, str] | None = None,
        headers: Sequence[tuple[str, str | bytes]] = (),
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            if auth is not None:
                conn.putheader("Authorization", basic(*auth))
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            conn.close()

    def get(
        self, path: str, *, auth: tuple[str, str] | None = None, headers: Sequence[tuple[str, str | bytes]] = ()
    ) -> Reply:
        return self.request("GET", path, auth=auth, headers=headers)

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are and read the answer until the server closes (for odd requests)."""
        with socket.create_connection((self.host, self.port), timeout=10) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def client(server: ServerThread) -> HttpClient:
    return HttpClient(server.port)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the console's screenshots are, when the browser tests took some."""
    from tests.integration.console_support import SCREENSHOTS  # noqa: PLC0415

    if SCREENSHOTS:
        terminalreporter.write_line(f"console screenshots ({len(SCREENSHOTS)}): {SCREENSHOTS[0].parent}")
