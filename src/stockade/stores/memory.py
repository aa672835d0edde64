"""In-process store: bounded dictionaries behind one lock.

State lives only as long as the process and is not shared with other workers; use it for
tests, for a single process, or for replaying traffic.

The number of records is capped (``memory://?max_records=N``, for the lockout records and
for the ban records each), so a flood of distinct user names or addresses cannot exhaust
memory. A full store makes room by evicting, in this order: an expired record (or a ban
record whose ban has ended); the record written longest ago among those that hold no block
or ban (failure counts, strikes, success records, remembered offences); a lockout record
whose block has ended but was not swept yet. It never evicts a block or ban in force:
when only those remain, the new record is refused with a
:class:`~stockade.errors.StoreError` (so the configured ``[store] on_error`` policy
applies), counted in ``refused`` and logged at most once a minute. So what the store
lists, what its status says, what an unban finds and what it enforces always agree. The
one record a full store goes without, rather than refuse, is the success record of a
valid login (what ``list_auth`` shows): the login stands, and no block or count is lost,
so that flooding the store with blocks of made-up users cannot lock real users out.

Each choice costs O(log n) amortised, never a scan: the records without a block sit in an
ordered dict in write order; heaps of expiry times and of block or ban ends find expired
and ended records. Heap entries of records rewritten since are skipped when they surface
and dropped when a heap is rebuilt (when it holds twice as many entries as records).
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager

from stockade.core.bans import BanState
from stockade.core.lockout import LockoutKey, LockoutState
from stockade.errors import StoreError
from stockade.stores.base import TransitionStore, record_order
from stockade.stores.records import Scope
from stockade.stores.view import BanView

log = logging.getLogger("stockade.store")

DEFAULT_MAX_RECORDS = 100_000
FULL_LOG_SECONDS = 60.0  # a full store logs its refusals at most this often

_Heap = list[tuple[float, int, str]]


class MemoryStore(TransitionStore):
    def __init__(self, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self.max_records = max_records
        self._rows: dict[LockoutKey, tuple[LockoutState, float]] = {}
        self._loose: OrderedDict[LockoutKey, None] = OrderedDict()  # rows without a block, oldest write first
        self._expiries: list[tuple[float, int, LockoutKey]] = []
        self._block_ends: list[tuple[float, int, LockoutKey]] = []
        self._pushed = 0
        self._bans: dict[str, tuple[BanState, float, bool]] = {}
        self._loose_bans: OrderedDict[str, None] = OrderedDict()  # ban records without a ban
        self._ban_due: _Heap = []
        self._networks: set[str] = set()
        # Every ban, for peek_ban without the lock (the transitions keep it current).
        self.ban_view = BanView(capacity=max_records)
        self._lock = threading.RLock()
        self.evicted = 0
        self.refused = 0
        self._full_logged_at = float("-inf")

    @property
    def url(self) -> str:
        return f"memory://?max_records={self.max_records}"

    def __len__(self) -> int:
        return len(self._rows) + len(self._bans)

    def _atomic(self, operation: str) -> AbstractContextManager[object]:
        return self._lock

    def _catch_up(self) -> None:
        """Nothing to catch up with: no other process shares this store."""

    def _seq(self) -> int:
        self._pushed += 1
        return self._pushed

    # -- lockout records --------------------------------------------------------------------------

    def _load(self, key: LockoutKey) -> LockoutState:
        row = self._rows.get(key)
        return row[0] if row is not None else LockoutState()

    def _save(self, key: LockoutKey, state: LockoutState, expires_at: float, now: float) -> None:
        if state.is_empty():
            self._drop_row(key)
            return
        if key not in self._rows and len(self._rows) >= self.max_records and not self._make_room(now):
            self._refused(now, "lockout records", "blocks")
            if _success_only(state):
                return  # the login stands; only its success record (list_auth) is not kept
            raise self._full_error("lockout records", "blocks")
        self._rows[key] = (state, expires_at)
        if state.blocked_until is None:
            self._loose[key] = None
            self._loose.move_to_end(key)
        else:
            self._loose.pop(key, None)
            heapq.heappush(self._block_ends, (state.blocked_until, self._seq(), key))
        heapq.heappush(self._expiries, (expires_at, self._seq(), key))
        if len(self._expiries) + len(self._block_ends) > 4 * len(self._rows) + 1024:
            self._rebuild_row_heaps()

    def _drop_row(self, key: LockoutKey) -> None:
        self._rows.pop(key, None)
        self._loose.pop(key, None)

    def _rebuild_row_heaps(self) -> None:
        self._expiries, self._block_ends = [], []
        for key, (state, expires_at) in self._rows.items():
            self._expiries.append((expires_at, self._seq(), key))
            if state.blocked_until is not None:
                self._block_ends.append((state.blocked_until, self._seq(), key))
        heapq.heapify(self._expiries)
        heapq.heapify(self._block_ends)

    def _make_room(self, now: float) -> bool:
        """Evict one lockout record that holds no block in force; False when every one does."""
        victim = self._expired_row(now)
        if victim is None and self._loose:
            victim = next(iter(self._loose))
        if victim is None:
            victim = self._ended_block(now)
        if victim is None:
            return False
        self._drop_row(victim)
        self.evicted += 1
        return True

    def _expired_row(self, now: float) -> LockoutKey | None:
        heap, rows = self._expiries, self._rows
        while heap:
            expires_at, _, key = heap[0]
            row = rows.get(key)
            if row is None or row[1] != expires_at:
                heapq.heappop(heap)  # the record changed or went since this entry
                continue
            return key if expires_at < now else None
        return None

    def _ended_block(self, now: float) -> LockoutKey | None:
        heap, rows = self._block_ends, self._rows
        while heap:
            until, _, key = heap[0]
            row = rows.get(key)
            if row is None or row[0].blocked_until != until:
                heapq.heappop(heap)
                continue
            return key if not row[0].is_blocked(now) else None
        return None

    def _refused(self, now: float, records: str, holding: str) -> None:
        self.refused += 1
        if now - self._full_logged_at >= FULL_LOG_SECONDS:
            self._full_logged_at = now
            log.error(
                "store %s is full: its %d %s are all %s in force, which are never evicted;"
                " new records are refused (counted) until one ends (raise max_records)",
                self.url,
                self.max_records,
                records,
                holding,
            )

    def _full_error(self, records: str, holding: str) -> StoreError:
        return StoreError(self.url, "write", f"full: {self.max_records} {records}, all {holding} in force")

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

    def _save_ban(self, key: str, state: BanState, expires_at: float, network: bool, now: float) -> None:
        if state.is_empty():
            self._drop_ban(key)
            return
        if key not in self._bans and len(self._bans) >= self.max_records:
            self._make_ban_room(now)
        self._bans[key] = (state, expires_at, network)
        if state.banned_until is None:
            self._loose_bans[key] = None
            self._loose_bans.move_to_end(key)
        else:
            self._loose_bans.pop(key, None)
        if network:
            self._networks.add(key)
        heapq.heappush(self._ban_due, (_due(state, expires_at), self._seq(), key))
        if len(self._ban_due) > 2 * len(self._bans) + 1024:
            self._ban_due = [(_due(st, e), self._seq(), k) for k, (st, e, _) in self._bans.items()]
            heapq.heapify(self._ban_due)

    def _drop_ban(self, key: str) -> None:
        self._bans.pop(key, None)
        self._loose_bans.pop(key, None)
        self._networks.discard(key)

    def _make_ban_room(self, now: float) -> None:
        """Evict one ban record that holds no ban in force, or refuse the new one."""
        victim = self._due_ban(now)  # expired, or its ban ended
        if victim is None and self._loose_bans:
            victim = next(iter(self._loose_bans))
        if victim is None:
            self._refused(now, "ban records", "bans")
            raise self._full_error("ban records", "bans")
        state, _, network = self._bans[victim]
        self._drop_ban(victim)
        self.evicted += 1
        if state.banned_until is not None and self.ban_view is not None:
            self.ban_view.set(victim, None, network=network)

    def _due_ban(self, now: float) -> str | None:
        heap, bans = self._ban_due, self._bans
        while heap:
            due, _, key = heap[0]
            row = bans.get(key)
            if row is None or _due(row[0], row[1]) != due:
                heapq.heappop(heap)
                continue
            return key if due <= now else None
        return None

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


def _success_only(state: LockoutState) -> bool:
    """A record of a valid login and nothing else: a full store may do without it."""
    return not state.failures and state.blocked_until is None and not state.reservations


def _due(state: BanState, expires_at: float) -> float:
    """When a ban record next needs the sweep: its ban's end, or its expiry."""
    return expires_at if state.banned_until is None else min(state.banned_until, expires_at)
