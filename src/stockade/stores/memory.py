"""In-process store: a bounded dictionary behind one lock.

State lives only as long as the process and is not shared with other workers; use it for
tests, for a single process, or for replaying traffic. The number of records is capped
(``memory://?max_records=N``): when full, the least recently written record without a
block is dropped (the oldest record of all when the oldest few all hold blocks), so a
flood of distinct user names can neither exhaust memory nor cheaply evict its own block.
A heap of expiry times finds expired records for the sweep without scanning them all; its
entries for records rewritten since are skipped when popped and dropped when it is rebuilt.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager
from itertools import islice

from stockade.core.lockout import LockoutKey, LockoutState
from stockade.stores.base import TransitionStore, record_order
from stockade.stores.records import Scope

DEFAULT_MAX_RECORDS = 100_000
# How many of the oldest records eviction looks at to find one without a block.
_EVICTION_SCAN = 32


class MemoryStore(TransitionStore):
    def __init__(self, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self.max_records = max_records
        self._rows: OrderedDict[LockoutKey, tuple[LockoutState, float]] = OrderedDict()
        self._expiries: list[tuple[float, int, LockoutKey]] = []
        self._pushed = 0
        self._lock = threading.RLock()
        self.evicted = 0

    @property
    def url(self) -> str:
        return f"memory://?max_records={self.max_records}"

    def __len__(self) -> int:
        return len(self._rows)

    def _atomic(self, operation: str) -> AbstractContextManager[object]:
        return self._lock

    def _catch_up(self) -> None:
        """Nothing to catch up with: no other process shares this store."""

    def _load(self, key: LockoutKey) -> LockoutState:
        row = self._rows.get(key)
        return row[0] if row is not None else LockoutState()

    def _save(self, key: LockoutKey, state: LockoutState, expires_at: float) -> None:
        if state.is_empty():
            self._rows.pop(key, None)
            return
        self._rows[key] = (state, expires_at)
        self._rows.move_to_end(key)
        self._pushed += 1
        heapq.heappush(self._expiries, (expires_at, self._pushed, key))
        if len(self._expiries) > 2 * len(self._rows) + 1024:
            self._expiries = [(e, i, k) for i, (k, (_, e)) in enumerate(self._rows.items())]
            heapq.heapify(self._expiries)
        while len(self._rows) > self.max_records:
            self._rows.pop(self._victim())
            self.evicted += 1

    def _victim(self) -> LockoutKey:
        oldest: LockoutKey | None = None
        for key, (state, _) in islice(self._rows.items(), _EVICTION_SCAN):
            oldest = oldest or key
            if state.blocked_until is None:
                return key
        if oldest is None:
            raise LookupError("no record to evict")
        return oldest

    def _scan(self, scope: Scope) -> Iterator[tuple[LockoutKey, LockoutState]]:
        keys = sorted((k for k in self._rows if scope.matches(k)), key=record_order)
        return iter([(k, self._rows[k][0]) for k in keys])

    def _dump(self) -> Iterator[tuple[LockoutKey, LockoutState, float]]:
        keys = sorted(self._rows, key=record_order)
        return iter([(k, *self._rows[k]) for k in keys])

    def _expired(self, now: float, limit: int) -> list[tuple[LockoutKey, LockoutState]]:
        found: dict[LockoutKey, LockoutState] = {}
        heap = self._expiries
        while heap and heap[0][0] < now and len(found) < limit:
            expires_at, _, key = heapq.heappop(heap)
            row = self._rows.get(key)
            if row is not None and row[1] == expires_at and key not in found:
                found[key] = row[0]
        return list(found.items())
