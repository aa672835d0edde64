"""The admin API over real HTTP: AdminApp under uvicorn on a loopback port, a SQLite-store guard.

The app is served by plain uvicorn (not the protecting server's machinery), so these tests
hold whatever runs it. A synchronous Guard on the same SQLite file plays the logins.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from prometheus_client.parser import text_string_to_metric_families
from schemathesis import GenerationMode
from schemathesis import openapi as schemathesis_openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

import stockade.config  # noqa: F401  (loads stockade.server.settings without an import cycle)
from stockade import AsyncGuard, Guard, ManualClock
from stockade.admin import AdminApp
from stockade.core.bans import BanPolicy
from stockade.core.lockout import LockoutPolicy
from stockade.engine import DirectorySettings, GuardSettings, Listener
from stockade.engine.audit import AuditLog
from stockade.errors import ConfigError, ConfigIssue
from stockade.metrics import Metrics
from stockade.server.settings import AdminSettings
from stockade.server.testing import ServerThread
from stockade.stores import OffloadedStore, SQLiteStore
from tests.integration.conftest import Site

TOKEN = "s3cret-admin-token-\u00e9"
T0 = 1_800_000_000.0
L1 = Listener("127.0.0.1", 8080)
L2 = Listener(None, 8443)
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0, auth_timeout=30.0)
SETTINGS = GuardSettings(
    directories=(DirectorySettings("/secure", POLICY), DirectorySettings("/other", POLICY)),
    listeners=(L1, L2),
    sweep_interval=math.inf,
)
AUTHENTICATED = [
    ("GET", "/metrics"),
    ("GET", "/status"),
    ("GET", "/users/blocked"),
    ("GET", "/users/auth"),
    ("POST", "/users/block"),
    ("POST", "/users/unblock"),
    ("GET", "/ips/status?ip=192.0.2.7"),
    ("GET", "/ips/banned"),
    ("GET", "/ips/warning"),
    ("POST", "/ips/block"),
    ("POST", "/ips/unblock"),
    ("POST", "/reload"),
    ("GET", "/no/such/endpoint"),
    ("DELETE", "/users/block"),
]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Admin:
    """A served AdminApp and what it runs on."""

    port: int
    app: AdminApp
    store_path: Path
    audit_path: Path
    clock: ManualClock
    reloads: list[int] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest(method, path)
            for name, value in sent.items():
                connection.putheader(name, value.encode("utf-8"))
            if data is not None:
                connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def audit_lines(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def admin_calls(self) -> list[dict[str, Any]]:
        return [line for line in self.audit_lines() if line["what"] == "admin_call"]

    def sync_guard(self) -> Guard:
        return Guard(SETTINGS, SQLiteStore(self.store_path), clock=self.clock)


class Served:
    """An ASGI app under uvicorn on a background thread, on a socket bound beforehand."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        for _ in range(1500):
            if self.server.started:
                return self
            self.thread.join(0.01)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.socket.close()


@contextmanager
def serve_admin(
    tmp_path: Path,
    *,
    token: str = TOKEN,
    reload: Callable[[], Awaitable[dict[str, Any]]] | str | None = "default",
) -> Iterator[Admin]:
    clock = ManualClock(T0)
    store_path = tmp_path / "stockade.db"
    audit_path = tmp_path / "logs" / "audit.jsonl"
    audit = AuditLog(audit_path)
    metrics = Metrics()
    guard = AsyncGuard(SETTINGS, OffloadedStore(SQLiteStore(store_path)), clock=clock, sinks=[audit, metrics.sink])
    reloads: list[int] = []

    async def reload_ok() -> dict[str, Any]:
        reloads.append(1)
        return {"reloaded": True, "directories": 2}

    app = AdminApp(
        guard,
        AdminSettings(token=token),
        metrics=metrics,
        reload=reload_ok if reload == "default" else reload,  # type: ignore[arg-type]
        audit=audit,
    )
    try:
        with Served(app) as served:
            yield Admin(served.port, app, store_path, audit_path, clock, reloads)
    finally:
        guard.events.close()
        audit.close()


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    with serve_admin(tmp_path) as served:
        yield served


@pytest.fixture(scope="module")
def shared_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    """One server for tests that change nothing."""
    with serve_admin(tmp_path_factory.mktemp("admin")) as served:
        yield served


# -- the token ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_a_missing_or_wrong_token_is_refused(
    shared_admin: Admin, method: str, path: str, authorization: str | None
) -> None:
    admin = shared_admin
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = admin.call(method, path, {"user": "alice", "dir": "/secure"}, token=None, headers=headers)
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="stockade admin"')
    assert reply.json["error"] == "unauthorized"
    assert admin.admin_calls() == []
    assert admin.reloads == []


def test_two_authorization_headers_are_refused(admin: Admin) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", admin.port, timeout=10)
    connection.putrequest("GET", "/status")
    connection.putheader("Authorization", f"Bearer {TOKEN}".encode())
    connection.putheader("Authorization", f"Bearer {TOKEN}".encode())
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 401
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    connection.close()


def test_the_token_scheme_is_case_insensitive(admin: Admin) -> None:
    assert admin.call("GET", "/status", token=None, headers={"Authorization": f"bearer {TOKEN}"}).status == 200


def test_an_empty_configured_token_refuses_every_authenticated_call(tmp_path: Path) -> None:
    with serve_admin(tmp_path, token="") as served:
        for method, path in AUTHENTICATED:
            for authorization in ("Bearer ", "Bearer x", ""):
                reply = served.call(method, path, token=None, headers={"Authorization": authorization})
                assert reply.status == 401, (method, path, authorization)
        assert served.call("GET", "/health", token=None).status == 200


def test_health_and_openapi_need_no_token(admin: Admin) -> None:
    health = admin.call("GET", "/health", token=None)
    assert (health.status, health.json) == (200, {"status": "ok"})
    description = admin.call("GET", "/openapi.json", token=None)
    assert description.status == 200
    assert description.json["openapi"] == "3.1.0"
    assert set(description.json["paths"]) == {path for path in admin.app.routes}
    for path, methods in admin.app.routes.items():
        assert {m.lower() for m in methods} == set(description.json["paths"][path]), path


def test_unknown_endpoints_and_methods(admin: Admin) -> None:
    missing = admin.call("GET", "/users")
    assert (missing.status, missing.json["error"]) == (404, "not_found")
    wrong = admin.call("GET", "/users/block")
    assert (wrong.status, wrong.json["error"], wrong.headers["Allow"]) == (405, "method_not_allowed", "POST")


def test_the_token_never_shows(admin: Admin, caplog: pytest.LogCaptureFixture) -> None:
    admin.call("POST", "/users/block", {"user": "alice", "dir": "/secure"})
    admin.call("GET", "/status", token="wrong")
    assert TOKEN not in repr(admin.app)
    assert TOKEN not in repr(admin.app._token)
    assert TOKEN not in repr(AdminSettings(token=TOKEN))
    assert TOKEN not in admin.audit_path.read_text()
    assert TOKEN not in caplog.text


# -- status, metrics ------------------------------------------------------------------------


def test_status(admin: Admin) -> None:
    reply = admin.call("GET", "/status")
    assert reply.status == 200
    body = reply.json
    assert body["store"]["url"] == f"sqlite:///{admin.store_path}"
    assert 0 <= body["store"]["latency"] < 5
    assert body["directories"] == ["/other", "/secure"]
    assert set(body) == {"store", "view", "directories", "mod_block"}
    assert body["mod_block"] is None  # no [block] section
    assert admin.call("GET", "/status?verbose=1").status == 400


def test_metrics_parse_as_prometheus_text(admin: Admin) -> None:
    assert admin.call("POST", "/users/block", {"user": "alice", "dir": "/secure"}).status == 200
    reply = admin.call("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(reply.body.decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert families["stockade_requests"].type == "counter"
    assert samples[("stockade_lockout_events_total", (("event", "user_block"),))] == 2.0  # one per listener
    assert samples[("stockade_store_up", ())] == 1.0
    assert 0 <= samples[("stockade_store_latency_seconds", ())] < 5
    assert ("stockade_view_lag_seconds", ()) in samples
    assert samples[("stockade_store_errors_total", ())] == 0.0


# -- users ------------------------------------------------------------------------------------


def test_block_list_unblock(admin: Admin) -> None:
    blocked = admin.call("POST", "/users/block", {"user": "alice", "dir": "/secure", "seconds": 120})
    assert blocked.status == 200
    until = "2027-01-15T08:02:00Z"
    assert blocked.json == {
        "blocked": [
            {"user": "alice", "dir": "/secure", "address": "127.0.0.1", "port": 8080, "until": until},
            {"user": "alice", "dir": "/secure", "address": None, "port": 8443, "until": until},
        ]
    }
    assert admin.call("GET", "/users/blocked").json == {"users": blocked.json["blocked"]}
    assert admin.call("GET", "/users/blocked?dir=/secure&port=8443").json["users"] == blocked.json["blocked"][1:]
    assert admin.call("GET", "/users/blocked?address=127.0.0.1").json["users"] == blocked.json["blocked"][:1]
    assert admin.call("GET", "/users/blocked?address=*").json["users"] == blocked.json["blocked"][1:]
    assert admin.call("GET", "/users/blocked?dir=/other").json == {"users": []}

    removed = admin.call("POST", "/users/unblock", {"user": "alice", "dir": "/secure"})
    assert (removed.status, removed.json) == (200, {"unblocked": blocked.json["blocked"]})
    assert admin.call("GET", "/users/blocked").json == {"users": []}
    again = admin.call("POST", "/users/unblock", {"user": "alice"})
    assert again.status == 404
    assert again.json == {"error": "not_blocked", "message": "user 'alice' is not blocked in any directory"}


def test_block_on_one_listener_forever(admin: Admin) -> None:
    body = {"user": "bob", "dir": "/other", "seconds": "infinity", "address": "*", "port": 8443}
    reply = admin.call("POST", "/users/block", body)
    assert reply.status == 200
    assert reply.json == {"blocked": [{"user": "bob", "dir": "/other", "address": None, "port": 8443, "until": None}]}


def test_block_with_the_directory_block_time(admin: Admin) -> None:
    reply = admin.call("POST", "/users/block", {"user": "bob", "dir": "/secure", "seconds": None})
    assert {entry["until"] for entry in reply.json["blocked"]} == {"2027-01-15T08:01:00Z"}


def test_auth_users(admin: Admin) -> None:
    guard = admin.sync_guard()
    try:
        assert guard.login_succeeded("carol", "/secure", listener=L1).accepted
    finally:
        guard.close()
    reply = admin.call("GET", "/users/auth?dir=/secure")
    assert reply.status == 200
    assert reply.json == {
        "users": [
            {"user": "carol", "dir": "/secure", "address": "127.0.0.1", "port": 8080, "until": "2027-01-15T08:00:30Z"}
        ]
    }
    assert admin.call("GET", "/users/auth?dir=/other").json == {"users": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("POST", "/users/block", {"user": "alice", "dir": "/nope"}, 404, "no_such_directory"),
        ("POST", "/users/block", {"user": "alice", "dir": "secure"}, 404, "no_such_directory"),
        ("POST", "/users/unblock", {"user": "alice", "dir": "/nope"}, 404, "no_such_directory"),
        ("GET", "/users/blocked?dir=/nope", None, 404, "no_such_directory"),
        ("GET", "/users/auth?dir=/nope", None, 404, "no_such_directory"),
        ("POST", "/users/block", {"dir": "/secure"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "", "dir": "/secure"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": 7, "dir": "/secure"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "a\u0000b", "dir": "/secure"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "x" * 257, "dir": "/secure"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "seconds": -1}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "seconds": "soon"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "seconds": True}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "seconds": 1e300}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "port": 9}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "port": 70000}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "address": "10.0.0.1"}, 400, "invalid_argument"),
        ("POST", "/users/block", {"user": "alice", "dir": "/secure", "why": "x"}, 400, "invalid_argument"),
        ("POST", "/users/unblock", {"user": "alice", "dir": 5}, 400, "invalid_argument"),
        ("POST", "/users/block", [1, 2], 400, "invalid_json"),
        ("POST", "/users/block", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?port=http", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?port=-1", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?port=", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?dir=", None, 400, "invalid_argument"),
        ("GET", "/users/auth?address=", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?dir=/secure&dir=/other", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?user=alice", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?dir=%ff", None, 400, "invalid_argument"),
        ("GET", "/users/blocked?address=%00", None, 400, "invalid_argument"),
        ("POST", "/reload", [], 400, "invalid_json"),
    ],
)
def test_errors(admin: Admin, method: str, path: str, body: object, status: int, kind: str) -> None:
    reply = admin.call(method, path, body)
    assert (reply.status, reply.json["error"]) == (status, kind), reply.json
    assert isinstance(reply.json["message"], str)
    assert set(reply.json) == {"error", "message"}


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"user": NaN, "dir": "/secure"}', b"\xff\xfe", b'{"user": "\\ud800", "dir": "/secure"}'],
)
def test_bad_json_bodies(admin: Admin, raw: bytes) -> None:
    reply = admin.call("POST", "/users/block", raw=raw)
    assert reply.status == 400
    assert reply.json["error"] in ("invalid_json", "invalid_argument")


def test_a_body_too_large(admin: Admin) -> None:
    reply = admin.call("POST", "/users/block", raw=b" " * (64 * 1024 + 1))
    assert (reply.status, reply.json["error"]) == (413, "payload_too_large")


# -- IP bans ------------------------------------------------------------------------------------


def test_ban_status_list_unban(admin: Admin) -> None:
    assert admin.call("GET", "/ips/status?ip=192.0.2.7").json == {
        "ip": "192.0.2.7",
        "verdict": "safe",
        "count": 0,
        "seconds_left": None,
    }
    banned = admin.call("POST", "/ips/block", {"ip": "192.0.2.7", "seconds": 90})
    assert (banned.status, banned.json) == (
        200,
        {"banned": {"ip": "192.0.2.7", "until": "2027-01-15T08:01:30Z", "network": False}},
    )
    network = admin.call("POST", "/ips/block", {"ip": "198.51.100.0/24", "seconds": "infinity"})
    assert network.json == {"banned": {"ip": "198.51.100.0/24", "until": None, "network": True}}
    status = admin.call("GET", "/ips/status?ip=::ffff:198.51.100.9").json
    assert (status["verdict"], status["seconds_left"]) == ("blocked", None)
    assert admin.call("GET", "/ips/status?ip=192.0.2.7").json["seconds_left"] == 90
    assert admin.call("GET", "/ips/banned").json == {"bans": [banned.json["banned"], network.json["banned"]]}
    unbanned = admin.call("POST", "/ips/unblock", {"ip": "192.0.2.7"})
    assert (unbanned.status, unbanned.json["unbanned"]["ip"]) == (200, "192.0.2.7")
    again = admin.call("POST", "/ips/unblock", {"ip": "192.0.2.7"})
    assert again.status == 404
    assert again.json == {"error": "not_banned", "message": "'192.0.2.7' is not banned"}


def test_a_ban_keeps_a_longer_one_unless_forced(admin: Admin) -> None:
    long = admin.call("POST", "/ips/block", {"ip": "192.0.2.7", "seconds": 3600})
    assert long.json["banned"]["until"] == "2027-01-15T09:00:00Z"
    kept = admin.call("POST", "/ips/block", {"ip": "192.0.2.7", "seconds": 60})
    assert (kept.status, kept.json["banned"]["until"]) == (200, "2027-01-15T09:00:00Z")
    forced = admin.call("POST", "/ips/block", {"ip": "192.0.2.7", "seconds": 60, "force": True})
    assert forced.json["banned"]["until"] == "2027-01-15T08:01:00Z"
    assert admin.call("GET", "/ips/status?ip=192.0.2.7").json["seconds_left"] == 60
    refused = admin.call("POST", "/ips/block", {"ip": "198.51.100.7/24"})
    assert (refused.status, refused.json) == (
        400,
        {
            "error": "invalid_ip_address",
            "message": "'198.51.100.7/24' has host bits set: the network is 198.51.100.0/24",
        },
    )


def test_the_clients_in_the_warning_state(admin: Admin) -> None:
    assert admin.call("GET", "/ips/warning").json == {"warning": []}
    store = SQLiteStore(admin.store_path)
    try:
        for ip, strikes in (("203.0.113.5", 2), ("198.51.100.1", 1)):
            for i in range(strikes):
                store.record_strike(ip, T0 - 10 + i, BanPolicy())
        store.ban_ip("192.0.2.1", T0 + 60, T0, BanPolicy())
    finally:
        store.close()
    assert admin.call("GET", "/ips/warning").json == {
        "warning": [
            {"ip": "198.51.100.1", "count": 1, "last": "2027-01-15T07:59:50Z"},
            {"ip": "203.0.113.5", "count": 2, "last": "2027-01-15T07:59:51Z"},
        ]
    }
    assert admin.call("GET", "/ips/warning?ip=1").status == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("POST", "/ips/block", {"ip": "1.2.3.4", "force": "yes"}, 400, "invalid_argument"),
        ("GET", "/ips/status", None, 400, "invalid_argument"),
        ("GET", "/ips/status?ip=banana", None, 400, "invalid_ip_address"),
        ("GET", "/ips/status?ip=", None, 400, "invalid_ip_address"),
        ("GET", "/ips/banned?ip=1.2.3.4", None, 400, "invalid_argument"),
        ("POST", "/ips/block", {}, 400, "invalid_argument"),
        ("POST", "/ips/block", {"ip": "1.2.3.4/99"}, 400, "invalid_ip_address"),
        ("POST", "/ips/block", {"ip": "1.2.3.4", "seconds": -3}, 400, "invalid_argument"),
        ("POST", "/ips/block", {"ip": "1.2.3.4", "port": 80}, 400, "invalid_argument"),
        ("POST", "/ips/unblock", {"ip": 7}, 400, "invalid_argument"),
        ("POST", "/ips/unblock", {"ip": "not an ip"}, 400, "invalid_ip_address"),
    ],
)
def test_ban_errors(admin: Admin, method: str, path: str, body: object, status: int, kind: str) -> None:
    reply = admin.call(method, path, body)
    assert (reply.status, reply.json["error"]) == (status, kind), reply.json


# -- reload -------------------------------------------------------------------------------------


def test_reload(admin: Admin) -> None:
    reply = admin.call("POST", "/reload")
    assert (reply.status, reply.json) == (200, {"reloaded": True, "directories": 2})
    assert admin.reloads == [1]


def test_reload_failure_keeps_the_old_state(tmp_path: Path) -> None:
    async def broken() -> dict[str, Any]:
        raise ConfigError("stockade.toml", [ConfigIssue("server.listen", "bad address", "x", True)])

    with serve_admin(tmp_path, reload=broken) as served:
        reply = served.call("POST", "/reload")
        assert reply.status == 409
        assert reply.json == {
            "error": "reload_failed",
            "message": "the configuration was not reloaded: stockade.toml: server.listen: bad address (got 'x')",
            "errors": ["stockade.toml: server.listen: bad address (got 'x')"],
        }
        assert served.admin_calls()[-1]["status"] == 409


def test_reload_not_available(tmp_path: Path) -> None:
    with serve_admin(tmp_path, reload=None) as served:
        reply = served.call("POST", "/reload")
        assert (reply.status, reply.json["error"]) == (501, "not_implemented")


# -- the audit log ------------------------------------------------------------------------------


def test_every_mutating_call_is_audited(admin: Admin) -> None:
    admin.call("POST", "/users/block", {"user": "alice", "dir": "/secure", "seconds": 5})
    admin.call("POST", "/users/unblock", {"user": "alice", "dir": "/secure"})
    admin.call("POST", "/users/unblock", {"user": "alice"})
    admin.call("POST", "/users/block", {"user": "alice", "dir": "/nope"})
    admin.call("POST", "/users/block", raw=b"{")
    admin.call("POST", "/ips/block", {"ip": "192.0.2.7"})
    admin.call("POST", "/ips/unblock", {"ip": "192.0.2.7"})
    admin.call("POST", "/reload")
    admin.call("GET", "/users/blocked")  # reads are not audited
    admin.call("POST", "/users/block", {"user": "mallory", "dir": "/secure"}, token="guess")  # nor refusals
    calls = admin.admin_calls()
    assert [(c["action"], c["args"], c["status"]) for c in calls] == [
        ("block_user", {"user": "alice", "dir": "/secure", "seconds": 5}, 200),
        ("unblock_user", {"user": "alice", "dir": "/secure"}, 200),
        ("unblock_user", {"user": "alice"}, 404),
        ("block_user", {"user": "alice", "dir": "/nope"}, 404),
        ("block_user", {}, 400),
        ("block_ip", {"ip": "192.0.2.7"}, 200),
        ("unblock_ip", {"ip": "192.0.2.7"}, 200),
        ("reload", {}, 200),
    ]
    assert {c["by"] for c in calls} == {"admin"}
    assert {c["at"] for c in calls} == {"2027-01-15T08:00:00.000Z"}
    # The guard's own events reach the same log, marked as made through the API.
    events = [(line["what"], line.get("by")) for line in admin.audit_lines() if line["what"] != "admin_call"]
    assert events == [
        ("user_block", "api"),
        ("user_block", "api"),
        ("user_unblock", "api"),
        ("user_unblock", "api"),
        ("ip_block", "api"),
        ("ip_unblock", "api"),
    ]


# -- schemathesis ---------------------------------------------------------------------------------

ASCII_TOKEN = "schemathesis-admin-token"
EXAMPLES = 50  # per strategy: about 1000 requests, some 10 s


def test_schemathesis_finds_no_server_error(site: Site) -> None:
    """Generated requests (valid and invalid) against the real server's API and description: never a 5xx.

    The protecting server itself serves the API here (not the stand-in above), so its real
    reload, metrics and status answer what the description promises.
    """
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        ignored_auth,
    ]
    table = {"auth_user_file": site.htpasswd.name, "max_retries": 3}
    config = site.write_config(directories=[{"path": "/secure", **table}, {"path": "/other", **table}])
    config.write_text(config.read_text() + f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{ASCII_TOKEN}"\n')
    with ServerThread(config, clock=ManualClock(T0)) as served:
        base = served.admin_url.rstrip("/")
        schema = schemathesis_openapi.from_url(f"{base}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        admin = served.app.site.admin  # type: ignore[union-attr]
        assert admin is not None
        # Everything but the description itself, which schemathesis leaves out.
        assert {op.path for op in operations} == set(admin.routes) - {"/openapi.json"}
        auth = {"Authorization": f"Bearer {ASCII_TOKEN}"}
        for operation in operations:
            # Invalid requests exist only where there are parameters or a body to break.
            breakable = bool(len(operation.query) or len(operation.body))
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if breakable else (GenerationMode.POSITIVE,)
            strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
            # The schema's examples name the configured directories: requests that get past a 404.
            strategies += schema.get_strategies_from_examples(operation)
            for strategy in strategies:

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
                @given(strategy)
                def run(case: Any) -> None:
                    case.call_and_validate(base_url=base, headers=auth, checks=checks)

                run()
        served.flush_events()
    calls = [json.loads(line) for line in (site.base / "audit.jsonl").read_text().splitlines()]
    statuses = {(c["action"], c["status"]) for c in calls if c["what"] == "admin_call"}
    # The run reached the happy paths too, and every reload went through the real one.
    assert {("block_user", 200), ("unblock_user", 200), ("reload", 200)} <= statuses, statuses
    reloads = [c for c in calls if c["what"] == "reload"]
    assert reloads
    assert {(c["trigger"], c["outcome"]) for c in reloads} == {("api", "ok")}
