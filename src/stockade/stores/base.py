"""Shared implementation for stores that can run Python inside one atomic section.

Memory (a lock) and SQLite (``BEGIN IMMEDIATE``) both load the state of a few keys,
apply a pure transition from :mod:`stockade.core.lockout` and write the result back,
all inside one atomic section. Subclasses provide only that section and row access.
Redis, which runs transitions as server-side scripts, does not use this class.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

from stockade.core import lockout as core
from stockade.core.lockout import (
    FailureOutcome,
    LockoutKey,
    LockoutPolicy,
    LockoutState,
    ReserveOutcome,
)
from stockade.stores.records import AuthRecord, BlockRecord, LoginResult, Scope


class TransitionStore(abc.ABC):
    """Implements the :class:`~stockade.stores.protocol.LockoutStore` transitions."""

    @property
    @abc.abstractmethod
    def url(self) -> str: ...

    @abc.abstractmethod
    def _atomic(self, operation: str) -> AbstractContextManager[object]:
        """A section in which loads and saves are atomic with respect to other writers."""

    @abc.abstractmethod
    def _load(self, key: LockoutKey) -> LockoutState: ...

    @abc.abstractmethod
    def _save(self, key: LockoutKey, state: LockoutState, expires_at: float) -> None:
        """Write ``state`` (delete the record when it is empty)."""

    @abc.abstractmethod
    def _scan(self, scope: Scope) -> Iterator[tuple[LockoutKey, LockoutState]]:
        """Every stored record in ``scope``, in key order."""

    @abc.abstractmethod
    def _expired(self, now: float, limit: int) -> list[tuple[LockoutKey, LockoutState]]:
        """Up to ``limit`` records with ``expires_at < now``.

        Strictly less: a failure exactly ``fail_expire_time`` old still counts.
        """

    def close(self) -> None:
        return None

    def _put(self, key: LockoutKey, state: LockoutState, policy: LockoutPolicy) -> None:
        self._save(key, state, state.expires_at(policy))

    def record_failure(
        self, key: LockoutKey, now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> FailureOutcome:
        with self._atomic("record_failure"):
            state, outcome = core.fail(self._load(key), now, policy, reserved=reserved)
            self._put(key, state, policy)
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
                self._put(key, new, policy)
            return LoginResult(accepted=until is None, until=until, unblocked=tuple(unblocked))

    def reserve(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> ReserveOutcome:
        primary, *others = keys
        with self._atomic("reserve"):
            for other in others:
                state = self._load(other)
                if state.is_blocked(now):
                    return ReserveOutcome(granted=False, blocked=True, until=state.blocked_until)
            state, outcome = core.reserve(self._load(primary), now, policy)
            self._put(primary, state, policy)
            return outcome

    def release(self, key: LockoutKey, now: float, policy: LockoutPolicy) -> None:
        with self._atomic("release"):
            self._put(key, core.release(self._load(key), now), policy)

    def block(self, key: LockoutKey, until: float, now: float, policy: LockoutPolicy) -> None:
        with self._atomic("block"):
            self._put(key, core.block(self._load(key), until), policy)

    def unblock(self, scope: Scope, now: float) -> list[BlockRecord]:
        removed: list[BlockRecord] = []
        with self._atomic("unblock"):
            for key, state in list(self._scan(scope)):
                new, was_blocked = core.unblock(state)
                if was_blocked and state.blocked_until is not None:
                    removed.append(BlockRecord(key, state.blocked_until))
                    # Unblocking clears the failures, so what remains carries absolute
                    # expiry times and any policy gives the same answer.
                    self._put(key, new, _NO_FAILURES)
        return removed

    def list_blocked(self, scope: Scope, now: float) -> list[BlockRecord]:
        with self._atomic("list_blocked"):
            return [
                BlockRecord(key, state.blocked_until)
                for key, state in self._scan(scope)
                if state.blocked_until is not None and state.is_blocked(now)
            ]

    def list_auth(self, scope: Scope, now: float) -> list[AuthRecord]:
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
                self._save(key, core.EMPTY, 0.0)
            return unblocked


_NO_FAILURES = LockoutPolicy()
_ACCEPTED = LoginResult(accepted=True)


def record_order(key: LockoutKey) -> tuple[str, str, str, int, str]:
    """The order listings use, the same in every backend."""
    return (key.directory, key.user, key.client, key.port, key.address or "")
