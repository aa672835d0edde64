"""The local view: what it may answer alone, and how notifications change that."""

from __future__ import annotations

import math
from collections.abc import Iterator

from stockade.core.lockout import FailureOutcome, LockoutKey, LockoutPolicy
from stockade.stores.records import BanPeek, LoginResult
from stockade.stores.view import REFRESH_AFTER, BanView, Change, LocalView, Peek

POLICY = LockoutPolicy(auth_timeout=30.0)
T0 = 1_800_000_000.0
ALICE = LockoutKey("/secure", "alice")
BOB = LockoutKey("/secure", "bob")
ALICE_IP = LockoutKey("/secure", "", "192.0.2.1")
ACCEPTED = LoginResult(accepted=True)


def logged_in(view: LocalView, *keys: LockoutKey, at: float = T0) -> None:
    view.logged_in(keys, ACCEPTED, at, POLICY)


def test_an_unknown_key_goes_to_the_store() -> None:
    assert LocalView().peek_login((ALICE,), T0, POLICY) is None


def test_a_known_clean_key_is_answered_and_refreshed_after_a_second() -> None:
    view = LocalView()
    logged_in(view, ALICE)
    assert view.peek_login((ALICE,), T0 + 0.5, POLICY) == Peek(ACCEPTED)
    assert view.peek_login((ALICE,), T0 + REFRESH_AFTER + 0.5, POLICY) == Peek(ACCEPTED, refresh=True)
    # The refresh was noted: the next login within a second needs none.
    assert view.peek_login((ALICE,), T0 + REFRESH_AFTER + 0.6, POLICY) == Peek(ACCEPTED)


def test_an_untrusted_view_answers_nothing() -> None:
    view = LocalView(trusted=False)
    logged_in(view, ALICE)
    assert view.peek_login((ALICE,), T0, POLICY) is None
    view.forget(trusted=True)
    assert view.peek_login((ALICE,), T0, POLICY) is None  # forgetting dropped alice
    logged_in(view, ALICE)
    assert view.peek_login((ALICE,), T0, POLICY) == Peek(ACCEPTED)


def test_a_failure_makes_the_key_go_to_the_store() -> None:
    view = LocalView()
    logged_in(view, ALICE)
    view.failed(ALICE, FailureOutcome(1, False, None))
    assert view.peek_login((ALICE,), T0, POLICY) is None


def test_a_known_block_refuses_until_it_ends_then_the_store_decides() -> None:
    view = LocalView()
    view.failed(ALICE, FailureOutcome(3, True, T0 + 60))
    assert view.peek_login((ALICE,), T0 + 59, POLICY) == Peek(LoginResult(accepted=False, until=T0 + 60))
    # An ended block is lifted by the store, which reports user_unblock.
    assert view.peek_login((ALICE,), T0 + 60, POLICY) is None


def test_a_block_of_a_secondary_key_refuses_the_login() -> None:
    view = LocalView()
    logged_in(view, ALICE_IP, ALICE)
    assert view.peek_login((ALICE_IP, ALICE), T0, POLICY) == Peek(ACCEPTED)
    view.blocked(ALICE, math.inf)
    assert view.peek_login((ALICE_IP, ALICE), T0, POLICY) == Peek(LoginResult(accepted=False, until=math.inf))


def test_a_secondary_key_must_be_known_clean() -> None:
    view = LocalView()
    logged_in(view, ALICE_IP)
    assert view.peek_login((ALICE_IP, ALICE), T0, POLICY) is None


def test_another_writers_failure_or_block_drops_the_key() -> None:
    view = LocalView()
    logged_in(view, ALICE, at=T0)
    logged_in(view, BOB, at=T0)
    view.apply(Change(ALICE, None, True, None))
    view.apply(Change(BOB, T0 + 60, False, None))
    assert view.peek_login((ALICE,), T0, POLICY) is None
    assert view.peek_login((BOB,), T0, POLICY) == Peek(LoginResult(accepted=False, until=T0 + 60))
    # The block lifted elsewhere: the store decides again.
    view.apply(Change(BOB, None, False, None))
    assert view.peek_login((BOB,), T0, POLICY) is None


def test_another_writers_clean_change_keeps_the_key_and_its_newer_login() -> None:
    view = LocalView()
    logged_in(view, ALICE, at=T0)
    view.apply(Change(ALICE, None, False, T0 + 25 + POLICY.auth_timeout))
    # Refreshed elsewhere at T0 + 25: no refresh due here at T0 + 25.5.
    assert view.peek_login((ALICE,), T0 + 25.5, POLICY) == Peek(ACCEPTED)


def test_a_clean_change_of_an_unknown_key_adds_nothing() -> None:
    view = LocalView()
    view.apply(Change(ALICE, None, False, T0 + 30))
    assert view.peek_login((ALICE,), T0, POLICY) is None


def test_a_refused_login_drops_every_key_of_the_attempt() -> None:
    view = LocalView()
    logged_in(view, ALICE_IP, ALICE)
    view.logged_in((ALICE_IP, ALICE), LoginResult(accepted=False, until=T0 + 60), T0, POLICY)
    assert view.peek_login((ALICE_IP, ALICE), T0, POLICY) is None


def test_touched_keys_are_forgotten() -> None:
    view = LocalView()
    logged_in(view, ALICE)
    view.blocked(BOB, T0 + 60)
    view.touched(ALICE)
    view.touched(BOB)
    assert view.peek_login((ALICE,), T0, POLICY) is None
    assert view.peek_login((BOB,), T0, POLICY) is None
    assert len(view) == 0


def test_memory_is_bounded_under_a_flood_of_distinct_users() -> None:
    view = LocalView(capacity=100)
    for i in range(10_000):
        key = LockoutKey("/secure", f"user{i}")
        logged_in(view, key)
        view.failed(LockoutKey("/secure", f"attacker{i}"), FailureOutcome(3, True, T0 + 60))
    assert len(view) == 200
    # The newest entries survive; the oldest went first.
    assert view.peek_login((LockoutKey("/secure", "user9999"),), T0, POLICY) == Peek(ACCEPTED)
    assert view.peek_login((LockoutKey("/secure", "user0"),), T0, POLICY) is None


def test_a_block_that_dropped_out_of_a_full_view_is_asked_of_the_store_never_accepted() -> None:
    view = LocalView(capacity=2)
    blocked = [LockoutKey("/secure", f"victim{i}") for i in range(3)]
    for key in blocked:
        logged_in(view, key)  # known clean first...
        view.blocked(key, T0 + 600)  # ...then blocked
    assert view.peek_login((blocked[0],), T0, POLICY) is None  # its block dropped out: "ask the store"
    assert view.peek_login((blocked[2],), T0, POLICY) == Peek(LoginResult(accepted=False, until=T0 + 600))


# -- the ban view ---------------------------------------------------------------------------------


def test_a_full_ban_view_says_ask_the_store_rather_than_not_banned() -> None:
    view = BanView(capacity=2)
    for i in range(3):
        view.set(f"192.0.2.{i}", T0 + 600, network=False)
    assert view.peek("192.0.2.2", "192.0.2.2", T0) == BanPeek(False)
    assert view.peek("192.0.2.0", "192.0.2.0", T0) == BanPeek(False)
    view.replace_all([("192.0.2.0", T0 + 600, False)])
    assert view.peek("192.0.2.0", "192.0.2.0", T0) == BanPeek(True, T0 + 600)
    assert view.peek("192.0.2.2", "192.0.2.2", T0) == BanPeek(True, None)


def test_a_ban_view_being_reloaded_still_answers_from_the_previous_tables() -> None:
    view = BanView()
    view.set("192.0.2.1", T0 + 600, network=False)
    view.set("10.0.0.0/8", T0 + 600, network=True)
    seen: list[BanPeek] = []

    def records() -> Iterator[tuple[str, float, bool]]:
        for record in [("192.0.2.1", T0 + 600, False), ("10.0.0.0/8", T0 + 600, True)]:
            seen.append(view.peek("192.0.2.1", "192.0.2.1", T0))  # a lookup while the reload runs
            seen.append(view.peek("10.1.2.3", "10.1.2.3", T0))
            yield record

    view.replace_all(records())
    assert set(seen) == {BanPeek(True, T0 + 600)}
    assert view.peek("10.1.2.3", "10.1.2.3", T0) == BanPeek(True, T0 + 600)
