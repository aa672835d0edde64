"""Password checks for a protected directory: hot-reloaded htpasswd file, cached successes.

bcrypt costs 70-300 ms a check, so checks run on a worker thread and successes are cached
for a short while. The cache key is the user plus an HMAC of the password under a key that
lives only in this process, so the cache never holds a password nor a hash an attacker
could brute-force offline. Failures are never cached: each one must cost a real check.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
from collections import OrderedDict

from stockade.auth.htpasswd import Htpasswd
from stockade.clock import Clock
from stockade.errors import FileFormatError

log = logging.getLogger("stockade.server")

CACHE_ENTRIES = 10_000
CACHE_SECONDS = 60.0
RELOAD_CHECK_SECONDS = 1.0


class SuccessCache:
    """A bounded LRU of recent successful checks, keyed by user and a keyed hash of the password."""

    def __init__(self, clock: Clock, *, capacity: int = CACHE_ENTRIES, lifetime: float = CACHE_SECONDS) -> None:
        self.clock = clock
        self.capacity = capacity
        self.lifetime = lifetime
        self._key = os.urandom(32)
        self._entries: OrderedDict[tuple[str, bytes], float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, user: str, password: str) -> tuple[str, bytes]:
        return user, hmac.new(self._key, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def hit(self, user: str, password: str) -> bool:
        if self.capacity == 0:
            return False
        key = self._digest(user, password)
        with self._lock:
            expires = self._entries.get(key)
            if expires is None:
                return False
            if expires <= self.clock.now():
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def add(self, user: str, password: str) -> None:
        if self.capacity == 0:
            return
        key = self._digest(user, password)
        with self._lock:
            self._entries[key] = self.clock.now() + self.lifetime
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class UserFile:
    """An htpasswd file that reloads itself when its modification time changes.

    The file is stat'ed at most once a second (by the injected clock). A file that is
    broken on reload keeps the previous entries and is logged once until it changes again.
    """

    def __init__(self, users: Htpasswd, clock: Clock, *, cache_successes: bool = True) -> None:
        self.users = users
        self.clock = clock
        self.cache = SuccessCache(clock, capacity=CACHE_ENTRIES if cache_successes else 0)
        self._mtime = _mtime(users)
        self._next_check = clock.now() + RELOAD_CHECK_SECONDS
        self._failed_mtime: int | None = None
        self._lock = threading.Lock()

    def _maybe_reload(self) -> None:
        now = self.clock.now()
        if now < self._next_check:
            return
        with self._lock:
            if now < self._next_check:
                return
            self._next_check = now + RELOAD_CHECK_SECONDS
            mtime = _mtime(self.users)
            if mtime is None or mtime in (self._mtime, self._failed_mtime):
                return
            try:
                self.users = Htpasswd.load(self.users.path)
            except FileFormatError as exc:
                self._failed_mtime = mtime
                log.error("keeping the previous users of %s: %s", self.users.path, exc)
                return
            self._mtime = mtime
            self._failed_mtime = None
            # A removed user or changed password must not live on in the cache.
            self.cache.clear()

    def check(self, user: str, password: str) -> bool:
        """The blocking check (run it on a worker thread)."""
        self._maybe_reload()
        if self.cache.hit(user, password):
            return True
        users = self.users
        ok = users.verify(user, password)
        if ok and users is self.users:
            self.cache.add(user, password)
        return ok

    async def verify(self, user: str, password: str) -> bool:
        return await asyncio.to_thread(self.check, user, password)


def _mtime(users: Htpasswd) -> int | None:
    try:
        return os.stat(users.path).st_mtime_ns
    except OSError:
        return None
