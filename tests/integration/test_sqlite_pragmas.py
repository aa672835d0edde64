"""The SQLite store's data file is durable: WAL, with ``synchronous`` FULL or NORMAL, never OFF.

Read back from the store's own connection (``synchronous`` is per connection) and from a
second, independent one (``journal_mode = WAL`` is recorded in the file itself).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from stockade.errors import InvalidArgument
from stockade.stores import SQLiteStore, open_store

FULL = 2
NORMAL = 1


def pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def file_journal_mode(path: Path) -> object:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return pragma(conn, "journal_mode")


def test_the_default_is_wal_with_synchronous_full(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    try:
        assert pragma(store._conn, "synchronous") == FULL
        assert pragma(store._conn, "journal_mode") == "wal"
        assert file_journal_mode(path) == "wal"
    finally:
        store.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", FULL), ("?synchronous=full", FULL), ("?synchronous=normal", NORMAL), ("?synchronous=NORMAL", NORMAL)],
)
def test_a_store_url_keeps_wal_and_the_requested_synchronous(tmp_path: Path, query: str, expected: int) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:///{path}{query}")
    try:
        assert isinstance(store, SQLiteStore)
        assert pragma(store._conn, "synchronous") == expected
        assert pragma(store._conn, "journal_mode") == "wal"
        assert file_journal_mode(path) == "wal"
    finally:
        store.close()


def test_synchronous_off_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as raised:
        open_store(f"sqlite:///{tmp_path / 'state.db'}?synchronous=off")
    assert str(raised.value) == "invalid synchronous 'off': expected full, normal or extra"
    assert not (tmp_path / "state.db").exists()
