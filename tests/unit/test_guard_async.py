"""AsyncGuard, driven with asyncio.run, over offloaded stores."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from stockade import AsyncGuard, InvalidArgument, ManualClock, NoSuchDirectory, NotBlocked, open_async_store
from stockade.core.lockout import FailureOutcome
from stockade.engine.views import BlockedUser
from stockade.stores import MemoryStore, OffloadedStore, SQLiteStore
from stockade.stores._async.protocol import AsyncLockoutStore
from stockade.stores.records import LoginResult
from tests.unit.test_guard import L1, L2, T0, Recorder, settings

T = TypeVar("T")


def run(
    make_store: Callable[[], AsyncLockoutStore],
    body: Callable[[AsyncGuard, ManualClock], Awaitable[T]],
    recorder: Recorder,
) -> T:
    clock = ManualClock(T0)

    async def main() -> T:
        guard = AsyncGuard(settings(recorder), make_store(), clock=clock)
        try:
            return await body(guard, clock)
        finally:
            await guard.aclose()

    return asyncio.run(main())


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def memory() -> AsyncLockoutStore:
    return OffloadedStore(MemoryStore(), threaded=False)


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], AsyncLockoutStore]:
    if request.param == "memory":
        return memory
    return lambda: OffloadedStore(SQLiteStore(tmp_path / "s.db"))


def test_events_in_order(make_store: Callable[[], AsyncLockoutStore], recorder: Recorder) -> None:
    async def body(guard: AsyncGuard, clock: ManualClock) -> None:
        outcomes = [await guard.login_failed("alice", "/secure", listener=L1) for _ in range(3)]
        assert [o.blocked for o in outcomes] == [False, False, True]
        clock.advance(30)
        assert not (await guard.login_succeeded("alice", "/secure", listener=L1)).accepted
        clock.advance(30)
        assert (await guard.login_succeeded("alice", "/secure", listener=L1)).accepted
        assert guard.flush_events()

    run(make_store, body, recorder)
    assert recorder.whats == ["auth_fail"] * 3 + ["user_block", "user_unblock"]
    assert {(c.address, c.port, c.directory) for c in recorder.calls} == {("127.0.0.1", 8080, "/secure")}
    assert all(c.data["user"] == "alice" for c in recorder.calls)


def test_sweep_fires_user_unblock_once(make_store: Callable[[], AsyncLockoutStore], recorder: Recorder) -> None:
    async def body(guard: AsyncGuard, clock: ManualClock) -> None:
        await guard.block_user("bob", "/secure", 10, port=8080)
        clock.advance(11)
        assert await guard.sweep() == 1
        assert await guard.sweep() == 0
        assert (await guard.login_succeeded("bob", "/secure", listener=L1)).accepted
        assert guard.flush_events()

    run(make_store, body, recorder)
    assert recorder.whats == ["user_block", "user_unblock"]
    assert recorder.calls[-1].data == {"user": "bob", "expired": True}


def test_admin_api(make_store: Callable[[], AsyncLockoutStore], recorder: Recorder) -> None:
    async def body(guard: AsyncGuard, clock: ManualClock) -> None:
        blocked = await guard.block_user("dave", "/secure", "infinity")
        assert [(b.address, b.port, b.infinite) for b in blocked] == [("127.0.0.1", 8080, True), (None, 8443, True)]
        await guard.block_user("dave", "/secure/top", 5, port=8443)
        with pytest.raises(NoSuchDirectory):
            await guard.block_user("dave", "/nope", 5)
        with pytest.raises(InvalidArgument):
            await guard.block_user("dave", "/secure", math.nan)
        assert len(await guard.list_blocked_users()) == 3
        assert len(await guard.list_blocked_users("/secure/top")) == 1
        removed = await guard.unblock_user("dave")
        assert sorted((r.directory, r.port) for r in removed) == [
            ("/secure", 8080),
            ("/secure", 8443),
            ("/secure/top", 8443),
        ]
        with pytest.raises(NotBlocked):
            await guard.unblock_user("dave", "/secure")
        await guard.login_succeeded("erin", "/secure", listener=L2)
        assert [(a.user, a.port) for a in await guard.list_auth_users("/secure")] == [("erin", 8443)]
        assert guard.flush_events()

    run(make_store, body, recorder)
    # API unblocks reach the audit log only.
    assert recorder.whats == ["user_block", "user_block", "user_block"]


def test_gathered_failures_count_exactly(make_store: Callable[[], AsyncLockoutStore], recorder: Recorder) -> None:
    async def body(guard: AsyncGuard, clock: ManualClock) -> list[FailureOutcome]:
        outcomes = await asyncio.gather(*(guard.login_failed("alice", "/secure", listener=L1) for _ in range(50)))
        assert guard.flush_events()
        assert [b.until for b in await guard.list_blocked_users()] == [T0 + 60]
        return list(outcomes)

    outcomes = run(make_store, body, recorder)
    assert sum(o.blocked for o in outcomes) == 16
    assert recorder.whats.count("auth_fail") == 50
    assert recorder.whats.count("user_block") == 16


def test_gathered_attempts_get_exactly_max_retries_checks(
    make_store: Callable[[], AsyncLockoutStore], recorder: Recorder
) -> None:
    async def attempt(guard: AsyncGuard) -> bool:
        a = await guard.reserve_attempt("alice", "/secure", listener=L1)
        if not a.granted:
            return False
        await asyncio.sleep(0)  # the password check
        await guard.report_attempt(a, success=False)
        return True

    async def body(guard: AsyncGuard, clock: ManualClock) -> list[bool]:
        granted = await asyncio.gather(*(attempt(guard) for _ in range(50)))
        refused = await guard.reserve_attempt("alice", "/secure", listener=L1)
        assert (refused.granted, refused.blocked, refused.until) == (False, True, T0 + 60)
        assert guard.flush_events()
        return list(granted)

    assert sum(run(make_store, body, recorder)) == 3
    assert recorder.whats == ["auth_fail"] * 3 + ["user_block"]


def test_release_and_report(make_store: Callable[[], AsyncLockoutStore], recorder: Recorder) -> None:
    async def body(guard: AsyncGuard, clock: ManualClock) -> None:
        attempts = [await guard.reserve_attempt("alice", "/secure") for _ in range(4)]
        assert [a.granted for a in attempts] == [True, True, True, False]
        await guard.release_attempt(attempts[0])
        again = await guard.reserve_attempt("alice", "/secure")
        assert again.granted
        result = await guard.report_attempt(again, success=True)
        assert isinstance(result, LoginResult)
        assert result.accepted
        with pytest.raises(InvalidArgument):
            await guard.report_attempt(attempts[3], success=True)

    run(make_store, body, recorder)


def test_open_async_store_over_sqlite(tmp_path: Path, recorder: Recorder) -> None:
    store = open_async_store("sqlite:///lockout.db", base=tmp_path)
    assert isinstance(store, OffloadedStore)
    assert store.url == f"sqlite:///{tmp_path / 'lockout.db'}"

    async def body(guard: AsyncGuard, clock: ManualClock) -> list[BlockedUser]:
        return await guard.block_user("dave", "/secure", 10, port=8080)

    [b] = run(lambda: store, body, recorder)
    assert b.until == T0 + 10
    assert isinstance(open_async_store("memory://"), OffloadedStore)
