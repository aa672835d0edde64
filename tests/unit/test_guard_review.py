"""Behaviours added after review: exact re-block ends, IP unblocks, single reports, eviction."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from stockade import DirectorySettings, Guard, GuardSettings, InvalidArgument, LockoutPolicy, ManualClock, NotBlocked
from stockade.core.lockout import LockoutKey
from stockade.engine.views import iso_utc
from stockade.stores import MemoryStore
from stockade.stores.records import Scope

T0 = 1_800_000_000.0
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0)


def make_guard(lockout_by: str = "user") -> tuple[Guard, ManualClock, list[tuple[str, dict[str, object]]]]:
    seen: list[tuple[str, dict[str, object]]] = []

    def record(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        seen.append((what, dict(data)))

    clock = ManualClock(T0)
    directory = DirectorySettings("/secure/", POLICY, lockout_by, callbacks=(record,))  # type: ignore[arg-type]
    return Guard(GuardSettings(directories=(directory,)), MemoryStore(), clock=clock), clock, seen


def test_directory_paths_are_normalised_once() -> None:
    guard, _, _ = make_guard()
    guard.login_failed("alice", "/secure")
    assert [b.directory for b in guard.list_blocked_users()] == []
    guard.block_user("alice", "/secure", 10)
    assert [b.directory for b in guard.list_blocked_users("/secure")] == ["/secure"]


def test_a_reblock_reports_the_longer_block_it_keeps() -> None:
    guard, _, seen = make_guard()
    guard.block_user("bob", "/secure", 600)
    for _ in range(3):
        guard.login_failed("bob", "/secure")
    assert guard.flush_events()
    blocks = [data for what, data in seen if what == "user_block"]
    assert blocks[-1]["until"] == iso_utc(T0 + 600)
    assert blocks[-1]["seconds"] == 600.0
    assert [b.until for b in guard.list_blocked_users()] == [T0 + 600]


def test_unblock_user_returns_the_removed_block() -> None:
    guard, _, _ = make_guard()
    guard.block_user("dave", "/secure", "infinity")
    [removed] = guard.unblock_user("dave")
    assert (removed.user, removed.directory, math.isinf(removed.until)) == ("dave", "/secure", True)


def test_unblock_client_lifts_an_ip_lockout() -> None:
    guard, _, _ = make_guard("ip")
    for user in ("a", "b", "c"):
        guard.login_failed(user, "/secure", client="203.0.113.7")
    assert [(b.user, b.client) for b in guard.list_blocked_users()] == [("", "203.0.113.7")]
    assert not guard.login_succeeded("alice", "/secure", client="203.0.113.7").accepted
    with pytest.raises(NotBlocked):
        guard.unblock_client("198.51.100.1")
    assert [b.client for b in guard.unblock_client("203.0.113.7", "/secure")] == ["203.0.113.7"]
    assert guard.login_succeeded("alice", "/secure", client="203.0.113.7").accepted


def test_an_attempt_is_reported_once() -> None:
    guard, _, _ = make_guard()
    attempt = guard.reserve_attempt("erin", "/secure")
    guard.report_attempt(attempt, success=False)
    with pytest.raises(InvalidArgument, match="not yet reported or released"):
        guard.report_attempt(attempt, success=False)
    guard.release_attempt(attempt)  # a no-op once settled
    second = guard.reserve_attempt("erin", "/secure")
    guard.release_attempt(second)
    with pytest.raises(InvalidArgument):
        guard.report_attempt(second, success=True)


def test_no_events_are_built_without_listeners() -> None:
    guard = Guard(GuardSettings(directories=(DirectorySettings("/s", POLICY),)), MemoryStore(), clock=ManualClock(T0))
    assert not guard.events.listening
    for _ in range(3):
        guard.login_failed("x", "/s")
    assert [b.user for b in guard.list_blocked_users()] == ["x"]


def test_memory_eviction_spares_blocks() -> None:
    store = MemoryStore(max_records=3)
    blocked = LockoutKey("/s", "mallory")
    store.block(blocked, T0 + 600, T0, POLICY)
    for i in range(10):
        store.record_failure(LockoutKey("/s", f"user{i}"), T0, POLICY)
    assert len(store) == 3
    assert store.evicted == 8
    assert [r.key for r in store.list_blocked(Scope(), T0)] == [blocked]
