"""State stores: one protocol, several backends, chosen by URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, urlsplit

from stockade.errors import InvalidArgument, StoreError
from stockade.stores._async.protocol import AsyncLockoutStore
from stockade.stores._sync.protocol import LockoutStore
from stockade.stores.memory import MemoryStore
from stockade.stores.offload import OffloadedStore
from stockade.stores.redis import SCHEMES as REDIS_SCHEMES
from stockade.stores.redis import is_redis_url, parse_redis_url
from stockade.stores.sqlite import SQLiteStore, parse_sqlite_url

if TYPE_CHECKING:
    from stockade.stores._async.redis_store import AsyncRedisStore
    from stockade.stores._sync.redis_store import RedisStore

S = TypeVar("S")

SCHEMES = ("memory", "sqlite", *REDIS_SCHEMES)
_ACCEPTED = "memory://, sqlite:///path.db, redis://, rediss://, redis+sentinel:// or redis+cluster://"


def open_store(url: str, base: Path | None = None, *, watch: bool = True) -> LockoutStore:
    """Open the store named by ``url``; relative SQLite paths are resolved against ``base``.

    ``watch=False`` skips the Redis change feed, for short-lived processes (the CLI) that
    never answer a request from a local view.
    """
    if is_redis_url(url):
        return _redis_store(url, watch=watch)
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
    raise InvalidArgument("store url", url, _ACCEPTED)


def open_async_store(url: str, base: Path | None = None, *, watch: bool = True) -> AsyncLockoutStore:
    """Open the store named by ``url`` for asyncio: Redis natively, the others offloaded."""
    if is_redis_url(url):
        return _async_redis_store(url, watch=watch)
    store = open_store(url, base, watch=watch)
    return OffloadedStore(store, threaded=not isinstance(store, MemoryStore))


def open_directory_stores(
    default: S, default_url: str, urls: Mapping[str, str], opener: Callable[[str], S]
) -> dict[str, S]:
    """The stores of the directories that name a data file of their own, one per distinct file.

    ``opener`` opens a URL (:func:`open_store` or :func:`open_async_store`); a directory whose
    file is the default store's shares ``default``. On an error, what was opened is closed.
    """
    opened: dict[str, S] = {_canonical(default_url): default}
    try:
        for url in urls.values():
            if _canonical(url) not in opened:
                opened[_canonical(url)] = opener(url)
    except BaseException:
        for store in opened.values():
            if store is not default:
                _close(store)
        raise
    return {directory: opened[_canonical(url)] for directory, url in urls.items()}


def _canonical(url: str) -> str:
    if urlsplit(url).scheme == "sqlite":
        path, _, _ = parse_sqlite_url(url)
        return f"sqlite:///{path.resolve()}"
    return url


def _close(store: object) -> None:
    if isinstance(store, OffloadedStore):
        store.sync.close()
    elif hasattr(store, "close"):
        store.close()


def _redis_store(url: str, *, watch: bool) -> RedisStore:
    target = parse_redis_url(url)
    try:
        from stockade.stores._sync.redis_store import RedisStore  # noqa: PLC0415 - redis-py is an optional extra
    except ImportError as exc:
        raise StoreError(target.url, "open", f"{exc}; install stockade[redis]") from None
    return RedisStore(target, watch=watch)


def _async_redis_store(url: str, *, watch: bool) -> AsyncRedisStore:
    target = parse_redis_url(url)
    try:
        from stockade.stores._async.redis_store import AsyncRedisStore  # noqa: PLC0415 - redis-py is an optional extra
    except ImportError as exc:
        raise StoreError(target.url, "open", f"{exc}; install stockade[redis]") from None
    return AsyncRedisStore(target, watch=watch)


__all__ = [
    "AsyncLockoutStore",
    "LockoutStore",
    "MemoryStore",
    "open_directory_stores",
    "OffloadedStore",
    "SQLiteStore",
    "open_async_store",
    "open_store",
]
