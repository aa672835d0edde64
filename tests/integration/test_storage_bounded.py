"""Storage stays bounded under a flood of failures for distinct user names.

Every failure for a new name writes a record that lives for ``fail_expire_time``. The guard
sweeps expired records every ``sweep_interval`` and after every ``sweep_every_writes``
writes, so deletion keeps pace with any rate of new names: the number of stored records
stays near the number still live, however long the flood lasts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import cast

import pytest

from stockade import DirectorySettings, Guard, GuardSettings, LockoutPolicy, ManualClock
from stockade.stores import open_store
from tests.redis_servers import SingleServer, redis_single, unique_prefix

__all__ = ["redis_single"]

WINDOW = 60.0
RATE = 20  # new names a second
FAILURES = 4000
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=WINDOW, auth_timeout=30.0)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable[[], int]]:
    if request.param == "sqlite":
        path = tmp_path / "flood.db"

        def rows() -> int:
            with closing(sqlite3.connect(path)) as conn:
                return int(conn.execute("SELECT count(*) FROM lockout").fetchone()[0])

        return f"sqlite:///{path}?synchronous=normal", rows
    servers = cast(SingleServer, request.getfixturevalue("redis_single"))
    servers.flush()
    prefix = unique_prefix(tmp_path)

    def records() -> int:
        return servers.count(f"{prefix}lockout:*")

    return servers.url(prefix), records


@pytest.mark.slow
def test_a_flood_of_new_names_keeps_storage_bounded(backend: tuple[str, Callable[[], int]]) -> None:
    url, count = backend
    clock = ManualClock()
    settings = GuardSettings(directories=(DirectorySettings("/secure", POLICY),), sweep_interval=3600.0)
    guard = Guard(settings, open_store(url, watch=False), clock=clock)
    peak = 0
    try:
        for i in range(FAILURES):
            guard.login_failed(f"flood-{i}", "/secure")
            clock.advance(1 / RATE)
            if i % 250 == 249:
                peak = max(peak, count())
    finally:
        guard.close()
    live = int(WINDOW * RATE)
    # Without the write-paced sweep (the interval is an hour here) all FAILURES would remain.
    assert peak <= live + 2 * GuardSettings().sweep_every_writes, (peak, live)
