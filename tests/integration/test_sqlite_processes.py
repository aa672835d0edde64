"""One SQLite data file shared by several real processes counts exactly (README §1, §4)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.stores import SQLiteStore
from stockade.stores.records import BlockRecord, Scope
from stockade.stores.sqlite import MIGRATIONS

pytestmark = pytest.mark.slow

T0 = 1_800_000_000.0
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0)
KEY = LockoutKey("/secure", "alice", address="127.0.0.1", port=8080)
PROCESSES = 4
CALLS = 30


def _fail_worker(path: str, calls: int, barrier: Barrier, results: Queue[list[bool]]) -> None:
    store = SQLiteStore(path)
    try:
        barrier.wait()
        results.put([store.record_failure(KEY, T0, POLICY).blocked for _ in range(calls)])
    finally:
        store.close()


def _reserve_worker(path: str, calls: int, barrier: Barrier, results: Queue[list[bool]]) -> None:
    store = SQLiteStore(path)
    try:
        barrier.wait()
        results.put([store.reserve([KEY], T0, POLICY).granted for _ in range(calls)])
    finally:
        store.close()


def _run(target: Callable[..., None], path: Path, calls: int) -> list[list[bool]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results: Queue[list[bool]] = ctx.Queue()
    procs = [ctx.Process(target=target, args=(str(path), calls, barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        collected = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    results.close()
    results.join_thread()
    return collected


def _create(path: Path) -> None:
    # Create the schema once, so the workers race on the transitions, not on the migration.
    SQLiteStore(path).close()


def test_failures_from_several_processes_count_exactly(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    _create(path)
    collected = _run(_fail_worker, path, CALLS)
    outcomes = [blocked for chunk in collected for blocked in chunk]
    assert len(outcomes) == PROCESSES * CALLS
    # The serial count: every third failure blocks (failures while blocked count and re-block).
    assert sum(outcomes) == PROCESSES * CALLS // POLICY.max_retries  # type: ignore[operator]
    store = SQLiteStore(path)
    try:
        assert store.list_blocked(Scope(), T0) == [BlockRecord(KEY, T0 + 60)]
    finally:
        store.close()


def test_reservations_from_several_processes_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    _create(path)
    collected = _run(_reserve_worker, path, 5)
    assert sum(granted for chunk in collected for granted in chunk) == POLICY.max_retries


def test_processes_racing_on_a_new_file_all_open_it(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    collected = _run(_fail_worker, path, 3)
    assert sum(blocked for chunk in collected for blocked in chunk) == PROCESSES
    store = SQLiteStore(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
    finally:
        store.close()
