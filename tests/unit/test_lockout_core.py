"""The pure lockout transitions, with explicit ``now`` (mod_security.md §3, README §1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.core import lockout as core
from stockade.core.lockout import EMPTY, LockoutPolicy, LockoutState

T0 = 1_800_000_000.0
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0, auth_timeout=30.0)


def fail_n(state: LockoutState, times: list[float], policy: LockoutPolicy = POLICY) -> list[core.FailureOutcome]:
    outcomes = []
    for t in times:
        state, outcome = core.fail(state, t, policy)
        outcomes.append(outcome)
    return outcomes


def failed(times: list[float], policy: LockoutPolicy = POLICY) -> LockoutState:
    state = EMPTY
    for t in times:
        state, _ = core.fail(state, t, policy)
    return state


# -- failures and blocks -----------------------------------------------------------------------


def test_block_on_the_max_retries_th_failure() -> None:
    outcomes = fail_n(EMPTY, [T0, T0 + 1, T0 + 2])
    assert [o.blocked for o in outcomes] == [False, False, True]
    assert [o.failures for o in outcomes] == [1, 2, 3]
    assert outcomes[-1].until == T0 + 2 + 60.0


def test_block_clears_the_failures_and_sets_block_time() -> None:
    state = failed([T0, T0 + 1, T0 + 2])
    assert state.failures == ()
    assert state.blocked_until == T0 + 62
    assert state.is_blocked(T0 + 61.5)
    # Active while until - now > 0: at the exact end the block is over.
    assert not state.is_blocked(T0 + 62)


def test_max_retries_one_blocks_on_the_first_failure() -> None:
    state, outcome = core.fail(EMPTY, T0, LockoutPolicy(max_retries=1, block_time=10))
    assert outcome.blocked
    assert state.blocked_until == T0 + 10


def test_sliding_window_is_strict() -> None:
    # A failure exactly fail_expire_time old still counts (strict `>`).
    outcomes = fail_n(EMPTY, [T0, T0 + 30, T0 + 60])
    assert outcomes[-1].blocked
    assert outcomes[-1].failures == 3


def test_failure_older_than_the_window_is_forgotten() -> None:
    outcomes = fail_n(EMPTY, [T0, T0 + 30, T0 + 60.5])
    assert not outcomes[-1].blocked
    assert outcomes[-1].failures == 2


def test_success_clears_failures_and_remembers_the_login() -> None:
    state = failed([T0, T0 + 1])
    state, outcome = core.succeed(state, T0 + 2, POLICY)
    assert outcome.accepted
    assert not outcome.unblocked
    assert state.failures == ()
    assert state.auth_until == T0 + 2 + 30
    # 2 wrong, right, 2 wrong, right: never blocked (obs henry_*).
    outcomes = fail_n(state, [T0 + 3, T0 + 4])
    assert not any(o.blocked for o in outcomes)


def test_success_while_blocked_is_refused_and_changes_nothing() -> None:
    state = failed([T0, T0 + 1, T0 + 2])
    new, outcome = core.succeed(state, T0 + 10, POLICY)
    assert not outcome.accepted
    assert outcome.until == T0 + 62
    assert new == state


def test_failures_while_blocked_count_and_re_block() -> None:
    state = failed([T0, T0 + 1, T0 + 2])  # blocked until T0 + 62
    outcomes = []
    for t in (T0 + 10, T0 + 11, T0 + 12):
        state, outcome = core.fail(state, t, POLICY)
        outcomes.append(outcome)
    assert [o.blocked for o in outcomes] == [False, False, True]
    assert outcomes[-1].until == T0 + 12 + 60
    assert state.blocked_until == T0 + 72


def test_re_block_never_shortens_a_longer_block() -> None:
    state = core.block(EMPTY, T0 + 600)
    for t in (T0 + 1, T0 + 2, T0 + 3):
        state, outcome = core.fail(state, t, POLICY)
    assert outcome.blocked
    assert outcome.until == T0 + 600
    assert state.blocked_until == T0 + 600


def test_re_block_after_expiry_starts_a_new_block() -> None:
    state = failed([T0, T0 + 1, T0 + 2])
    state = failed_from(state, [T0 + 100, T0 + 101, T0 + 102])
    assert state.blocked_until == T0 + 162


def failed_from(state: LockoutState, times: list[float]) -> LockoutState:
    for t in times:
        state, _ = core.fail(state, t, POLICY)
    return state


def test_explicit_block_sets_exactly_the_requested_end() -> None:
    long = core.block(EMPTY, T0 + 600)
    assert long.blocked_until == T0 + 600
    # Unlike a re-block by failures, the API sets exactly what was asked, even if shorter.
    short = core.block(long, T0 + 5)
    assert short.blocked_until == T0 + 5
    # It also clears the failures counted so far.
    assert core.block(failed([T0, T0 + 1]), T0 + 50).failures == ()


def test_zero_second_block_is_already_expired_and_lifted_lazily() -> None:
    state = core.block(EMPTY, T0)
    assert not state.is_blocked(T0)
    state, outcome = core.succeed(state, T0, POLICY)
    assert outcome.accepted
    assert outcome.unblocked
    assert state.blocked_until is None


def test_unblock_removes_active_and_expired_blocks() -> None:
    active = core.block(EMPTY, T0 + 100)
    state, removed = core.unblock(active)
    assert removed
    assert state.blocked_until is None
    expired = core.block(EMPTY, T0 - 100)
    state, removed = core.unblock(expired)
    assert removed
    assert state.blocked_until is None
    state, removed = core.unblock(failed([T0]))
    assert not removed
    assert state.failures == (T0,)


def test_unblock_clears_failures_but_keeps_the_login_record() -> None:
    state, _ = core.succeed(EMPTY, T0, POLICY)
    state = replace_failures(core.block(state, T0 + 100), (T0 + 1,))
    new, removed = core.unblock(state)
    assert removed
    assert new.failures == ()
    assert new.auth_until == T0 + 30


def replace_failures(state: LockoutState, failures: tuple[float, ...]) -> LockoutState:
    return LockoutState(failures, state.blocked_until, state.auth_until, state.reservations)


def test_lazy_unblock_flag_after_expiry() -> None:
    state = failed([T0, T0 + 1, T0 + 2])
    state, outcome = core.succeed(state, T0 + 62, POLICY)
    assert outcome.accepted
    assert outcome.unblocked
    assert state.blocked_until is None
    # The next login does not report it again.
    _, outcome = core.succeed(state, T0 + 63, POLICY)
    assert outcome.accepted
    assert not outcome.unblocked


def test_check_block() -> None:
    blocked = core.block(EMPTY, T0 + 10)
    state, outcome = core.check_block(blocked, T0 + 5)
    assert (outcome.accepted, outcome.until, state) == (False, T0 + 10, blocked)
    state, outcome = core.check_block(blocked, T0 + 10)
    assert outcome.accepted
    assert outcome.unblocked
    assert state.blocked_until is None
    state, outcome = core.check_block(EMPTY, T0)
    assert outcome.accepted
    assert not outcome.unblocked
    assert state == EMPTY


# -- infinity ------------------------------------------------------------------------------------


def test_max_retries_infinity_never_blocks_and_keeps_a_bounded_tail() -> None:
    policy = LockoutPolicy(max_retries=None, fail_expire_time=math.inf)
    state = EMPTY
    for i in range(200):
        state, outcome = core.fail(state, T0 + i, policy)
        assert not outcome.blocked
    assert len(state.failures) == 64
    assert state.failures[-1] == T0 + 199


def test_block_time_infinity() -> None:
    policy = LockoutPolicy(max_retries=2, block_time=math.inf)
    state = failed([T0, T0 + 1], policy)
    assert state.blocked_until == math.inf
    assert state.is_blocked(T0 + 1e12)
    _, outcome = core.succeed(state, T0 + 1e12, policy)
    assert not outcome.accepted
    assert state.expires_at(policy) == math.inf


def test_fail_expire_time_infinity_counts_every_failure() -> None:
    policy = LockoutPolicy(max_retries=3, fail_expire_time=math.inf)
    outcomes = fail_n(EMPTY, [T0, T0 + 1e9, T0 + 2e9], policy)
    assert outcomes[-1].blocked


def test_explicit_infinite_block_and_unblock() -> None:
    state = core.block(EMPTY, math.inf)
    assert state.is_blocked(T0 + 1e15)
    state, removed = core.unblock(state)
    assert removed
    assert state.is_empty()


# -- reservations --------------------------------------------------------------------------------


RES = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0, reservation_timeout=30.0)


def test_reserve_grants_up_to_max_retries() -> None:
    state = EMPTY
    granted = []
    for _ in range(5):
        state, outcome = core.reserve(state, T0, RES)
        granted.append(outcome.granted)
    assert granted == [True, True, True, False, False]
    assert len(state.reservations) == 3


def test_reserve_counts_failures_and_live_reservations() -> None:
    state = failed([T0, T0 + 1], RES)
    state, outcome = core.reserve(state, T0 + 2, RES)
    assert outcome.granted
    state, outcome = core.reserve(state, T0 + 2, RES)
    assert not outcome.granted
    assert not outcome.blocked


def test_reserve_while_blocked_is_refused_as_blocked() -> None:
    state = failed([T0, T0 + 1, T0 + 2], RES)
    _, outcome = core.reserve(state, T0 + 3, RES)
    assert (outcome.granted, outcome.blocked, outcome.until) == (False, True, T0 + 62)


def test_expired_reservations_are_forgotten() -> None:
    state = EMPTY
    for _ in range(3):
        state, _ = core.reserve(state, T0, RES)
    _, outcome = core.reserve(state, T0 + 29, RES)
    assert not outcome.granted
    # A reservation is live while its end is strictly in the future.
    state, outcome = core.reserve(state, T0 + 30, RES)
    assert outcome.granted
    assert state.reservations == (T0 + 60,)


def test_reserved_failure_and_success_consume_one_reservation() -> None:
    state = EMPTY
    for _ in range(2):
        state, _ = core.reserve(state, T0, RES)
    state, outcome = core.fail(state, T0 + 1, RES, reserved=True)
    assert not outcome.blocked
    assert len(state.reservations) == 1
    assert len(state.failures) == 1
    state, success = core.succeed(state, T0 + 2, RES, reserved=True)
    assert success.accepted
    assert state.reservations == ()
    assert state.failures == ()


def test_reserved_success_while_blocked_still_returns_the_slot() -> None:
    state, _ = core.reserve(EMPTY, T0, RES)
    state = core.block(state, T0 + 100)
    state, outcome = core.succeed(state, T0 + 1, RES, reserved=True)
    assert not outcome.accepted
    assert state.reservations == ()


def test_release_returns_the_slot() -> None:
    state = EMPTY
    for _ in range(3):
        state, _ = core.reserve(state, T0, RES)
    state = core.release(state, T0 + 1)
    assert len(state.reservations) == 2
    _, outcome = core.reserve(state, T0 + 1, RES)
    assert outcome.granted
    assert core.release(EMPTY, T0) == EMPTY


def test_reserve_with_max_retries_infinity_always_grants() -> None:
    policy = LockoutPolicy(max_retries=None)
    state = EMPTY
    for _ in range(100):
        state, outcome = core.reserve(state, T0, policy)
        assert outcome.granted


# -- helpers -------------------------------------------------------------------------------------


def test_login_needs_no_write() -> None:
    assert not core.login_needs_no_write(EMPTY, T0, POLICY)
    state, _ = core.succeed(EMPTY, T0, POLICY)
    assert core.login_needs_no_write(state, T0 + 0.5, POLICY)
    assert core.login_needs_no_write(state, T0 + 1.0, POLICY)
    assert not core.login_needs_no_write(state, T0 + 1.5, POLICY)
    assert not core.login_needs_no_write(failed_from(state, [T0 + 0.2]), T0 + 0.5, POLICY)
    reserved, _ = core.reserve(state, T0, POLICY)
    assert not core.login_needs_no_write(reserved, T0 + 0.5, POLICY)


def test_expires_at_covers_every_part() -> None:
    assert EMPTY.expires_at(POLICY) == -math.inf
    assert failed([T0], POLICY).expires_at(POLICY) == T0 + 60
    state = LockoutState((T0,), T0 + 500, T0 + 30, (T0 + 700,))
    assert state.expires_at(POLICY) == T0 + 700


def test_policy_kept_failures_and_minutes() -> None:
    assert LockoutPolicy(max_retries=0).kept_failures() == 1
    assert LockoutPolicy(max_retries=5).kept_failures() == 5
    assert LockoutPolicy(max_retries=None).kept_failures() == 64
    assert core.seconds_setting(2) == 120.0
    assert core.seconds_setting(math.inf) == math.inf
    assert LockoutPolicy() == LockoutPolicy(3, 3600.0, 1800.0, 30.0)


# -- properties ----------------------------------------------------------------------------------


@dataclass
class Reference:
    """A straightforward model of mod_security counting, with stockade's no-shortening re-block."""

    max_retries: int | None
    block_time: float
    window: float
    failures: list[float]
    blocked_until: float | None = None
    blocks: int = 0

    def fail(self, now: float) -> None:
        self.failures = [t for t in self.failures if now - t <= self.window] + [now]
        if self.max_retries is not None and len(self.failures) >= self.max_retries:
            self.blocks += 1
            self.failures = []
            end = now + self.block_time
            self.blocked_until = end if self.blocked_until is None else max(end, self.blocked_until)

    def succeed(self, now: float) -> bool:
        if self.blocked_until is not None and self.blocked_until > now:
            return False
        self.failures = []
        self.blocked_until = None
        return True


durations = st.one_of(st.integers(min_value=0, max_value=100).map(float), st.just(math.inf))
steps = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=40)),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(
    max_retries=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
    block_time=durations,
    window=durations,
    steps=steps,
)
def test_blocks_match_a_reference_model(
    max_retries: int | None, block_time: float, window: float, steps: list[tuple[bool, int]]
) -> None:
    policy = LockoutPolicy(max_retries=max_retries, block_time=block_time, fail_expire_time=window)
    model = Reference(max_retries, block_time, window, [])
    state = EMPTY
    now = T0
    blocks = 0
    for is_failure, gap in steps:
        now += gap
        if is_failure:
            state, outcome = core.fail(state, now, policy)
            blocks += outcome.blocked
            model.fail(now)
        else:
            state, success = core.succeed(state, now, policy)
            assert success.accepted == model.succeed(now)
        assert blocks == model.blocks
        assert state.blocked_until == model.blocked_until
        assert state.failures == tuple(model.failures)[-policy.kept_failures() :]
        assert len(state.failures) <= policy.kept_failures()


@settings(max_examples=100, deadline=None)
@given(
    max_retries=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
    window=durations,
    gaps=st.lists(st.integers(min_value=0, max_value=3), max_size=150),
)
def test_kept_failures_are_bounded(max_retries: int | None, window: float, gaps: list[int]) -> None:
    policy = LockoutPolicy(max_retries=max_retries, fail_expire_time=window)
    bound = 64 if max_retries is None else max(max_retries, 1)
    state = EMPTY
    now = T0
    for gap in gaps:
        now += gap
        state, _ = core.fail(state, now, policy)
        assert len(state.failures) <= bound
