"""A flood of fresh records never makes a store forget a block or a ban in force.

Every backend, bounded or not: after more fresh records than a bounded store holds, each
ban and block still in force is listed, enforced, reported by its status and found by an
unban, which lifts it. A bounded store (the memory store) evicts what holds nothing in
force to make room, and refuses a new record rather than evict one that does.
"""

from __future__ import annotations

import logging

import pytest

from stockade.core.bans import BanPolicy, status
from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.errors import StoreError
from stockade.stores import LockoutStore, MemoryStore
from stockade.stores.records import BanPeek, BlockRecord, Scope
from tests.contract.conftest import BOUND

T0 = 1_800_000_000.0
BANS = BanPolicy(threshold=3, window=600.0, block_duration=3600.0)
LOCKOUT = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=600.0, auth_timeout=30.0)
BANNED = [f"198.51.100.{i}" for i in range(50)]
BLOCKED = [LockoutKey("/secure", f"victim{i}") for i in range(50)]
FLOOD = 3 * BOUND // 2  # more fresh records than a bounded store holds


def fresh(i: int) -> str:
    return f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"


def test_a_flood_of_strikes_never_forgets_a_ban(bounded_store: LockoutStore) -> None:
    store = bounded_store
    for ip in BANNED:
        outcomes = [store.record_strike(ip, T0 + j, BANS) for j in range(3)]
        assert outcomes[-1].banned
    for i in range(FLOOD):
        assert not store.record_strike(fresh(i), T0 + 10 + i * 0.01, BANS).banned
    now = T0 + 100
    until = {record.key: record.until for record in store.list_bans(now)}
    assert sorted(until) == sorted(BANNED)
    for ip in BANNED:
        assert store.find_ban(ip, ip, now) == until[ip] == T0 + 2 + 3600
        assert store.peek_ban(ip, ip, now) in (BanPeek(True, until[ip]), BanPeek(False))
        assert str(status(store.ban_state(ip, now), now, BANS)).startswith("blocked")
    for ip in BANNED:
        assert store.unban_ip(ip, now) == until[ip]
        assert store.find_ban(ip, ip, now) is None
    assert store.list_bans(now) == []


def test_a_flood_of_failures_never_forgets_a_block(bounded_store: LockoutStore) -> None:
    store = bounded_store
    for key in BLOCKED:
        assert [store.record_failure(key, T0 + j, LOCKOUT).blocked for j in range(3)][-1]
    for i in range(FLOOD):
        assert not store.record_failure(LockoutKey("/secure", f"fresh{i}"), T0 + 10 + i * 0.01, LOCKOUT).blocked
    now = T0 + 30
    assert store.list_blocked(Scope(), now) == [BlockRecord(key, T0 + 2 + 60) for key in sorted(BLOCKED)]
    for key in BLOCKED:
        refused = store.record_success([key], now, LOCKOUT)
        assert (refused.accepted, refused.until) == (False, T0 + 62)
    assert len(store.unblock(Scope(user="victim7"), now)) == 1
    assert store.record_success([BLOCKED[7]], now, LOCKOUT).accepted


# -- a bounded store ------------------------------------------------------------------------------


def test_a_full_store_evicts_expired_then_idle_records_oldest_first() -> None:
    store = MemoryStore(max_records=4)
    store.record_strike("192.0.2.1", T0, BANS)  # expires at T0 + 600
    store.record_strike("192.0.2.2", T0 + 700, BANS)
    store.record_strike("192.0.2.3", T0 + 701, BANS)
    store.ban_ip("192.0.2.4", T0 + 5000, T0 + 702, BANS)
    store.record_strike("192.0.2.5", T0 + 703, BANS)  # the expired one makes room
    assert [r.key for r in store.export_bans(T0 + 703)] == ["192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]
    store.record_strike("192.0.2.2", T0 + 704, BANS)  # written again: now the newest strike
    store.record_strike("192.0.2.6", T0 + 705, BANS)  # then the strike written longest ago goes
    store.record_strike("192.0.2.7", T0 + 706, BANS)
    assert [r.key for r in store.export_bans(T0 + 706)] == ["192.0.2.2", "192.0.2.4", "192.0.2.6", "192.0.2.7"]
    assert store.evicted == 3


def test_a_store_full_of_bans_refuses_new_records(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore(max_records=3)
    for i in range(3):
        store.ban_ip(f"192.0.2.{i}", T0 + 100 + i, T0, BANS)
    caplog.set_level(logging.ERROR, "stockade.store")
    for _ in range(5):
        with pytest.raises(StoreError) as caught:
            store.record_strike("203.0.113.1", T0 + 1, BANS)
    assert str(caught.value) == (
        "store memory://?max_records=3 failed during write: full: 3 ban records, all bans in force"
    )
    assert store.refused == 5
    assert store.status().refused == 5
    assert [r.getMessage() for r in caplog.records] == [
        "store memory://?max_records=3 is full: its 3 ban records are all bans in force, which are never evicted;"
        " new records are refused (counted) until one ends (raise max_records)"
    ]
    assert [r.key for r in store.list_bans(T0 + 1)] == ["192.0.2.0", "192.0.2.1", "192.0.2.2"]
    # A ban that ended (not swept yet) makes room; so does an unban.
    assert store.record_strike("203.0.113.1", T0 + 100, BANS).count == 1
    assert store.find_ban("192.0.2.0", "192.0.2.0", T0 + 100) is None
    assert store.peek_ban("192.0.2.0", "192.0.2.0", T0 + 100) == BanPeek(True, None)
    assert [r.key for r in store.list_bans(T0 + 100)] == ["192.0.2.1", "192.0.2.2"]


def test_a_store_full_of_blocks_refuses_new_records() -> None:
    store = MemoryStore(max_records=2)
    store.block(LockoutKey("/s", "a"), T0 + 100, T0, LOCKOUT)
    store.block(LockoutKey("/s", "b"), T0 + 200, T0, LOCKOUT)
    with pytest.raises(StoreError, match="full: 2 lockout records, all blocks in force"):
        store.record_failure(LockoutKey("/s", "c"), T0 + 1, LOCKOUT)
    with pytest.raises(StoreError):
        store.reserve([LockoutKey("/s", "c")], T0 + 1, LOCKOUT)
    # A valid login stands: only its success record is not kept (blocks of made-up users
    # filling the store must not lock real users out).
    assert store.record_success([LockoutKey("/s", "c")], T0 + 1, LOCKOUT).accepted
    assert store.list_auth(Scope(), T0 + 1) == []
    assert store.refused == 3
    assert store.record_failure(LockoutKey("/s", "a"), T0 + 1, LOCKOUT).failures == 1  # a record it holds
    # The block of "a" has ended, though no sweep has lifted it: it may go.
    assert store.record_failure(LockoutKey("/s", "c"), T0 + 150, LOCKOUT).failures == 1
    assert [r.key.user for r in store.list_blocked(Scope(), T0 + 150)] == ["b"]
    assert store.evicted == 1
