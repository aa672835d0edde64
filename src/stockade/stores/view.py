"""What one process knows of a shared store without asking it: the local view.

A clean request (valid credentials of a user with no failures and no block) must not wait
on the store. Each SQLite or Redis store therefore keeps, in process memory:

* ``clean``: keys known to hold no failure, reservation or block, with the end of the
  success record last written for them (``-inf`` when none is known);
* ``blocks``: keys known to be blocked, with the block's end.

Only a key in ``clean`` is ever answered locally, so a view that missed something can
only send a request to the store that it could have answered itself, never accept one the
store would refuse (save for the propagation delay: another host's block is seen when its
change notification arrives). Every answer the store gives updates the view; every change
another process makes reaches it as a notification (Redis pub/sub, SQLite's change
sequence) and drops the key from ``clean`` unless the new state is clean too. A view that
lost its notifications (a dropped subscription) forgets everything and is ``trusted``
again only once they flow.

Both maps are bounded: the oldest entries go first, so a flood of distinct users costs a
fixed amount of memory and at worst sends their requests to the store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stockade._native import BanTable
from stockade.core.lockout import INFINITY, FailureOutcome, LockoutKey, LockoutPolicy, LockoutState
from stockade.stores.records import BanPeek, LoginResult

DEFAULT_CAPACITY = 50_000
# A success record is rewritten (off the request path) once it is older than this (seconds),
# the tolerance core.lockout.login_needs_no_write allows.
REFRESH_AFTER = 1.0
_ACCEPTED = LoginResult(accepted=True)


@dataclass(frozen=True, slots=True)
class Change:
    """A key's new state, as a notification reports it."""

    key: LockoutKey
    blocked_until: float | None
    busy: bool  # failures or reservations present
    auth_until: float | None

    @classmethod
    def of(cls, key: LockoutKey, state: LockoutState) -> Change:
        return cls(key, state.blocked_until, bool(state.failures or state.reservations), state.auth_until)


@dataclass(frozen=True, slots=True)
class Peek:
    """A login answered locally; ``refresh`` asks for the success record to be rewritten."""

    result: LoginResult
    refresh: bool = False


class LocalView:
    """The bounded local knowledge of one store; thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, trusted: bool = True) -> None:
        self.capacity = capacity
        self.trusted = trusted
        self._clean: OrderedDict[LockoutKey, float] = OrderedDict()
        self._blocks: OrderedDict[LockoutKey, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._clean) + len(self._blocks)

    def peek_login(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> Peek | None:
        """Valid credentials answered from the view, or ``None`` when the store must decide."""
        if not self.trusted:
            return None
        primary = keys[0]
        with self._lock:
            refused: float | None = None
            for key in keys:
                until = self._blocks.get(key)
                if until is not None:
                    if not until - now > 0:
                        return None  # an ended block: the store lifts it and reports user_unblock
                    refused = until if refused is None else max(refused, until)
            if refused is not None:
                return Peek(LoginResult(accepted=False, until=refused))
            auth_until = self._clean.get(primary)
            if auth_until is None or any(key not in self._clean for key in keys[1:]):
                return None
            if auth_until - now >= policy.auth_timeout - REFRESH_AFTER:
                return Peek(_ACCEPTED)
            self._clean[primary] = now + policy.auth_timeout
            self._clean.move_to_end(primary)
            return Peek(_ACCEPTED, refresh=True)

    # -- what this process learnt from its own transitions ----------------------------------

    def logged_in(self, keys: Sequence[LockoutKey], result: LoginResult, now: float, policy: LockoutPolicy) -> None:
        with self._lock:
            if not result.accepted:
                # Which key refused is not known here; blocks come from failures and notifications.
                for key in keys:
                    self._clean.pop(key, None)
                return
            for key in keys[1:]:
                self._blocks.pop(key, None)
                if key not in self._clean:
                    self._put(self._clean, key, -INFINITY)
            self._blocks.pop(keys[0], None)
            self._put(self._clean, keys[0], now + policy.auth_timeout)

    def failed(self, key: LockoutKey, outcome: FailureOutcome) -> None:
        with self._lock:
            self._clean.pop(key, None)
            if outcome.blocked and outcome.until is not None:
                self._put(self._blocks, key, outcome.until)

    def blocked(self, key: LockoutKey, until: float) -> None:
        with self._lock:
            self._clean.pop(key, None)
            self._put(self._blocks, key, until)

    def touched(self, key: LockoutKey) -> None:
        """A change whose result is not worth tracking (a reservation, an unblock): forget the key."""
        with self._lock:
            self._clean.pop(key, None)
            self._blocks.pop(key, None)

    # -- what other processes did -------------------------------------------------------------

    def apply(self, change: Change) -> None:
        """A notification of another writer's change (or of one of ours, arriving late)."""
        key = change.key
        with self._lock:
            if change.blocked_until is not None:
                self._put(self._blocks, key, change.blocked_until)
            else:
                self._blocks.pop(key, None)
            if change.busy or change.blocked_until is not None:
                self._clean.pop(key, None)
            elif key in self._clean and change.auth_until is not None:
                self._clean[key] = max(self._clean[key], change.auth_until)

    def forget(self, *, trusted: bool) -> None:
        """Drop everything (notifications were lost); ``trusted`` says whether they flow again."""
        with self._lock:
            self._clean.clear()
            self._blocks.clear()
            self.trusted = trusted

    def known_keys(self) -> list[LockoutKey]:
        with self._lock:
            return [*self._clean, *self._blocks]

    def _put(self, table: OrderedDict[LockoutKey, float], key: LockoutKey, value: float) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)


class BanView:
    """Every active ban of a shared store, held by each process so that no request waits on it.

    Unlike :class:`LocalView`, which may answer only for keys it knows, this view answers for
    every client: it holds all bans (loaded whole, then kept current by the same change
    notifications), so a key it does not hold is not banned. Past ``capacity`` bans, or
    while notifications are lost, it is not ``complete`` and every answer says "ask the store".

    The bans live in the native module (:class:`stockade._native.BanTable`): the native
    ladder reads the same table, without the GIL, as this class's :meth:`peek` does. Readers
    never wait on a writer: each change builds the next table aside and swaps it in.
    """

    __slots__ = ("capacity", "table")

    def __init__(self, capacity: int = 1_000_000, *, trusted: bool = True) -> None:
        self.capacity = capacity
        self.table = BanTable(capacity, trusted=trusted)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def trusted(self) -> bool:
        return self.table.trusted

    @trusted.setter
    def trusted(self, value: bool) -> None:
        self.table.trusted = value

    @property
    def complete(self) -> bool:
        return self.table.complete

    def peek(self, ip: str, key: str, now: float) -> BanPeek:
        known, until = self.table.peek(ip, key, now)
        if not known:
            return _ASK
        return _NOT_BANNED if until is None else BanPeek(True, until)

    def set(self, key: str, until: float | None, *, network: bool | None) -> None:
        """A ban's new end (``None``: no ban); ``network`` None when not known (both kinds tried)."""
        self.table.set(key, until, network=network)

    def replace_all(self, records: Iterable[tuple[str, float, bool]]) -> None:
        """Load every ban at once (start-up, a new subscription); the view is complete again.

        The new tables are built aside and swapped in whole: a lookup meanwhile sees the old
        ones, never a half-loaded view that would miss a ban in force.
        """
        self.table.replace_all(list(records))

    def forget(self, *, trusted: bool) -> None:
        self.table.forget(trusted=trusted)


_ASK = BanPeek(False)
_NOT_BANNED = BanPeek(True, None)
