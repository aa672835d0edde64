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

from stockade.core.bans import BanState
from stockade.core.lockout import LockoutKey, LockoutState
from stockade.stores.base import TransitionStore, record_order
from stockade.stores.records import Scope
from stockade.stores.view import BanView

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
        self._bans: OrderedDict[str, tuple[BanState, float, bool]] = OrderedDict()
        self._ban_due: list[tuple[float, int, str]] = []
        self._networks: set[str] = set()
        # Every ban, for peek_ban without the lock (the transitions keep it current).
        self.ban_view = BanView(capacity=max_records)
        self._lock = threading.RLock()
        self.evicted = 0

    @property
    def url(self) -> str:
        return f"memory://?max_records={self.max_records}"

    def __len__(self) -> int:
        return len(self._rows) + len(self._bans)

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

    # -- ban records ------------------------------------------------------------------------------

    def _load_ban(self, key: str) -> tuple[BanState, bool]:
        row = self._bans.get(key)
        return (row[0], row[2]) if row is not None else (BanState(), False)

    def _save_ban(self, key: str, state: BanState, expires_at: float, network: bool) -> None:
        if state.is_empty():
            self._bans.pop(key, None)
            self._networks.discard(key)
            return
        self._bans[key] = (state, expires_at, network)
        self._bans.move_to_end(key)
        if network:
            self._networks.add(key)
        self._pushed += 1
        heapq.heappush(self._ban_due, (_due(state, expires_at), self._pushed, key))
        if len(self._ban_due) > 2 * len(self._bans) + 1024:
            self._ban_due = [(_due(st, e), i, k) for i, (k, (st, e, _)) in enumerate(self._bans.items())]
            heapq.heapify(self._ban_due)
        while len(self._bans) > self.max_records:
            victim = self._ban_victim()
            self._bans.pop(victim)
            self._networks.discard(victim)
            self.evicted += 1

    def _ban_victim(self) -> str:
        """The oldest record that bans nothing (strikes, remembered offences), else the oldest."""
        oldest: str | None = None
        for key, (state, _, _) in islice(self._bans.items(), _EVICTION_SCAN):
            oldest = oldest or key
            if state.banned_until is None:
                return key
        if oldest is None:
            raise LookupError("no record to evict")
        return oldest

    def _stored(self, key: LockoutKey) -> tuple[LockoutState, float] | None:
        return self._rows.get(key)

    def _stored_ban(self, key: str) -> tuple[BanState, float, bool] | None:
        return self._bans.get(key)

    def _dump_bans(self) -> Iterator[tuple[str, BanState, float, bool]]:
        return iter([(k, *self._bans[k]) for k in sorted(self._bans)])

    def _expired_bans(self, now: float, limit: int) -> list[tuple[str, BanState, bool]]:
        found: dict[str, tuple[BanState, bool]] = {}
        heap = self._ban_due
        while heap and heap[0][0] <= now and len(found) < limit:
            due, _, key = heapq.heappop(heap)
            row = self._bans.get(key)
            if row is not None and _due(row[0], row[1]) == due and key not in found:
                found[key] = (row[0], row[2])
        return [(key, state, network) for key, (state, network) in found.items()]

    def _network_bans(self) -> Iterator[tuple[str, float]]:
        for key in self._networks:
            state = self._bans[key][0]
            if state.banned_until is not None:
                yield key, state.banned_until


def _due(state: BanState, expires_at: float) -> float:
    """When a ban record next needs the sweep: its ban's end, or its expiry."""
    return expires_at if state.banned_until is None else min(state.banned_until, expires_at)
