"""State stores: one protocol, several backends, chosen by URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from stockade.errors import InvalidArgument
from stockade.stores._async.protocol import AsyncLockoutStore
from stockade.stores._sync.protocol import LockoutStore
from stockade.stores.memory import MemoryStore
from stockade.stores.offload import OffloadedStore
from stockade.stores.sqlite import SQLiteStore

SCHEMES = ("memory", "sqlite")


def open_store(url: str, base: Path | None = None) -> LockoutStore:
    """Open the store named by ``url``; relative SQLite paths are resolved against ``base``."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        query = parse_qs(urlsplit(url).query)
        raw = query.get("max_records", ["100000"])[-1]
        try:
            return MemoryStore(int(raw))
        except ValueError:
            raise InvalidArgument("max_records", raw, "a positive integer") from None
    if scheme == "sqlite":
        return SQLiteStore.from_url(url, base)
    raise InvalidArgument("store url", url, "memory:// or sqlite:///path.db")


def open_async_store(url: str, base: Path | None = None) -> AsyncLockoutStore:
    store = open_store(url, base)
    return OffloadedStore(store, threaded=not isinstance(store, MemoryStore))


__all__ = [
    "AsyncLockoutStore",
    "LockoutStore",
    "MemoryStore",
    "OffloadedStore",
    "SQLiteStore",
    "open_async_store",
    "open_store",
]
