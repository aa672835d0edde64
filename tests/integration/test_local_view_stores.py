"""The local view on real shared stores: SQLite files and Redis (single server and cluster).

Two store instances on one backend stand for two worker processes (each has its own
connections, change feed and view). A clean login is answered without the store, which
the tests prove by making the store unable to answer (its write lock held, Redis paused):
the clean login still succeeds where any store call fails.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from stockade.clock import monotonic
from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.errors import StoreError
from stockade.stores import LockoutStore, open_store
from stockade.stores.records import LoginResult, Scope
from tests.redis_servers import ClusterServers, SingleServer, redis_cluster, redis_single, unique_prefix

__all__ = ["redis_cluster", "redis_single"]

T0 = 1_800_000_000.0
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0, auth_timeout=30.0)
ALICE = LockoutKey("/secure", "alice")
ACCEPTED = LoginResult(accepted=True)
# A generous bound for a notification to arrive; the benchmark measures the real delay.
PROPAGATION_WAIT = 5.0


@dataclass
class Shared:
    """Opens several stores on one backend; ``stalled`` makes the backend unable to answer."""

    open: Callable[[], LockoutStore]
    stalled: Callable[[], object]
    opened: list[LockoutStore]

    def store(self) -> LockoutStore:
        store = self.open()
        self.opened.append(store)
        feed = getattr(store, "feed", None)
        if feed is not None:
            assert feed.wait_subscribed(PROPAGATION_WAIT)
        return store


class _Locked:
    """Holds the SQLite write lock from another connection while in use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class _Paused:
    """Pauses every client of the Redis servers (``CLIENT PAUSE``) while in use."""

    def __init__(self, servers: SingleServer | ClusterServers) -> None:
        self.nodes = [servers.server] if isinstance(servers, SingleServer) else servers.nodes

    def __enter__(self) -> None:
        for node in self.nodes:
            with node.client() as client:
                client.execute_command("CLIENT", "PAUSE", 1500, "ALL")

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes:
            with node.client() as client:
                client.execute_command("CLIENT", "UNPAUSE")


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    if request.param == "sqlite":
        path = tmp_path / "view.db"
        url = f"sqlite:///{path}?busy_timeout=200"
        result = Shared(lambda: open_store(url), lambda: _Locked(path), [])
    else:
        fixture = "redis_single" if request.param == "redis" else "redis_cluster"
        servers = cast(SingleServer | ClusterServers, request.getfixturevalue(fixture))
        servers.flush()
        url = servers.url(unique_prefix(tmp_path)) + "&timeout=0.3"
        result = Shared(lambda: open_store(url), lambda: _Paused(servers), [])
    yield result
    for store in result.opened:
        store.close()


def _eventually(check: Callable[[], bool]) -> float:
    """Seconds until ``check`` held; fails after PROPAGATION_WAIT."""
    started = monotonic()
    while not check():
        elapsed = monotonic() - started
        assert elapsed < PROPAGATION_WAIT, "the change never reached the other store's view"
        with closing(sqlite3.connect(":memory:")):
            pass  # yield the GIL to the feed thread
    return monotonic() - started


def test_a_clean_login_is_answered_while_the_store_cannot_answer(shared: Shared) -> None:
    store = shared.store()
    assert store.peek_login((ALICE,), T0, POLICY) is None  # never seen: the store decides
    assert store.record_success((ALICE,), T0, POLICY) == ACCEPTED
    with shared.stalled():  # type: ignore[attr-defined]
        assert store.peek_login((ALICE,), T0 + 0.5, POLICY) == ACCEPTED
        with pytest.raises(StoreError):
            store.record_failure(ALICE, T0 + 0.5, POLICY)
        assert store.peek_login((ALICE,), T0 + 0.5, POLICY) is None  # a failure: ask the store


def test_a_block_made_through_one_store_is_enforced_by_another(shared: Shared) -> None:
    first, second = shared.store(), shared.store()
    assert second.record_success((ALICE,), T0, POLICY) == ACCEPTED
    assert second.peek_login((ALICE,), T0 + 0.1, POLICY) == ACCEPTED
    first.block(ALICE, T0 + 60, T0 + 0.1, POLICY)
    _eventually(lambda: second.peek_login((ALICE,), T0 + 0.2, POLICY) == LoginResult(accepted=False, until=T0 + 60))
    # The unblock reaches the other view too: the store decides again, and accepts.
    first.unblock(Scope(user="alice"), T0 + 0.3)
    _eventually(lambda: second.peek_login((ALICE,), T0 + 0.4, POLICY) is None)
    assert second.record_success((ALICE,), T0 + 0.4, POLICY) == ACCEPTED


def test_failures_elsewhere_send_the_next_login_to_the_store(shared: Shared) -> None:
    first, second = shared.store(), shared.store()
    assert second.record_success((ALICE,), T0, POLICY) == ACCEPTED
    first.record_failure(ALICE, T0 + 1, POLICY)
    _eventually(lambda: second.peek_login((ALICE,), T0 + 1.1, POLICY) is None)
    # The login goes to the store, which clears the failure: two more failures do not block.
    assert second.record_success((ALICE,), T0 + 1.2, POLICY) == ACCEPTED
    assert not first.record_failure(ALICE, T0 + 2, POLICY).blocked
    assert not first.record_failure(ALICE, T0 + 3, POLICY).blocked


def test_a_refreshed_login_is_written_off_the_request_path_and_listed(shared: Shared) -> None:
    store = shared.store()
    assert store.record_success((ALICE,), T0, POLICY) == ACCEPTED
    assert store.peek_login((ALICE,), T0 + 10, POLICY) == ACCEPTED  # queues the refresh
    # The success record now ends at T0 + 40, not T0 + 30; listings wait for queued writes.
    listed = store.list_auth(Scope(), T0 + 35)
    assert [(r.key, r.until) for r in listed] == [(ALICE, T0 + 40)]
    other = shared.store()
    assert [r.until for r in other.list_auth(Scope(), T0 + 35)] == [T0 + 40]


def test_status_reports_latency_and_the_view(shared: Shared) -> None:
    store = shared.store()
    status = store.status()
    assert status.latency >= 0
    assert status.view_trusted is True
    assert status.pending_writes == 0
