"""Helpers for the reference scenarios: a site on disk, a real HTTP client, the event log.

A :class:`Site` writes a document root, an htpasswd file with fast ``{SHA}`` entries and a
TOML configuration into a temporary directory. A :class:`Scenario` runs the server of that
configuration on a background thread with a :class:`~stockade.clock.ManualClock`, talks to
it over real sockets, opens a second (synchronous) :class:`~stockade.Guard` on the same
SQLite file for the API calls, and reads the events that the configured callback wrote.

Events are read only after both guards flushed their callback queues, so each step sees
exactly the events it caused, in order, without sleeping.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stockade import Guard, ManualClock, open_store
from stockade.engine.audit import AuditLog
from stockade.server.testing import ServerThread
from tests.integration import callbacks
from tests.integration.toml_text import toml_value

USERS = ("alice", "bob", "dave", "kate", "erin", "leo", "henry", "ivan", "judy", "frank", "outsider")
REQUIRED = tuple(u for u in USERS if u != "outsider")
CALLBACK = "tests.integration.callbacks:record"
EVENTS_ENV = "STOCKADE_TEST_EVENTS"
WRONG = "not-the-password"
REALM = "Secure Area"

TomlValue = str | int | float | bool | list[str]

# The reference's test settings (mod_security.md §8.1): block and window of one minute.
DEFAULT_DIRECTORY: dict[str, TomlValue] = {
    "auth_name": REALM,
    "require_user": list(REQUIRED),
    "max_retries": 3,
    "block_time": 1,
    "fail_expire_time": 1,
    "auth_timeout": 30,
    "callback": [CALLBACK],
}


def password(user: str) -> str:
    """Every user's valid password (``outsider`` has one too, but is not in ``require_user``)."""
    return f"{user}-secret"


def sha_entry(user: str, secret: str) -> str:
    digest = base64.b64encode(hashlib.sha1(secret.encode()).digest()).decode()  # the htpasswd {SHA} format
    return f"{user}:{{SHA}}{digest}"


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def free_port() -> int:
    """A port that was free a moment ago (for a restart on the same port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Site:
    """The files of one server: document root, users, configuration, event and audit files."""

    base: Path
    config_path: Path
    events_path: Path
    audit_path: Path

    @classmethod
    def create(
        cls,
        base: Path,
        *,
        port: int = 0,
        directories: Mapping[str, Mapping[str, TomlValue]] | None = None,
    ) -> Site:
        """``directories`` maps "/secure" and "/fast" (and any other path) to setting overrides."""
        root = base / "htdocs"
        for sub in ("", "secure", "fast"):
            (root / sub).mkdir(parents=True, exist_ok=True)
            (root / sub / "index.html").write_text(f"<h1>{sub or 'home'}</h1>\n")
        users = base / "users.htpasswd"
        users.write_text("".join(sha_entry(u, password(u)) + "\n" for u in USERS))
        overrides = {"/secure": {}, "/fast": {}, **(directories or {})}
        lines = [
            "[server]",
            f"listen = {toml_value([f'127.0.0.1:{port}'])}",
            f"document_root = {toml_value(str(root))}",
            "",
            "[store]",
            f"url = {toml_value('sqlite:///' + str(base / 'state.db'))}",
            "",
            "[audit]",
            f"json = {toml_value(str(base / 'audit.jsonl'))}",
        ]
        for path, override in overrides.items():
            settings = {"path": path, "auth_user_file": str(users), **DEFAULT_DIRECTORY, **override}
            lines += ["", "[[directory]]"]
            lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
        config_path = base / "stockade.toml"
        config_path.write_text("\n".join(lines) + "\n")
        return cls(base, config_path, base / "events.jsonl", base / "audit.jsonl")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def challenged(self) -> bool:
        return self.header("WWW-Authenticate") is not None


Step = tuple[str, str]  # (what, data["user"])


class Scenario:
    """One running server plus the test's own API guard, both on the site's SQLite file."""

    def __init__(self, site: Site, clock: ManualClock) -> None:
        self.site = site
        self.clock = clock
        self.server: ServerThread | None = None
        self._guard: Guard | None = None
        self._seen = 0
        self.history: list[dict[str, object]] = []

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ServerThread:
        self.server = ServerThread(self.site.config_path, clock=self.clock).start()
        return self.server

    def stop(self) -> None:
        """Stop the server and close the API guard (both deliver their queued events first)."""
        if self._guard is not None:
            self._guard.close()
            self._guard = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> ServerThread:
        self.stop()
        return self.start()

    @property
    def running(self) -> ServerThread:
        if self.server is None:
            raise RuntimeError("the server is not running")
        return self.server

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def guard(self) -> Guard:
        """A synchronous guard on the same data file, with the server's bound listeners and audit log."""
        if self._guard is None:
            server = self.running
            config = server.config
            settings = dataclasses.replace(
                config.guard_settings(), listeners=tuple(address.listener for address in server.listen)
            )
            self._guard = Guard(
                settings,
                open_store(config.store_url, config.base),
                clock=self.clock,
                sinks=[AuditLog(config.audit_json)],
            )
        return self._guard

    # -- HTTP -------------------------------------------------------------------------------

    def get(self, path: str, user: str | None = None, secret: str | None = None) -> Reply:
        headers = {} if user is None else {"Authorization": basic(user, password(user) if secret is None else secret)}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            return Reply(response.status, tuple(response.getheaders()), body)
        finally:
            conn.close()

    def right(self, user: str, directory: str = "/secure") -> Reply:
        return self.get(directory + "/", user)

    def wrong(self, user: str, directory: str = "/secure") -> Reply:
        return self.get(directory + "/", user, WRONG)

    def raw(self, request: bytes) -> bytes:
        """Send ``request`` as is and read the whole answer (the request must say ``Connection: close``)."""
        chunks: list[bytes] = []
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    # -- events -----------------------------------------------------------------------------

    def events(self) -> list[dict[str, object]]:
        """The callback events written since the last call, after both guards flushed."""
        if self._guard is not None:
            assert self._guard.flush_events(5.0)
        if self.server is not None:
            assert self.server.flush_events(5.0)
        written = callbacks.read(self.site.events_path)
        new, self._seen = written[self._seen :], len(written)
        self.history.extend(new)
        return new

    def steps(self) -> list[Step]:
        """:meth:`events` as ``(what, user)`` pairs."""
        return [(str(e["what"]), str(data(e).get("user"))) for e in self.events()]

    def audit(self) -> list[dict[str, object]]:
        """The JSON audit log (server and API guard write to the same file)."""
        if not self.site.audit_path.exists():
            return []
        return [json.loads(line) for line in self.site.audit_path.read_text().splitlines() if line.strip()]


def data(event: Mapping[str, object]) -> Mapping[str, object]:
    """The ``data`` mapping of a recorded event."""
    found = event.get("data")
    return found if isinstance(found, Mapping) else {}


@contextmanager
def running(site: Site, clock: ManualClock) -> Iterator[Scenario]:
    scenario = Scenario(site, clock)
    scenario.start()
    try:
        yield scenario
    finally:
        scenario.stop()
