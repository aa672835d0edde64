"""Every store backend behind one fixture, so one contract suite runs against all of them.

To add a backend (Redis, say), append one :class:`Backend` to ``BACKENDS``: how to open it
for a test (``open`` may be called again after ``close`` to reopen the same state), whether
its state survives a reopen, and how to count its stored records.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from stockade.stores import LockoutStore, MemoryStore, SQLiteStore


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], LockoutStore]
    rows: Callable[[LockoutStore], int]
    persistent: bool


def _sqlite_rows(store: LockoutStore) -> int:
    conn = sqlite3.connect(cast(SQLiteStore, store).path)
    try:
        return int(conn.execute("SELECT count(*) FROM lockout").fetchone()[0])
    finally:
        conn.close()


BACKENDS: tuple[Backend, ...] = (
    Backend("memory", lambda _tmp: MemoryStore(), lambda store: len(cast(MemoryStore, store)), persistent=False),
    Backend("sqlite", lambda tmp: SQLiteStore(tmp / "lockout.db"), _sqlite_rows, persistent=True),
)


class Opened:
    """Opens stores of one backend for one test and closes them all at the end."""

    def __init__(self, backend: Backend, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.stores: list[LockoutStore] = []

    def __call__(self) -> LockoutStore:
        store = self.backend.open(self.tmp_path)
        self.stores.append(store)
        return store

    def rows(self, store: LockoutStore) -> int:
        return self.backend.rows(store)

    def close_all(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return cast(Backend, request.param)


@pytest.fixture
def opener(backend: Backend, tmp_path: Path) -> Iterator[Opened]:
    opened = Opened(backend, tmp_path)
    yield opened
    opened.close_all()


@pytest.fixture
def store(opener: Opened) -> LockoutStore:
    return opener()


PERSISTENT = tuple(b for b in BACKENDS if b.persistent)


@pytest.fixture(params=PERSISTENT, ids=[b.name for b in PERSISTENT])
def persistent_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    """Opens stores of a backend whose state is shared between instances and survives a reopen."""
    opened = Opened(cast(Backend, request.param), tmp_path)
    yield opened
    opened.close_all()
