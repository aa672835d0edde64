"""Every store backend behind one fixture, so one contract suite runs against all of them.

To add a backend, append one :class:`Backend` to ``BACKENDS``: how to open it for a test
(``open`` may be called again after ``close`` to reopen the same state), whether its state
survives a reopen, and how to count its stored records. A backend that needs a server names
the session fixture that starts it (``server``); :func:`_bind` then flushes the server and
binds ``open`` and ``rows`` to it. Each Redis store gets a key prefix derived from its
temporary directory, so the stores of one test (or one hypothesis example) share state and
no others do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pytest

from stockade.stores import LockoutStore, MemoryStore, SQLiteStore, open_store
from tests.redis_servers import ClusterServers, SingleServer, redis_cluster, redis_single, unique_prefix

__all__ = ["redis_cluster", "redis_single"]


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], LockoutStore]
    rows: Callable[[LockoutStore], int]
    persistent: bool
    server: str | None = None
    # A store that holds at most this many records of each kind (None: the backend has no bound).
    open_bounded: Callable[[Path, int], LockoutStore] | None = None


def _sqlite_rows(store: LockoutStore) -> int:
    conn = sqlite3.connect(cast(SQLiteStore, store).path)
    try:
        return int(conn.execute("SELECT count(*) FROM lockout").fetchone()[0])
    finally:
        conn.close()


def _unbound(_: object) -> Any:
    raise RuntimeError("a server backend must be bound to its server first (see _bind)")


BACKENDS: tuple[Backend, ...] = (
    Backend(
        "memory",
        lambda _tmp: MemoryStore(),
        lambda store: len(cast(MemoryStore, store)),
        persistent=False,
        open_bounded=lambda _tmp, records: MemoryStore(max_records=records),
    ),
    Backend("sqlite", lambda tmp: SQLiteStore(tmp / "lockout.db"), _sqlite_rows, persistent=True),
    Backend("redis", _unbound, _unbound, persistent=True, server="redis_single"),
    Backend("redis-cluster", _unbound, _unbound, persistent=True, server="redis_cluster"),
)


def _bind(request: pytest.FixtureRequest, backend: Backend) -> Backend:
    """A server backend with ``open`` and ``rows`` bound to its (flushed) server."""
    if backend.server is None:
        return backend
    servers = cast(SingleServer | ClusterServers, request.getfixturevalue(backend.server))
    servers.flush()

    def open_redis(tmp: Path) -> LockoutStore:
        return open_store(servers.url(unique_prefix(tmp)))

    def rows(store: LockoutStore) -> int:
        return servers.count(f"{store.keys.prefix}lockout:*")  # type: ignore[attr-defined]

    return replace(backend, open=open_redis, rows=rows)


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
    return _bind(request, cast(Backend, request.param))


@pytest.fixture
def opener(backend: Backend, tmp_path: Path) -> Iterator[Opened]:
    opened = Opened(backend, tmp_path)
    yield opened
    opened.close_all()


@pytest.fixture
def store(opener: Opened) -> LockoutStore:
    return opener()


BOUND = 200  # records of each kind in a bounded store (``bounded_store``)


@pytest.fixture
def bounded_store(opener: Opened) -> Iterator[LockoutStore]:
    """A store of the backend that holds at most :data:`BOUND` records of each kind, if it has a bound."""
    backend = opener.backend
    if backend.open_bounded is None:
        yield opener()
        return
    store = backend.open_bounded(opener.tmp_path, BOUND)
    yield store
    store.close()


PERSISTENT = tuple(b for b in BACKENDS if b.persistent)


@pytest.fixture(params=PERSISTENT, ids=[b.name for b in PERSISTENT])
def persistent_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    """Opens stores of a backend whose state is shared between instances and survives a reopen."""
    opened = Opened(_bind(request, cast(Backend, request.param)), tmp_path)
    yield opened
    opened.close_all()
