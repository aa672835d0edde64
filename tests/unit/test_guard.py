"""The synchronous Guard: events, callbacks, the administration API, listeners and lockout keys."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from stockade import (
    DirectorySettings,
    Guard,
    GuardSettings,
    InvalidArgument,
    Listener,
    LockoutPolicy,
    ManualClock,
    NoSuchDirectory,
    NotBlocked,
)
from stockade.engine.audit import AuditLog
from stockade.engine.settings import EventCallback, LockoutBy
from stockade.engine.views import BlockedUser, iso_utc
from stockade.stores import MemoryStore, SQLiteStore
from stockade.stores.records import LoginResult, Scope

T0 = 1_800_000_000.0
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0, auth_timeout=30.0)
L1 = Listener("127.0.0.1", 8080)
L2 = Listener(None, 8443)
# Data keys an event may carry; never a password.
DATA_KEYS = {"user", "client", "request", "seconds", "until", "by", "expired"}


@dataclass(frozen=True)
class Call:
    what: str
    address: str | None
    port: int
    directory: str
    data: dict[str, object]


class Recorder:
    """A callback that remembers what it received."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __call__(self, what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        with self._lock:
            self.calls.append(Call(what, address, port, directory, dict(data)))

    @property
    def whats(self) -> list[str]:
        return [c.what for c in self.calls]

    def clear(self) -> None:
        self.calls.clear()


def settings(
    *callbacks: EventCallback,
    lockout_by: LockoutBy = "user",
    listeners: tuple[Listener, ...] = (L1, L2),
    policy: LockoutPolicy = POLICY,
    sweep_interval: float = math.inf,
) -> GuardSettings:
    return GuardSettings(
        directories=(
            DirectorySettings("/secure", policy, lockout_by, callbacks=callbacks),
            DirectorySettings("/secure/top", policy, lockout_by, callbacks=callbacks),
            DirectorySettings("/other/", policy, lockout_by, callbacks=callbacks),
        ),
        listeners=listeners,
        sweep_interval=sweep_interval,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def guard(clock: ManualClock, recorder: Recorder) -> Iterator[Guard]:
    g = Guard(settings(recorder), MemoryStore(), clock=clock)
    yield g
    g.close()


def fail_times(guard: Guard, user: str, n: int, directory: str = "/secure", **kw: object) -> list[bool]:
    return [guard.login_failed(user, directory, **kw).blocked for _ in range(n)]  # type: ignore[arg-type]


# -- events ---------------------------------------------------------------------------------------


def test_auth_fail_then_user_block_in_order(guard: Guard, recorder: Recorder) -> None:
    assert fail_times(guard, "alice", 3, listener=L1, request="GET /secure/ HTTP/1.1") == [False, False, True]
    assert guard.flush_events()
    assert recorder.whats == ["auth_fail", "auth_fail", "auth_fail", "user_block"]
    first, block = recorder.calls[0], recorder.calls[-1]
    assert (first.address, first.port, first.directory) == ("127.0.0.1", 8080, "/secure")
    assert first.data == {"user": "alice", "request": "GET /secure/ HTTP/1.1"}
    assert (block.address, block.port, block.directory) == ("127.0.0.1", 8080, "/secure")
    assert block.data == {"user": "alice", "seconds": 60.0, "until": iso_utc(guard.clock.now() + 60)}


def test_event_data_never_has_a_password(guard: Guard, recorder: Recorder, clock: ManualClock) -> None:
    fail_times(guard, "alice", 4, client="10.0.0.1", request="GET /secure/ HTTP/1.1")
    guard.block_user("bob", "/secure", 10)
    clock.advance(100)
    guard.login_succeeded("alice", "/secure")
    guard.sweep()
    assert guard.flush_events()
    assert {"auth_fail", "user_block", "user_unblock"} <= set(recorder.whats)
    for call in recorder.calls:
        assert "user" in call.data
        assert set(call.data) <= DATA_KEYS
        assert "password" not in json.dumps(call.data)


def test_failures_while_blocked_count_and_re_block(guard: Guard, recorder: Recorder, clock: ManualClock) -> None:
    fail_times(guard, "bob", 3)
    clock.advance(10)
    assert not guard.login_succeeded("bob", "/secure").accepted
    assert fail_times(guard, "bob", 3) == [False, False, True]
    assert guard.flush_events()
    assert recorder.whats == ["auth_fail"] * 3 + ["user_block"] + ["auth_fail"] * 3 + ["user_block"]
    [blocked] = guard.list_blocked_users()
    assert blocked.until == T0 + 70


def test_lazy_unblock_fires_once(guard: Guard, recorder: Recorder, clock: ManualClock) -> None:
    fail_times(guard, "alice", 3, listener=L1)
    clock.advance(30)
    result = guard.login_succeeded("alice", "/secure", listener=L1)
    assert isinstance(result, LoginResult)
    assert (result.accepted, result.until) == (False, T0 + 60)
    clock.advance(30)
    assert guard.login_succeeded("alice", "/secure", listener=L1).accepted
    assert guard.login_succeeded("alice", "/secure", listener=L1).accepted
    assert guard.sweep() == 0
    assert guard.flush_events()
    assert recorder.whats == ["auth_fail"] * 3 + ["user_block", "user_unblock"]
    unblock = recorder.calls[-1]
    assert (unblock.address, unblock.port, unblock.directory, unblock.data) == (
        "127.0.0.1",
        8080,
        "/secure",
        {"user": "alice"},
    )


def test_sweep_unblock_fires_once(guard: Guard, recorder: Recorder, clock: ManualClock) -> None:
    fail_times(guard, "alice", 3)
    clock.advance(61)
    assert guard.sweep() == 1
    assert guard.sweep() == 0
    # The login finds no block any more, so it does not fire a second user_unblock.
    assert guard.login_succeeded("alice", "/secure").accepted
    assert guard.flush_events()
    assert recorder.whats == ["auth_fail"] * 3 + ["user_block", "user_unblock"]
    assert recorder.calls[-1].data == {"user": "alice", "expired": True}


def test_periodic_sweep_runs_from_the_login_flow(clock: ManualClock, recorder: Recorder) -> None:
    guard = Guard(settings(recorder, sweep_interval=60.0), MemoryStore(), clock=clock)
    try:
        fail_times(guard, "alice", 3)
        clock.advance(120)
        guard.login_failed("bob", "/secure")  # its sweep lifts alice's expired block
        assert guard.login_succeeded("alice", "/secure").accepted
        assert guard.flush_events()
        assert recorder.whats == ["auth_fail"] * 3 + ["user_block", "user_unblock", "auth_fail"]
    finally:
        guard.close()


def test_success_is_not_a_callback_event(guard: Guard, recorder: Recorder) -> None:
    assert guard.login_succeeded("alice", "/secure").accepted
    guard.block_user("alice", "/secure", 100, address="127.0.0.1", port=8080)
    assert guard.flush_events()
    recorder.clear()
    assert not guard.login_succeeded("alice", "/secure", listener=L1).accepted
    assert guard.flush_events()
    assert recorder.whats == []


def test_callbacks_are_per_directory(clock: ManualClock) -> None:
    secure, other = Recorder(), Recorder()
    cfg = GuardSettings(
        directories=(DirectorySettings("/secure", POLICY, callbacks=(secure,)), DirectorySettings("/other", POLICY)),
        listeners=(L1,),
    )
    other_cfg = GuardSettings(
        directories=(*cfg.directories[:1], DirectorySettings("/other", POLICY, callbacks=(other,))),
        listeners=(L1,),
    )
    for config in (cfg, other_cfg):
        guard = Guard(config, MemoryStore(), clock=clock)
        try:
            guard.login_failed("alice", "/other")
            guard.login_failed("alice", "/secure")
            assert guard.flush_events()
        finally:
            guard.close()
    assert [c.directory for c in secure.calls] == ["/secure", "/secure"]
    assert [c.directory for c in other.calls] == ["/other"]


# -- callback isolation -----------------------------------------------------------------------


def test_a_raising_callback_breaks_nothing(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    def broken(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        raise RuntimeError("callback bug")

    good = Recorder()
    guard = Guard(settings(broken, good), MemoryStore(), clock=clock)
    try:
        with caplog.at_level(logging.ERROR, logger="stockade.events"):
            assert fail_times(guard, "alice", 3) == [False, False, True]
            assert guard.flush_events()
        assert good.whats == ["auth_fail"] * 3 + ["user_block"]
        # Logged once, then only counted.
        assert [r.message for r in caplog.records].count(
            "event callback test_a_raising_callback_breaks_nothing.<locals>.broken failed"
            " (further failures are only counted)"
        ) == 1
    finally:
        guard.close()


def test_a_slow_callback_delays_neither_the_guard_nor_other_callbacks(clock: ManualClock) -> None:
    gate = threading.Event()
    entered = threading.Event()
    received = threading.Event()
    good = Recorder()

    def slow(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        entered.set()
        gate.wait(timeout=10)

    def fast(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        good(what, address, port, directory, data)
        if len(good.calls) == 4:
            received.set()

    guard = Guard(settings(slow, fast), MemoryStore(), clock=clock)
    try:
        guard.login_failed("alice", "/secure")
        assert entered.wait(timeout=10)
        # The slow callback is stuck inside its first event; the guard still answers at once.
        assert fail_times(guard, "alice", 2) == [False, True]
        assert received.wait(timeout=10)
        assert not gate.is_set()
        assert good.whats == ["auth_fail"] * 3 + ["user_block"]
    finally:
        gate.set()
        assert guard.flush_events()
        guard.close()


# -- the administration API ---------------------------------------------------------------------


def test_block_user_on_every_listener(guard: Guard, recorder: Recorder) -> None:
    blocked = guard.block_user("dave", "/secure", 100)
    assert blocked == [
        BlockedUser("dave", "/secure", "127.0.0.1", 8080, T0 + 100),
        BlockedUser("dave", "/secure", None, 8443, T0 + 100),
    ]
    for listener in (L1, L2):
        assert not guard.login_succeeded("dave", "/secure", listener=listener).accepted
    assert guard.login_succeeded("dave", "/secure/top", listener=L1).accepted
    assert guard.flush_events()
    assert [(c.what, c.address, c.port, c.data) for c in recorder.calls] == [
        ("user_block", "127.0.0.1", 8080, {"user": "dave", "seconds": 100.0, "until": iso_utc(T0 + 100), "by": "api"}),
        ("user_block", None, 8443, {"user": "dave", "seconds": 100.0, "until": iso_utc(T0 + 100), "by": "api"}),
    ]


def test_block_user_on_one_listener(guard: Guard) -> None:
    [only] = guard.block_user("dave", "/secure", 100, port=8443)
    assert (only.address, only.port) == (None, 8443)
    assert guard.login_succeeded("dave", "/secure", listener=L1).accepted
    assert not guard.login_succeeded("dave", "/secure", listener=L2).accepted
    [only] = guard.block_user("erin", "/secure", 100, address="127.0.0.1")
    assert (only.address, only.port) == ("127.0.0.1", 8080)
    with pytest.raises(InvalidArgument, match="listener"):
        guard.block_user("dave", "/secure", 100, address="10.9.9.9")


def test_site_scope_keeps_one_record_for_every_listener(clock: ManualClock, recorder: Recorder) -> None:
    site = dataclasses.replace(settings(recorder), lockout_scope="site")
    guard = Guard(site, MemoryStore(), clock=clock)
    try:
        assert fail_times(guard, "alice", 2, listener=L1) + fail_times(guard, "alice", 1, listener=L2) == [
            False,
            False,
            True,
        ]
        assert not guard.login_succeeded("alice", "/secure", listener=L1).accepted
        assert guard.list_blocked_users() == [BlockedUser("alice", "/secure", None, 0, T0 + 60)]
        # A block made by the API is one record too; a listener filter has nothing to name.
        assert guard.block_user("dave", "/secure", 100) == [BlockedUser("dave", "/secure", None, 0, T0 + 100)]
        assert not guard.login_succeeded("dave", "/secure", listener=L2).accepted
        with pytest.raises(InvalidArgument) as raised:
            guard.block_user("dave", "/secure", 100, address="127.0.0.1", port=8080)
        assert str(raised.value) == (
            "invalid listener '127.0.0.1:8080': expected no address or port: "
            "[lockout] scope is 'site', one record for every listener"
        )
        assert guard.flush_events()
        assert {(c.address, c.port) for c in recorder.calls} == {(None, 0)}
    finally:
        guard.close()


def test_block_user_default_and_infinity(guard: Guard, clock: ManualClock) -> None:
    [default] = guard.block_user("dave", "/secure", port=8080)
    assert default.until == T0 + 60
    [forever] = guard.block_user("erin", "/secure", "infinity", port=8080)
    assert forever.infinite
    [forever2] = guard.block_user("fred", "/secure", math.inf, port=8080)
    assert forever2.infinite
    clock.advance(1e9)
    assert [(b.user, b.infinite, b.as_dict()["until"]) for b in guard.list_blocked_users()] == [
        ("erin", True, None),
        ("fred", True, None),
    ]
    assert not guard.login_succeeded("erin", "/secure", listener=L1).accepted


def test_block_user_zero_seconds_is_lifted_by_the_next_login(guard: Guard, recorder: Recorder) -> None:
    guard.block_user("kate", "/secure", 0, port=8080)
    assert guard.list_blocked_users() == []
    assert guard.login_succeeded("kate", "/secure", listener=L1).accepted
    assert guard.flush_events()
    assert recorder.whats == ["user_block", "user_unblock"]


@pytest.mark.parametrize("seconds", [-1, -0.5, math.nan, "nan", "soon", "", True, "-5"])
def test_block_user_rejects_bad_seconds(guard: Guard, seconds: object) -> None:
    with pytest.raises(InvalidArgument, match="expected a number of seconds >= 0 or 'infinity'"):
        guard.block_user("dave", "/secure", seconds)  # type: ignore[arg-type]
    assert guard.list_blocked_users() == []


def test_block_user_accepts_numeric_strings(guard: Guard) -> None:
    [b] = guard.block_user("dave", "/secure", " 30 ", port=8080)
    assert b.until == T0 + 30
    [b] = guard.block_user("dave", "/secure", "INFINITY", port=8080)
    assert b.infinite


@pytest.mark.parametrize("directory", ["/nope", "/secure/", "secure", "", "/secure/top/x"])
def test_no_such_directory(guard: Guard, directory: str) -> None:
    with pytest.raises(NoSuchDirectory) as info:
        guard.block_user("dave", directory, 10)
    assert info.value.directory == directory
    with pytest.raises(NoSuchDirectory):
        guard.unblock_user("dave", directory)
    with pytest.raises(NoSuchDirectory):
        guard.list_blocked_users(directory)
    with pytest.raises(NoSuchDirectory):
        guard.list_auth_users(directory)
    with pytest.raises(NoSuchDirectory):
        guard.login_failed("dave", directory)


def test_configured_trailing_slash_is_addressed_without_it(guard: Guard) -> None:
    [b] = guard.block_user("dave", "/other", 10, port=8080)
    assert b.directory == "/other"


def test_unblock_user_in_one_directory(guard: Guard) -> None:
    guard.block_user("dave", "/secure", 100)
    guard.block_user("dave", "/secure/top", 100)
    removed = guard.unblock_user("dave", "/secure")
    assert sorted((r.directory, r.port) for r in removed) == [("/secure", 8080), ("/secure", 8443)]
    assert [(b.directory, b.port) for b in guard.list_blocked_users()] == [("/secure/top", 8080), ("/secure/top", 8443)]
    with pytest.raises(NotBlocked) as info:
        guard.unblock_user("dave", "/secure")
    assert (info.value.user, info.value.directory) == ("dave", "/secure")
    assert guard.login_succeeded("dave", "/secure", listener=L1).accepted


def test_unblock_user_without_directory_removes_every_block(guard: Guard) -> None:
    guard.block_user("dave", "/secure", 100)
    guard.block_user("dave", "/secure/top", 100)
    guard.block_user("erin", "/secure", 100)
    assert len(guard.unblock_user("dave")) == 4
    assert [b.user for b in guard.list_blocked_users()] == ["erin", "erin"]
    with pytest.raises(NotBlocked, match="not_blocked: user 'dave' is not blocked in any directory"):
        guard.unblock_user("dave")


def test_unblock_user_scoped_by_listener(guard: Guard) -> None:
    guard.block_user("dave", "/secure", 100)
    [removed] = guard.unblock_user("dave", "/secure", port=8443)
    assert (removed.address, removed.port) == (None, 8443)
    assert [(b.address, b.port) for b in guard.list_blocked_users()] == [("127.0.0.1", 8080)]
    [removed] = guard.unblock_user("dave", address="127.0.0.1", port=8080)
    assert removed.port == 8080


def test_unblock_removes_an_expired_block(guard: Guard, clock: ManualClock) -> None:
    guard.block_user("dave", "/secure", 10, port=8080)
    clock.advance(20)
    assert guard.list_blocked_users() == []
    assert len(guard.unblock_user("dave", "/secure")) == 1


def test_api_unblock_fires_no_callback_but_is_audited(clock: ManualClock, recorder: Recorder, tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    guard = Guard(settings(recorder), MemoryStore(), clock=clock, sinks=[audit])
    try:
        guard.block_user("dave", "/secure", 100, port=8080)
        guard.unblock_user("dave", "/secure")
        assert guard.flush_events()
    finally:
        guard.close()
    assert recorder.whats == ["user_block"]
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(r["what"], r["user"], r["by"]) for r in lines] == [
        ("user_block", "dave", "api"),
        ("user_unblock", "dave", "api"),
    ]


def test_list_blocked_users_scoping(guard: Guard, clock: ManualClock) -> None:
    fail_times(guard, "alice", 3, listener=L1)
    fail_times(guard, "bob", 3, "/secure/top", listener=L2)
    guard.block_user("carol", "/secure", 100, port=8443)
    assert [(b.user, b.directory, b.port) for b in guard.list_blocked_users()] == [
        ("alice", "/secure", 8080),
        ("carol", "/secure", 8443),
        ("bob", "/secure/top", 8443),
    ]
    assert [b.user for b in guard.list_blocked_users("/secure")] == ["alice", "carol"]
    assert [b.user for b in guard.list_blocked_users(port=8443)] == ["carol", "bob"]
    assert [b.user for b in guard.list_blocked_users("/secure", address="127.0.0.1")] == ["alice"]
    assert [b.user for b in guard.list_blocked_users(address=None)] == ["carol", "bob"]
    alice = guard.list_blocked_users(port=8080)[0].as_dict()
    assert alice == {
        "user": "alice",
        "dir": "/secure",
        "address": "127.0.0.1",
        "port": 8080,
        "until": "2027-01-15T08:01:00Z",
    }
    clock.advance(61)
    assert [b.user for b in guard.list_blocked_users()] == ["carol"]


def test_list_auth_users(guard: Guard, clock: ManualClock) -> None:
    guard.login_succeeded("alice", "/secure", listener=L1)
    guard.login_succeeded("alice", "/secure", listener=L1)
    guard.login_succeeded("bob", "/secure/top", listener=L1)
    guard.login_succeeded("alice", "/secure/top", listener=L2)
    assert [(a.user, a.directory, a.port) for a in guard.list_auth_users()] == [
        ("alice", "/secure", 8080),
        ("alice", "/secure/top", 8443),
        ("bob", "/secure/top", 8080),
    ]
    assert [a.user for a in guard.list_auth_users("/secure/top", port=8080)] == ["bob"]
    clock.advance(30)
    assert guard.list_auth_users() == []


def test_bad_user_names_are_refused(guard: Guard) -> None:
    for user in ("a" * 257, "x\x00y"):
        with pytest.raises(InvalidArgument, match="invalid user"):
            guard.login_failed(user, "/secure")
        with pytest.raises(InvalidArgument, match="invalid user"):
            guard.block_user(user, "/secure", 10)


# -- lockout keys ----------------------------------------------------------------------------------


def test_lockout_by_ip(clock: ManualClock, recorder: Recorder) -> None:
    guard = Guard(settings(recorder, lockout_by="ip"), MemoryStore(), clock=clock)
    try:
        # Three different user names from one client block that client.
        assert [guard.login_failed(u, "/secure", client="10.0.0.1").blocked for u in ("a", "b", "c")] == [
            False,
            False,
            True,
        ]
        assert not guard.login_succeeded("alice", "/secure", client="10.0.0.1").accepted
        assert guard.login_succeeded("alice", "/secure", client="10.0.0.2").accepted
        with pytest.raises(InvalidArgument, match="client"):
            guard.login_failed("alice", "/secure")
        # A block made through the API names a user; it refuses that user from every client.
        guard.block_user("alice", "/secure", 100)
        assert not guard.login_succeeded("alice", "/secure", client="10.0.0.3", listener=L1).accepted
        refused = guard.reserve_attempt("alice", "/secure", client="10.0.0.3", listener=L2)
        assert (refused.granted, refused.blocked) == (False, True)
        assert guard.login_succeeded("bob", "/secure", client="10.0.0.3", listener=L1).accepted
        assert guard.flush_events()
        block = next(c for c in recorder.calls if c.what == "user_block")
        assert {k: v for k, v in block.data.items() if k != "until"} == {
            "user": "c",
            "client": "10.0.0.1",
            "seconds": 60.0,
        }
        blocked = [(b.user, b.client, b.port) for b in guard.list_blocked_users("/secure")]
        assert blocked == [("", "10.0.0.1", 0), ("alice", "", 8080), ("alice", "", 8443)]
    finally:
        guard.close()


def test_lockout_by_user_ip(clock: ManualClock) -> None:
    guard = Guard(settings(lockout_by="user_ip", listeners=(Listener(None, 0),)), MemoryStore(), clock=clock)
    try:
        assert fail_times(guard, "alice", 3, client="10.0.0.1") == [False, False, True]
        assert not guard.login_succeeded("alice", "/secure", client="10.0.0.1").accepted
        assert guard.login_succeeded("alice", "/secure", client="10.0.0.2").accepted
        assert guard.login_succeeded("bob", "/secure", client="10.0.0.1").accepted
        [b] = guard.list_blocked_users()
        assert (b.user, b.client) == ("alice", "10.0.0.1")
        assert len(guard.unblock_user("alice")) == 1
        assert guard.login_succeeded("alice", "/secure", client="10.0.0.1").accepted
        # A block made through the API by user name refuses that user from every client.
        guard.block_user("alice", "/secure", 100, port=0)
        assert not guard.login_succeeded("alice", "/secure", client="10.0.0.7").accepted
        assert not guard.reserve_attempt("alice", "/secure", client="10.0.0.8").granted
        assert guard.login_succeeded("bob", "/secure", client="10.0.0.7").accepted
    finally:
        guard.close()


# -- the reserve API -------------------------------------------------------------------------------


def _threads(n: int, fn: object) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            value = fn()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_parallel_wrong_passwords_get_exactly_max_retries_checks(
    clock: ManualClock, recorder: Recorder, tmp_path: Path, backend: str
) -> None:
    store = MemoryStore() if backend == "memory" else SQLiteStore(tmp_path / "s.db")
    guard = Guard(settings(recorder), store, clock=clock)
    checks = 0
    lock = threading.Lock()

    def attempt() -> bool:
        nonlocal checks
        a = guard.reserve_attempt("alice", "/secure", listener=L1)
        if not a.granted:
            return False
        with lock:
            checks += 1
        guard.report_attempt(a, success=False)
        return True

    try:
        results = _threads(50, attempt)
        assert sum(bool(r) for r in results) == 3
        assert checks == 3
        refused = guard.reserve_attempt("alice", "/secure", listener=L1)
        assert (refused.granted, refused.blocked, refused.until) == (False, True, T0 + 60)
        assert guard.flush_events()
        assert recorder.whats == ["auth_fail"] * 3 + ["user_block"]
    finally:
        guard.close()


def test_release_returns_the_slot(guard: Guard) -> None:
    attempts = [guard.reserve_attempt("alice", "/secure") for _ in range(4)]
    assert [a.granted for a in attempts] == [True, True, True, False]
    assert not attempts[3].blocked
    guard.release_attempt(attempts[0])
    guard.release_attempt(attempts[3])  # not granted: a no-op
    again = guard.reserve_attempt("alice", "/secure")
    assert again.granted
    with pytest.raises(InvalidArgument, match="attempt"):
        guard.report_attempt(attempts[3], success=False)


def test_reserved_success_clears_and_is_recorded(guard: Guard) -> None:
    a = guard.reserve_attempt("alice", "/secure", request="GET /secure/ HTTP/1.1")
    assert (a.directory, a.user) == ("/secure", "alice")
    guard.report_attempt(a, success=False)
    b = guard.reserve_attempt("alice", "/secure")
    result = guard.report_attempt(b, success=True)
    assert isinstance(result, LoginResult)
    assert result.accepted
    assert [u.user for u in guard.list_auth_users()] == ["alice"]
    assert all(guard.reserve_attempt("alice", "/secure").granted for _ in range(3))


def test_reserved_success_while_blocked_is_refused(guard: Guard) -> None:
    a = guard.reserve_attempt("alice", "/secure", listener=L1)
    guard.block_user("alice", "/secure", 100, port=8080)
    result = guard.report_attempt(a, success=True)
    assert isinstance(result, LoginResult)
    assert not result.accepted


def test_protecting(guard: Guard) -> None:
    top = guard.protecting("/secure/top/x")
    assert top is not None
    assert top.path == "/secure/top"
    secure = guard.protecting("/secure/topx")
    assert secure is not None
    assert secure.path == "/secure"
    assert guard.protecting("/secure2") is None


# -- directories with data files of their own ------------------------------------------------


def test_directories_with_data_files_of_their_own(tmp_path: Path) -> None:
    settings = GuardSettings(
        directories=(
            DirectorySettings("/a", POLICY),
            DirectorySettings("/b", POLICY),
            DirectorySettings("/c", POLICY),
        )
    )
    shared, own = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "b.db")
    guard = Guard(settings, shared, clock=ManualClock(T0), directory_stores={"/b/": own})
    try:
        for directory in ("/a", "/b", "/c"):
            for _ in range(3):
                guard.login_failed("alice", directory)
        assert guard.login_succeeded("bob", "/b").accepted
        # Each record sits in its directory's file; listings and unblocks span them all.
        assert [b.directory for b in guard.list_blocked_users()] == ["/a", "/b", "/c"]
        assert [r.key.directory for r in own.list_blocked(Scope(), T0)] == ["/b"]
        assert [r.key.directory for r in shared.list_blocked(Scope(), T0)] == ["/a", "/c"]
        assert [u.user for u in guard.list_auth_users("/b")] == ["bob"]
        assert guard.list_auth_users("/a") == []
        assert [b.directory for b in guard.unblock_user("alice")] == ["/a", "/b", "/c"]
        assert guard.list_blocked_users() == []
        assert guard.stores == (shared, own)
    finally:
        guard.close()
