"""Events, their delivery to callbacks and sinks, and the audit log (mod_security.md §5)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from stockade.core.events import Event, lockout_event
from stockade.core.lockout import LockoutKey
from stockade.engine.audit import AuditLog, inets_date, inets_message
from stockade.engine.events import CallbackSink, EventBus, resolve_callback
from tests.unit.test_guard import Recorder

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
KEY = LockoutKey("/secure", "alice", "10.0.0.1", "127.0.0.1", 8080)


def test_lockout_event_carries_user_and_client() -> None:
    event = lockout_event("auth_fail", KEY, T0, request="GET /secure/ HTTP/1.1", seconds=None)
    assert (event.what, event.address, event.port, event.directory, event.at) == (
        "auth_fail",
        "127.0.0.1",
        8080,
        "/secure",
        T0,
    )
    assert dict(event.data) == {"user": "alice", "client": "10.0.0.1", "request": "GET /secure/ HTTP/1.1"}
    plain = lockout_event("user_block", LockoutKey("/secure", "bob"), T0)
    assert dict(plain.data) == {"user": "bob"}
    assert plain.as_dict() == {
        "what": "user_block",
        "address": None,
        "port": 0,
        "directory": "/secure",
        "data": {"user": "bob"},
        "at": T0,
    }
    assert plain.as_audit_only().audit_only
    assert not plain.audit_only


def test_event_data_is_read_only() -> None:
    event = lockout_event("auth_fail", KEY, T0)
    with pytest.raises(TypeError):
        event.data["password"] = "x"  # type: ignore[index]


# -- EventBus / CallbackSink -------------------------------------------------------------------


class ListSink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def submit(self, event: Event) -> None:
        self.events.append(event)

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class BrokenSink(ListSink):
    def submit(self, event: Event) -> None:
        raise OSError("disk full")


def test_bus_routes_callback_events_by_directory_and_everything_to_sinks() -> None:
    secure, other = Recorder(), Recorder()
    sink = ListSink()
    bus = EventBus([BrokenSink(), sink], {"/secure": [secure], "/other": [other]})
    try:
        events = [
            lockout_event("auth_fail", KEY, T0),
            lockout_event("auth_success", KEY, T0),
            lockout_event("auth_refused", KEY, T0),
            lockout_event("user_block", KEY, T0),
            lockout_event("user_unblock", KEY, T0, by="api").as_audit_only(),
            lockout_event("user_unblock", KEY, T0),
            lockout_event("auth_fail", LockoutKey("/other", "bob"), T0),
        ]
        bus.emit_all(events)
        assert bus.flush(5)
    finally:
        bus.close()
    assert sink.events == events
    assert sink.closed
    assert secure.whats == ["auth_fail", "user_block", "user_unblock"]
    assert [(c.what, c.address, c.port, c.directory, c.data) for c in other.calls] == [
        ("auth_fail", None, 0, "/other", {"user": "bob"})
    ]


def test_a_callback_shared_by_directories_runs_on_one_thread() -> None:
    threads: set[int] = set()

    def cb(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        threads.add(threading.get_ident())

    bus = EventBus([], {"/a": [cb], "/b": [cb]})
    try:
        bus.emit(lockout_event("auth_fail", LockoutKey("/a", "x"), T0))
        bus.emit(lockout_event("auth_fail", LockoutKey("/b", "x"), T0))
        assert bus.flush(5)
    finally:
        bus.close()
    assert len(threads) == 1


def test_callback_failures_are_counted() -> None:
    def broken(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        raise ValueError("bug")

    sink = CallbackSink(broken)
    try:
        for _ in range(3):
            sink.submit(lockout_event("auth_fail", KEY, T0))
        assert sink.flush(5)
        assert sink.failures == 3
    finally:
        sink.close()


def test_a_full_queue_drops_and_counts() -> None:
    gate = threading.Event()
    entered = threading.Event()

    def stuck(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        entered.set()
        gate.wait(timeout=10)

    sink = CallbackSink(stuck, capacity=2)
    try:
        sink.submit(lockout_event("auth_fail", KEY, T0))
        assert entered.wait(timeout=10)
        for _ in range(5):
            sink.submit(lockout_event("auth_fail", KEY, T0))
        assert sink.dropped == 3
        assert not sink.flush(0.05)
    finally:
        gate.set()
        assert sink.flush(5)
        sink.close()


def test_close_does_not_hang_on_a_stuck_callback_with_a_full_queue(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    entered = threading.Event()
    delivered: list[str] = []

    def stuck(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        entered.set()
        gate.wait(timeout=10)
        delivered.append(what)

    sink = CallbackSink(stuck, capacity=1)
    sink.submit(lockout_event("auth_fail", KEY, T0))
    assert entered.wait(timeout=10)
    sink.submit(lockout_event("user_block", KEY, T0))
    with caplog.at_level(logging.WARNING, logger="stockade.events"):
        sink.close()  # returns although the callback is stuck and the queue is full
    assert "is stuck; closing without waiting for it" in caplog.text
    gate.set()
    assert sink.flush(5)
    assert delivered == ["auth_fail", "user_block"]
    sink.close()


# -- callbacks from configuration --------------------------------------------------------------


def test_resolve_callback() -> None:
    fn = resolve_callback("tests.integration.callbacks:record")
    assert callable(fn)
    dumps: object = resolve_callback("json:dumps")
    assert dumps is json.dumps


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("no_colon", "expected 'package.module:function'"),
        (":f", "expected 'package.module:function'"),
        ("json:", "expected 'package.module:function'"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("json:nope", "module 'json' has no attribute 'nope'"),
        ("json:__doc__", "'json:__doc__' is not callable"),
    ],
)
def test_resolve_callback_errors(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match="^" + reason.replace("(", r"\(").replace(".", r"\.")):
        resolve_callback(spec)


# -- the audit log -----------------------------------------------------------------------------


def _events() -> list[Event]:
    user_key = LockoutKey("/secure", "alice", "", "127.0.0.1", 8080)
    return [
        lockout_event("auth_fail", KEY, T0 + 0.25, request="GET /secure/ HTTP/1.1"),
        lockout_event("user_block", user_key, T0 + 1, seconds=60.0),
        lockout_event("auth_refused", KEY, T0 + 2, request="GET /secure/ HTTP/1.1"),
        lockout_event("user_block", user_key, T0 + 3, by="api"),
        lockout_event("user_unblock", user_key, T0 + 4, by="api").as_audit_only(),
        lockout_event("user_unblock", user_key, T0 + 5),
        lockout_event("auth_success", KEY, T0 + 6, request="GET /fast/ HTTP/1.1"),
        Event("something_else", None, 0, "/secure", at=T0 + 7),
    ]


def test_audit_json_lines(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "logs" / "audit.jsonl")
    for event in _events():
        audit.submit(event)
    assert audit.flush(1)
    audit.close()
    lines = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0] == {
        "at": "2027-01-15T08:00:00.250Z",
        "what": "auth_fail",
        "address": "127.0.0.1",
        "port": 8080,
        "directory": "/secure",
        "user": "alice",
        "client": "10.0.0.1",
        "request": "GET /secure/ HTTP/1.1",
    }
    assert list(records[0])[:2] == ["at", "what"]
    assert [r["what"] for r in records] == [e.what for e in _events()]
    assert records[4] == {
        "at": "2027-01-15T08:00:04.000Z",
        "what": "user_unblock",
        "address": "127.0.0.1",
        "port": 8080,
        "directory": "/secure",
        "user": "alice",
        "by": "api",
    }
    assert records[7]["at"] == "2027-01-15T08:00:07.000Z"


def test_audit_text_lines_in_the_inets_format(tmp_path: Path) -> None:
    audit = AuditLog(None, tmp_path / "security.log")
    for event in _events():
        audit.submit(event)
    audit.close()
    assert (tmp_path / "security.log").read_text().splitlines() == [
        "[15/Jan/2027:08:00:00 +0000] 10.0.0.1 : Failed authentication : GET /secure/ HTTP/1.1 : alice",
        "[15/Jan/2027:08:00:01 +0000] Blocking user alice from dir /secure for 1 minutes",
        "[15/Jan/2027:08:00:02 +0000] 10.0.0.1 : User Blocked : GET /secure/ HTTP/1.1 : alice",
        "[15/Jan/2027:08:00:03 +0000] Blocking user alice from dir /secure for infinity",
        "[15/Jan/2027:08:00:04 +0000] User alice was removed by the API for dir /secure",
        "[15/Jan/2027:08:00:05 +0000] User alice was removed from the block list for dir /secure",
        "[15/Jan/2027:08:00:06 +0000] 10.0.0.1 : Authentication Succeeded : GET /fast/ HTTP/1.1 : alice",
    ]


def test_audit_appends_and_shares_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog(path), AuditLog(path)
    first.submit(_events()[0])
    second.submit(_events()[1])
    first.submit(_events()[2])
    first.close()
    second.close()
    third = AuditLog(path)
    third.submit(_events()[3])
    third.close()
    assert [json.loads(line)["what"] for line in path.read_text().splitlines()] == [
        "auth_fail",
        "user_block",
        "auth_refused",
        "user_block",
    ]


def test_audit_never_logs_a_password(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "a.jsonl", tmp_path / "a.log")
    audit.submit(lockout_event("auth_fail", KEY, T0, request="GET /secure/ HTTP/1.1"))
    audit.close()
    text = (tmp_path / "a.log").read_text()
    assert text.rstrip().endswith(": alice")
    assert "alice:" not in text
    assert "password" not in (tmp_path / "a.jsonl").read_text()


def test_inets_helpers() -> None:
    assert inets_date(T0) == "15/Jan/2027:08:00:00 +0000"
    assert inets_date(0) == "01/Jan/1970:00:00:00 +0000"
    no_data = Event("auth_fail", None, 0, "/secure")
    assert inets_message(no_data) == "- : Failed authentication : - : "
    assert inets_message(lockout_event("user_block", KEY, T0, seconds=90.0)) == (
        "Blocking user alice from dir /secure for 1.5 minutes"
    )
    assert inets_message(Event("auth_other", None, 0, "/x")) is None
