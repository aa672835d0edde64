"""Shared implementation for stores that can run Python inside one atomic section.

Memory (a lock) and SQLite (``BEGIN IMMEDIATE``) both load the state of a few keys,
apply a pure transition from :mod:`stockade.core.lockout` and write the result back,
all inside one atomic section. Subclasses provide only that section and row access.
Redis, which runs transitions as server-side scripts, does not use this class.

A store shared between processes (SQLite) sets ``view`` to a
:class:`~stockade.stores.view.LocalView` and ``writer`` to a
:class:`~stockade.stores.refresher.SuccessWriter`: every transition then tells the view
what it learnt, and :meth:`TransitionStore.peek_login` answers clean logins from it. The
memory store needs neither: it is local already.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

from stockade.clock import monotonic
from stockade.core import bans
from stockade.core import lockout as core
from stockade.core.bans import BanPolicy, BanState, NetworkBans, StrikeOutcome
from stockade.core.lockout import (
    FailureOutcome,
    LockoutKey,
    LockoutPolicy,
    LockoutState,
    ReserveOutcome,
)
from stockade.stores.records import (
    AuthRecord,
    BanPeek,
    BanRecord,
    BlockRecord,
    LoginResult,
    Scope,
    StoredBan,
    StoredRecord,
    StoreStatus,
)
from stockade.stores.refresher import SuccessWriter
from stockade.stores.view import BanView, LocalView


class TransitionStore(abc.ABC):
    """Implements the :class:`~stockade.stores.protocol.LockoutStore` transitions."""

    view: LocalView | None = None
    writer: SuccessWriter | None = None
    ban_view: BanView | None = None
    refused = 0  # new records a full store refused (a bounded store counts them)

    @property
    @abc.abstractmethod
    def url(self) -> str: ...

    @abc.abstractmethod
    def _atomic(self, operation: str) -> AbstractContextManager[object]:
        """A section in which loads and saves are atomic with respect to other writers."""

    @abc.abstractmethod
    def _load(self, key: LockoutKey) -> LockoutState: ...

    @abc.abstractmethod
    def _save(self, key: LockoutKey, state: LockoutState, expires_at: float, now: float) -> None:
        """Write ``state`` (delete the record when it is empty).

        A bounded store may evict another record to make room, never one whose block is in
        force at ``now``; when it cannot, it raises :class:`~stockade.errors.StoreError`.
        """

    @abc.abstractmethod
    def _scan(self, scope: Scope) -> Iterator[tuple[LockoutKey, LockoutState]]:
        """Every stored record in ``scope``, in key order."""

    @abc.abstractmethod
    def _expired(self, now: float, limit: int) -> list[tuple[LockoutKey, LockoutState]]:
        """Up to ``limit`` records with ``expires_at < now``.

        Strictly less: a failure exactly ``fail_expire_time`` old still counts.
        """

    @abc.abstractmethod
    def _load_ban(self, key: str) -> tuple[BanState, bool]:
        """The state of a ban key and whether it is a network banned by hand."""

    @abc.abstractmethod
    def _save_ban(self, key: str, state: BanState, expires_at: float, network: bool, now: float) -> None:
        """Write a ban record (delete it when the state is empty); never evicts a ban in force at ``now``."""

    @abc.abstractmethod
    def _stored(self, key: LockoutKey) -> tuple[LockoutState, float] | None:
        """The record of ``key`` with its ``expires_at``, or ``None`` when there is none."""

    @abc.abstractmethod
    def _stored_ban(self, key: str) -> tuple[BanState, float, bool] | None:
        """The ban record of ``key`` with its ``expires_at`` and network flag, or ``None``."""

    @abc.abstractmethod
    def _dump_bans(self) -> Iterator[tuple[str, BanState, float, bool]]:
        """Every ban record with its ``expires_at`` and network flag, sorted by key."""

    @abc.abstractmethod
    def _expired_bans(self, now: float, limit: int) -> list[tuple[str, BanState, bool]]:
        """Up to ``limit`` ban records with ``expires_at < now`` or an ended ban to report."""

    @abc.abstractmethod
    def _network_bans(self) -> Iterator[tuple[str, float]]:
        """The networks banned by hand with their ban's end (ended ones included)."""

    @abc.abstractmethod
    def _catch_up(self) -> None:
        """Apply other processes' changes to ``view`` (stores that have one)."""

    def catch_up(self) -> None:
        """Apply other processes' changes to the views now: for a reader of the ban view that
        does not peek through the store (the native front's ladder)."""
        self._catch_up()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def peek_login(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> LoginResult | None:
        """Valid credentials answered without a transaction, or ``None`` (see :mod:`stockade.stores.view`)."""
        if self.view is None:
            return None
        self._catch_up()
        peek = self.view.peek_login(keys, now, policy)
        if peek is None:
            return None
        if peek.refresh and self.writer is not None:
            self.writer.submit(keys, now, policy)
        return peek.result

    def _put(self, key: LockoutKey, state: LockoutState, policy: LockoutPolicy, now: float) -> None:
        self._save(key, state, state.expires_at(policy), now)

    def record_failure(
        self, key: LockoutKey, now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> FailureOutcome:
        if self.view is not None:
            self.view.touched(key)  # even when the write fails: this key is not known clean any more
        with self._atomic("record_failure"):
            state, outcome = core.fail(self._load(key), now, policy, reserved=reserved)
            self._put(key, state, policy, now)
        if self.view is not None:
            self.view.failed(key, outcome)
        return outcome

    def record_success(
        self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> LoginResult:
        primary, *others = keys
        if not reserved:
            with self._atomic("peek_success"):
                if core.login_needs_no_write(self._load(primary), now, policy) and not any(
                    self._load(k).blocked_until is not None for k in others
                ):
                    return _ACCEPTED
        with self._atomic("record_success"):
            states: dict[LockoutKey, LockoutState] = {}
            unblocked: list[LockoutKey] = []
            until: float | None = None
            for other in others:
                states[other], outcome = core.check_block(self._load(other), now)
                if outcome.unblocked:
                    unblocked.append(other)
                if not outcome.accepted and outcome.until is not None:
                    until = outcome.until if until is None else max(until, outcome.until)
            state = self._load(primary)
            if until is None:
                state, outcome = core.succeed(state, now, policy, reserved=reserved)
                if outcome.unblocked:
                    unblocked.insert(0, primary)
                until = None if outcome.accepted else outcome.until
            elif reserved:
                state = core.release(state, now)
            states[primary] = state
            for key, new in states.items():
                self._put(key, new, policy, now)
        result = LoginResult(accepted=until is None, until=until, unblocked=tuple(unblocked))
        if self.view is not None:
            self.view.logged_in(keys, result, now, policy)
        return result

    def reserve(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> ReserveOutcome:
        primary, *others = keys
        if self.view is not None:
            self.view.touched(primary)
        with self._atomic("reserve"):
            for other in others:
                state = self._load(other)
                if state.is_blocked(now):
                    return ReserveOutcome(granted=False, blocked=True, until=state.blocked_until)
            state, outcome = core.reserve(self._load(primary), now, policy)
            self._put(primary, state, policy, now)
            return outcome

    def release(self, key: LockoutKey, now: float, policy: LockoutPolicy) -> None:
        with self._atomic("release"):
            self._put(key, core.release(self._load(key), now), policy, now)

    def block(self, key: LockoutKey, until: float, now: float, policy: LockoutPolicy) -> None:
        with self._atomic("block"):
            self._put(key, core.block(self._load(key), until), policy, now)
        if self.view is not None:
            self.view.blocked(key, until)

    def unblock(self, scope: Scope, now: float) -> list[BlockRecord]:
        removed: list[BlockRecord] = []
        with self._atomic("unblock"):
            for key, state in list(self._scan(scope)):
                new, was_blocked = core.unblock(state)
                if was_blocked and state.blocked_until is not None:
                    removed.append(BlockRecord(key, state.blocked_until))
                    # Unblocking clears the failures, so what remains carries absolute
                    # expiry times and any policy gives the same answer.
                    self._put(key, new, _NO_FAILURES, now)
        if self.view is not None:
            for record in removed:
                self.view.touched(record.key)
        return removed

    def list_blocked(self, scope: Scope, now: float) -> list[BlockRecord]:
        with self._atomic("list_blocked"):
            return [
                BlockRecord(key, state.blocked_until)
                for key, state in self._scan(scope)
                if state.blocked_until is not None and state.is_blocked(now)
            ]

    def list_auth(self, scope: Scope, now: float) -> list[AuthRecord]:
        if self.writer is not None:
            self.writer.settle()
        with self._atomic("list_auth"):
            return [
                AuthRecord(key, state.auth_until)
                for key, state in self._scan(scope)
                if state.auth_until is not None and state.auth_until > now
            ]

    def sweep(self, now: float, limit: int = 1000) -> list[LockoutKey]:
        with self._atomic("sweep"):
            expired = self._expired(now, limit)
            unblocked = [key for key, state in expired if state.blocked_until is not None]
            for key, _ in expired:
                self._save(key, core.EMPTY, 0.0, now)
            return unblocked

    # -- IP bans --------------------------------------------------------------------------------

    def peek_ban(self, ip: str, key: str, now: float) -> BanPeek:
        if self.ban_view is None:
            return BanPeek(True, self.find_ban(ip, key, now))
        self._catch_up()
        return self.ban_view.peek(ip, key, now)

    def find_ban(self, ip: str, key: str, now: float) -> float | None:
        with self._atomic("find_ban"):
            state, _ = self._load_ban(key)
            networks = NetworkBans()
            for network, until in self._network_bans():
                networks.set(network, until)
        best = state.banned_until if state.is_banned(now) else None
        covering = networks.lookup(ip, now) if networks else None
        if covering is not None and (best is None or covering > best):
            best = covering
        return best

    def record_strike(self, key: str, now: float, policy: BanPolicy) -> StrikeOutcome:
        with self._atomic("record_strike"):
            state, network = self._load_ban(key)
            new, outcome = bans.strike(state, now, policy)
            if new != state:
                self._save_ban(key, new, new.expires_at(policy), network, now)
        if self.ban_view is not None and outcome.banned:
            self.ban_view.set(key, outcome.until, network=network)
        return outcome

    def ban_ip(
        self, key: str, until: float, now: float, policy: BanPolicy, *, network: bool = False, keep_longer: bool = False
    ) -> float:
        with self._atomic("ban_ip"):
            state, _ = self._load_ban(key)
            new = bans.ban(state, until, now=now, keep_longer=keep_longer)
            if new != state:
                self._save_ban(key, new, new.expires_at(policy), network, now)
        end = until if new.banned_until is None else new.banned_until
        if self.ban_view is not None:
            self.ban_view.set(key, end, network=network)
        return end

    def unban_ip(self, key: str, now: float) -> float | None:
        with self._atomic("unban_ip"):
            state, network = self._load_ban(key)
            if not state.is_empty():
                self._save_ban(key, bans.EMPTY, 0.0, network, now)
        if self.ban_view is not None:
            self.ban_view.set(key, None, network=network)
        return state.banned_until

    def ban_state(self, key: str, now: float) -> BanState:
        with self._atomic("ban_state"):
            return self._load_ban(key)[0]

    def list_bans(self, now: float) -> list[BanRecord]:
        with self._atomic("list_bans"):
            return [
                BanRecord(key, state.banned_until, network)
                for key, state, _, network in self._dump_bans()
                if state.banned_until is not None and state.is_banned(now)
            ]

    def sweep_bans(self, now: float, limit: int = 1000) -> list[str]:
        ended: list[tuple[str, bool]] = []
        with self._atomic("sweep_bans"):
            for key, state, network in self._expired_bans(now, limit):
                lifted, was_banned = bans.lift(state, now)
                if was_banned:
                    ended.append((key, network))
                # What is left (offences to remember) keeps its own expiry; nothing left goes.
                expires_at = lifted.expires_at(_NO_STRIKES) if not lifted.is_empty() else 0.0
                self._save_ban(key, lifted if expires_at >= now else bans.EMPTY, expires_at, network, now)
        if self.ban_view is not None:
            for key, network in ended:
                self.ban_view.set(key, None, network=network)
        return [key for key, _ in ended]

    def export_bans(self, now: float) -> list[StoredBan]:
        with self._atomic("export"):
            return [
                StoredBan(key, state, expires_at, network)
                for key, state, expires_at, network in self._dump_bans()
                if not expires_at < now and not state.is_empty()
            ]

    def import_bans(self, records: Sequence[StoredBan], now: float) -> int:
        """Write ban records, each merged with what its key holds; returns how many."""
        written: list[StoredBan] = []
        with self._atomic("import"):
            for record in records:
                merged = merge_ban(self._stored_ban(record.key), record)
                self._save_ban(merged.key, merged.state, merged.expires_at, merged.network, now)
                written.append(merged)
        if self.ban_view is not None:
            for record in written:
                self.ban_view.set(record.key, record.state.banned_until, network=record.network)
        return len(records)

    def export_records(self, now: float) -> list[StoredRecord]:
        """Every record that still holds something live, in listing order."""
        if self.writer is not None:
            self.writer.settle()
        with self._atomic("export"):
            return [
                StoredRecord(key, state, expires_at)
                for key, state, expires_at in self._dump()
                if not expires_at < now and not state.is_empty()
            ]

    def import_records(self, records: Sequence[StoredRecord], now: float) -> int:
        """Write ``records``, each merged with what its key holds; returns how many."""
        with self._atomic("import"):
            for record in records:
                merged = merge_record(self._stored(record.key), record)
                self._save(merged.key, merged.state, merged.expires_at, now)
        if self.view is not None:
            for record in records:
                self.view.touched(record.key)
        return len(records)

    @abc.abstractmethod
    def _dump(self) -> Iterator[tuple[LockoutKey, LockoutState, float]]:
        """Every stored record with its ``expires_at``, in listing order."""

    def ping(self) -> float:
        """One consistent read of the store, timed (seconds)."""
        started = monotonic()
        with self._atomic("ping"):
            pass
        return monotonic() - started

    def status(self) -> StoreStatus:
        view = self.view
        return StoreStatus(
            url=self.url,
            latency=self.ping(),
            view_entries=None if view is None else len(view),
            view_trusted=None if view is None else view.trusted,
            view_lag=None if view is None else 0.0,
            pending_writes=0 if self.writer is None else self.writer.pending,
            refused=self.refused,
        )


_NO_FAILURES = LockoutPolicy()
# Strikes never survive a lifted ban's sweep, so their window does not matter for its expiry.
_NO_STRIKES = BanPolicy(window=0.0)
_ACCEPTED = LoginResult(accepted=True)


def merge_record(stored: tuple[LockoutState, float] | None, record: StoredRecord) -> StoredRecord:
    """``record`` joined with what its key held (``stored``: the state and its ``expires_at``)."""
    if stored is None:
        return record
    state, expires_at = stored
    return StoredRecord(record.key, core.merge(state, record.state), max(expires_at, record.expires_at))


def merge_ban(stored: tuple[BanState, float, bool] | None, record: StoredBan) -> StoredBan:
    """``record`` joined with the ban record its key held (state, ``expires_at``, network flag)."""
    if stored is None:
        return record
    state, expires_at, network = stored
    return StoredBan(
        record.key, bans.merge(state, record.state), max(expires_at, record.expires_at), network or record.network
    )


def record_order(key: LockoutKey) -> tuple[str, str, str, int, str]:
    """The order listings use, the same in every backend."""
    return (key.directory, key.user, key.client, key.port, key.address or "")
