"""Success records written off the request path.

A valid login that the local view answers (:mod:`stockade.stores.view`) still has to
refresh the user's success record now and then, so that ``list_auth_users`` sees it. The
request does not wait for that write: it is queued here, coalesced per key (the newest
login wins) and written by one background thread. Listings call :meth:`SuccessWriter.settle`
first, so they never miss a login that was already answered.

A write that fails is logged once per incident and dropped: the login it records was
already accepted, and the next refresh writes the record again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.errors import StoreError

log = logging.getLogger("stockade.store")

Write = Callable[[Sequence[LockoutKey], float, LockoutPolicy], object]


class SuccessWriter:
    """One daemon thread that writes queued success records through ``write``."""

    def __init__(self, write: Write, name: str) -> None:
        self._write = write
        self._name = name
        self._pending: dict[LockoutKey, tuple[Sequence[LockoutKey], float, LockoutPolicy]] = {}
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failing = False
        self.written = 0
        self.failed = 0

    def submit(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> None:
        with self._cond:
            if self._closed:
                return
            self._pending[keys[0]] = (keys, now, policy)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"stockade-writer {self._name}", daemon=True)
                self._thread.start()
            self._cond.notify()

    @property
    def pending(self) -> int:
        return len(self._pending) + self._busy

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is written; False when ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    async def asettle(self, timeout: float = 5.0) -> bool:
        if not self._pending and not self._busy:
            return True
        return await asyncio.to_thread(self.settle, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        self.settle(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                batch = list(self._pending.values())
                self._pending.clear()
                self._busy = len(batch)
            for keys, now, policy in batch:
                try:
                    self._write(keys, now, policy)
                    self.written += 1
                    if self._failing:
                        self._failing = False
                        log.warning("%s: success records are written again", self._name)
                except StoreError as exc:
                    self.failed += 1
                    if not self._failing:
                        self._failing = True
                        log.error("%s: a success record could not be written: %s", self._name, exc)
            with self._cond:
                self._busy = 0
                self._cond.notify_all()
