"""Redis goes away during traffic and comes back: the policy holds, nothing written is lost.

The server runs with an append-only file fsynced on every write (what a deployment that
keeps blocks across a Redis restart needs); it is killed with SIGKILL and started again on
the same port and directory.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade import DirectorySettings, Guard, GuardSettings, LockoutPolicy, ManualClock
from stockade.clock import monotonic
from stockade.engine.settings import ErrorPolicy, OnError
from stockade.errors import StoreError
from stockade.stores import open_store
from tests.redis_servers import RedisProcess, require_redis_py, start_redis

require_redis_py()

POLICY = LockoutPolicy(max_retries=3, block_time=3600.0, fail_expire_time=600.0, auth_timeout=30.0)
WAIT = 10.0


class Restartable:
    """A redis-server that can be killed and started again with its data."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="stockade-outage-"))
        self.server: RedisProcess | None = None
        self.started: list[RedisProcess] = []
        self.port = 0

    def start(self) -> None:
        # Later options win: the restart takes the first start's port and both keep their data here.
        options = ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)]
        if self.port:
            options += ["--port", str(self.port)]
        self.server = start_redis(*options)
        self.started.append(self.server)
        self.port = self.port or self.server.port

    def kill(self) -> None:
        assert self.server is not None
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()

    def stop(self) -> None:
        for server in self.started:
            server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def redis_server() -> Iterator[Restartable]:
    server = Restartable()
    server.start()
    yield server
    server.stop()


def _guard(server: Restartable, lockout: OnError) -> Guard:
    settings = GuardSettings(directories=(DirectorySettings("/secure", POLICY),), on_error=ErrorPolicy(lockout=lockout))
    store = open_store(f"redis://127.0.0.1:{server.port}/0?timeout=0.5")
    return Guard(settings, store, clock=ManualClock())


def _until(check: object) -> None:
    deadline = monotonic() + WAIT
    while monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except StoreError:
            pass
    pytest.fail("the store did not come back")


@pytest.mark.slow
@pytest.mark.parametrize("lockout", ["closed", "open"])
def test_kill_and_restart_redis_during_traffic(redis_server: Restartable, lockout: OnError) -> None:
    guard = _guard(redis_server, lockout)
    try:
        feed = guard.store.feed  # type: ignore[attr-defined]
        assert feed.wait_subscribed(WAIT)
        for _ in range(3):
            guard.login_failed("mallory", "/secure")
        assert [b.user for b in guard.list_blocked_users()] == ["mallory"]
        assert guard.login_succeeded("alice", "/secure").accepted

        redis_server.kill()
        if lockout == "closed":
            with pytest.raises(StoreError):
                guard.login_failed("mallory", "/secure")
            with pytest.raises(StoreError):
                guard.login_succeeded("mallory", "/secure")
        else:
            assert guard.login_failed("mallory", "/secure").failures == 0  # not counted
            assert guard.login_succeeded("mallory", "/secure").accepted  # let through unchecked
        # The admin API never pretends: it raises whatever the policy.
        with pytest.raises(StoreError):
            guard.list_blocked_users()
        assert guard.health.errors >= 2
        assert guard.health.failing

        redis_server.start()
        _until(lambda: feed.wait_subscribed(0.05))
        # Nothing written before the outage is lost, and the guard works again by itself.
        assert [b.user for b in guard.list_blocked_users()] == ["mallory"]
        assert not guard.login_succeeded("mallory", "/secure").accepted
        assert guard.login_succeeded("alice", "/secure").accepted
        assert not guard.health.failing
        assert guard.store_status().errors >= guard.health.errors
    finally:
        guard.close()
