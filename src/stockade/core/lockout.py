"""Login lockout state transitions, after Erlang/OTP inets ``mod_security``.

Every function here is pure: it takes the state of one lockout key, the moment ``now``
(seconds since the epoch) and the directory's policy, and returns the new state and an
outcome. Stores apply these functions atomically (one SQLite transaction, one Lua
script); the engine turns outcomes into events and HTTP answers.

Rules reproduced from the reference (``shared/spec/mod_security.md`` §3):

* a failure older than ``fail_expire_time`` (strictly ``now - t > window``) is forgotten;
* the failure that brings the count inside the window to ``max_retries`` blocks the user
  for ``block_time`` and clears the failures; that request still gets 401;
* failures while blocked still count and re-block (a new ``user_block``);
* a valid login while blocked is refused; after the block ends, the next valid login lifts
  it lazily (``user_unblock``), clears the failures and is remembered for ``auth_timeout``.

Deliberate improvements: ``infinity`` works for every duration (``math.inf``), a re-block
never shortens a longer block, only the newest ``max_retries`` failures are kept (they are
all a block decision needs), and reservations let an application take a slot *before* it
checks a password so that parallel attempts can never exceed ``max_retries``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

INFINITY = math.inf

# With max_retries = infinity no block ever happens; keep a bounded tail of failures anyway.
_MAX_KEPT_FAILURES = 64
# A valid login refreshes the success record only when it is older than this (seconds).
_AUTH_REFRESH = 1.0


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """The lockout settings of one protected directory, durations in seconds.

    ``None`` for ``max_retries`` and ``math.inf`` for a duration mean ``infinity``.
    """

    max_retries: int | None = 3
    block_time: float = 3600.0
    fail_expire_time: float = 1800.0
    auth_timeout: float = 30.0
    reservation_timeout: float = 30.0

    def kept_failures(self) -> int:
        if self.max_retries is None:
            return _MAX_KEPT_FAILURES
        return max(self.max_retries, 1)


@dataclass(frozen=True, slots=True, order=True)
class LockoutKey:
    """What failures are counted against: a user (or client) in one directory of one listener.

    ``address`` is the listener's bound address, ``None`` when bound to every address;
    ``client`` is the client IP when lockouts are keyed by IP, otherwise empty.
    """

    directory: str
    user: str
    client: str = ""
    address: str | None = None
    port: int = 0


@dataclass(frozen=True, slots=True)
class LockoutState:
    """Everything stored for one key. The empty state means "no record"."""

    failures: tuple[float, ...] = ()
    blocked_until: float | None = None
    auth_until: float | None = None
    reservations: tuple[float, ...] = field(default=())

    def is_empty(self) -> bool:
        return not self.failures and self.blocked_until is None and self.auth_until is None and not self.reservations

    def is_blocked(self, now: float) -> bool:
        return self.blocked_until is not None and self.blocked_until - now > 0

    def expires_at(self, policy: LockoutPolicy) -> float:
        """The moment after which nothing in this state matters any more."""
        times = [t + policy.fail_expire_time for t in self.failures]
        times.extend(self.reservations)
        if self.blocked_until is not None:
            times.append(self.blocked_until)
        if self.auth_until is not None:
            times.append(self.auth_until)
        return max(times, default=-INFINITY)


EMPTY = LockoutState()


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """The result of one counted failure."""

    failures: int
    blocked: bool
    until: float | None


@dataclass(frozen=True, slots=True)
class SuccessOutcome:
    """The result of valid credentials: accepted, or refused because blocked."""

    accepted: bool
    until: float | None = None
    unblocked: bool = False


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """Whether a password check may go ahead."""

    granted: bool
    blocked: bool = False
    until: float | None = None


def _window(failures: tuple[float, ...], now: float, policy: LockoutPolicy) -> tuple[float, ...]:
    window = policy.fail_expire_time
    return tuple(t for t in failures if not now - t > window)


def _live_reservations(state: LockoutState, now: float) -> tuple[float, ...]:
    return tuple(t for t in state.reservations if t > now)


def _drop_one_reservation(reservations: tuple[float, ...]) -> tuple[float, ...]:
    if not reservations:
        return reservations
    ordered = sorted(reservations)
    return tuple(ordered[1:])


def fail(
    state: LockoutState, now: float, policy: LockoutPolicy, *, reserved: bool = False
) -> tuple[LockoutState, FailureOutcome]:
    """Count one failed authentication."""
    reservations = _live_reservations(state, now)
    if reserved:
        reservations = _drop_one_reservation(reservations)
    failures = (*_window(state.failures, now, policy), now)[-policy.kept_failures() :]
    if policy.max_retries is None or len(failures) < policy.max_retries:
        new = replace(state, failures=failures, reservations=reservations)
        return new, FailureOutcome(len(failures), False, state.blocked_until)
    until = now + policy.block_time
    if state.blocked_until is not None:
        until = max(until, state.blocked_until)
    new = replace(state, failures=(), blocked_until=until, reservations=reservations)
    return new, FailureOutcome(len(failures), True, until)


def succeed(
    state: LockoutState, now: float, policy: LockoutPolicy, *, reserved: bool = False
) -> tuple[LockoutState, SuccessOutcome]:
    """Valid credentials: refuse while blocked, otherwise clear failures and remember the login."""
    reservations = _live_reservations(state, now)
    if reserved:
        reservations = _drop_one_reservation(reservations)
    if state.is_blocked(now):
        return (
            replace(state, reservations=reservations),
            SuccessOutcome(accepted=False, until=state.blocked_until),
        )
    unblocked = state.blocked_until is not None
    new = LockoutState(auth_until=now + policy.auth_timeout, reservations=reservations)
    return new, SuccessOutcome(accepted=True, unblocked=unblocked)


def login_needs_no_write(state: LockoutState, now: float, policy: LockoutPolicy) -> bool:
    """True when a valid login would change nothing worth a write.

    Repeated logins of a user with no failures, no block and a success record refreshed
    within the last second skip the write, so authenticated traffic costs a read, not a
    durable transaction. The success record may then end up to a second early.
    """
    return (
        not state.failures
        and state.blocked_until is None
        and not state.reservations
        and state.auth_until is not None
        and state.auth_until - now >= policy.auth_timeout - _AUTH_REFRESH
    )


def check_block(state: LockoutState, now: float) -> tuple[LockoutState, SuccessOutcome]:
    """Consult a block without recording a login (a secondary key of the same attempt)."""
    if state.is_blocked(now):
        return state, SuccessOutcome(accepted=False, until=state.blocked_until)
    if state.blocked_until is None:
        return state, SuccessOutcome(accepted=True)
    return replace(state, blocked_until=None), SuccessOutcome(accepted=True, unblocked=True)


def reserve(state: LockoutState, now: float, policy: LockoutPolicy) -> tuple[LockoutState, ReserveOutcome]:
    """Take a slot for one password check, or refuse when the check could exceed the limit."""
    reservations = _live_reservations(state, now)
    if state.is_blocked(now):
        return replace(state, reservations=reservations), ReserveOutcome(
            granted=False, blocked=True, until=state.blocked_until
        )
    failures = _window(state.failures, now, policy)
    if policy.max_retries is not None and len(failures) + len(reservations) >= policy.max_retries:
        return replace(state, failures=failures, reservations=reservations), ReserveOutcome(granted=False)
    reservations = (*reservations, now + policy.reservation_timeout)
    return replace(state, failures=failures, reservations=reservations), ReserveOutcome(granted=True)


def release(state: LockoutState, now: float) -> LockoutState:
    """Give back a reserved slot without an outcome (the check was abandoned)."""
    return replace(state, reservations=_drop_one_reservation(_live_reservations(state, now)))


def merge(ours: LockoutState, theirs: LockoutState) -> LockoutState:
    """Two records of one key joined into one (``stockade store migrate`` into a store that has one).

    Every failure and reservation of either, the later block and the later login: nothing
    either record holds is lost, and joining a record with itself changes nothing, so a
    migration that failed half-way can simply run again.
    """
    return LockoutState(
        failures=union(ours.failures, theirs.failures),
        blocked_until=_later(ours.blocked_until, theirs.blocked_until),
        auth_until=_later(ours.auth_until, theirs.auth_until),
        reservations=union(ours.reservations, theirs.reservations),
    )


def union(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """The times of ``a`` and ``b`` in order, each as often as in the one that has it more often.

    Two failures at the same instant stay two, and a list joined with itself is unchanged.
    """
    counts = Counter(a)
    for t, n in Counter(b).items():
        counts[t] = max(counts[t], n)
    return tuple(sorted(counts.elements()))


def _later(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def block(state: LockoutState, until: float) -> LockoutState:
    """An explicit block (the API): sets exactly the requested end, as the reference does."""
    return replace(state, failures=(), blocked_until=until)


def unblock(state: LockoutState) -> tuple[LockoutState, bool]:
    """Remove a block record, expired or not, and the failures counted with it."""
    if state.blocked_until is None:
        return state, False
    return replace(state, failures=(), blocked_until=None), True


def seconds_setting(minutes: float) -> float:
    """Convert a minutes setting to seconds (``math.inf`` stays infinite)."""
    return float(minutes) * 60.0
