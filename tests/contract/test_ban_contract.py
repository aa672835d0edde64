"""The ban contract: every backend counts strikes, bans, escalates and sweeps the same way."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from stockade.clock import monotonic
from stockade.core.bans import BanPolicy, BanState, ban_key, status
from stockade.stores import LockoutStore, MemoryStore
from stockade.stores.records import BanPeek, BanRecord, StoredBan
from tests.contract.conftest import Opened

T0 = 1_800_000_000.0
POLICY = BanPolicy(threshold=3, window=60.0, block_duration=100.0)
ESCALATING = BanPolicy(threshold=2, window=60.0, block_duration=100.0, escalation_factor=2.0, escalation_max=350.0)
IP = "192.0.2.10"
WAIT = 5.0


def strike(store: LockoutStore, times: int, key: str = IP, now: float = T0, policy: BanPolicy = POLICY) -> list[bool]:
    return [store.record_strike(key, now + i * 0.001, policy).banned for i in range(times)]


def test_strikes_warn_then_ban_at_the_threshold(store: LockoutStore) -> None:
    outcomes = [store.record_strike(IP, T0 + i, POLICY) for i in range(3)]
    assert [(o.count, o.banned) for o in outcomes] == [(1, False), (2, False), (3, True)]
    assert outcomes[-1].until == T0 + 2 + POLICY.block_duration
    assert str(status(store.ban_state(IP, T0 + 2), T0 + 2, POLICY)) == "blocked 100"
    assert store.find_ban(IP, IP, T0 + 50) == T0 + 102
    assert store.list_bans(T0 + 50) == [BanRecord(IP, T0 + 102)]
    assert store.find_ban(IP, IP, T0 + 102) is None  # strictly: until - now > 0


def test_a_warning_counts_strikes_inside_the_window(store: LockoutStore) -> None:
    strike(store, 2)
    assert str(status(store.ban_state(IP, T0 + 1), T0 + 1, POLICY)) == "warning 2"
    # Strikes at T0 and T0 + 0.001: at T0 + 60.0005 the first is just over the window, forgotten.
    outcome = store.record_strike(IP, T0 + 60.0005, POLICY)
    assert (outcome.count, outcome.banned) == (2, False)
    assert str(status(store.ban_state(IP, T0 + 200), T0 + 200, POLICY)) == "safe"


def test_a_strike_exactly_window_old_still_counts(store: LockoutStore) -> None:
    store.record_strike(IP, T0, POLICY)
    store.record_strike(IP, T0 + 30, POLICY)
    assert store.record_strike(IP, T0 + 60, POLICY).banned


def test_strikes_while_banned_change_nothing(store: LockoutStore) -> None:
    strike(store, 3)
    outcome = store.record_strike(IP, T0 + 10, POLICY)
    assert (outcome.banned, outcome.until) == (True, T0 + 0.002 + 100)
    assert store.ban_state(IP, T0 + 10).strikes == ()


def test_repeat_offenders_are_banned_longer_up_to_the_cap(store: LockoutStore) -> None:
    ends = []
    now = T0
    for _ in range(4):
        outcome = [store.record_strike(IP, now + i, ESCALATING) for i in range(2)][-1]
        assert outcome.banned
        assert outcome.until is not None
        ends.append(outcome.until - (now + 1))
        now = outcome.until + 1
        assert store.sweep_bans(now) == [IP]
    assert ends == [100.0, 200.0, 350.0, 350.0]
    # Offences are forgotten `remember` after the last ban: then the next ban is short again.
    later = now + ESCALATING.remember + 1
    assert store.sweep_bans(later) == []
    outcome = [store.record_strike(IP, later + i, ESCALATING) for i in range(2)][-1]
    assert outcome.until == later + 1 + 100.0


def test_a_ban_by_hand_sets_exactly_the_end_and_is_no_offence(store: LockoutStore) -> None:
    store.ban_ip(IP, T0 + 5, T0, ESCALATING)
    assert store.find_ban(IP, IP, T0) == T0 + 5
    assert store.ban_state(IP, T0).offences == 0
    store.ban_ip("198.51.100.1", math.inf, T0, POLICY)
    assert str(status(store.ban_state("198.51.100.1", T0), T0, POLICY)) == "blocked infinity"
    assert store.find_ban("198.51.100.1", "198.51.100.1", T0 + 1e12) == math.inf


def test_unban_forgets_everything(store: LockoutStore) -> None:
    strike(store, 3, policy=ESCALATING)
    assert store.unban_ip(IP, T0 + 1) == T0 + 0.001 + 100
    assert store.ban_state(IP, T0 + 1) == BanState()
    assert store.unban_ip(IP, T0 + 1) is None
    assert store.find_ban(IP, IP, T0 + 1) is None


def test_networks_banned_by_hand_cover_their_addresses(store: LockoutStore) -> None:
    store.ban_ip("10.0.0.0/8", T0 + 50, T0, POLICY, network=True)
    store.ban_ip("2001:db8::/32", math.inf, T0, POLICY, network=True)
    assert store.find_ban("10.200.3.4", "10.200.3.4", T0) == T0 + 50
    assert store.find_ban("11.0.0.1", "11.0.0.1", T0) is None
    v6 = "2001:db8:aa::1"
    assert store.find_ban(v6, ban_key(v6, 64), T0) == math.inf
    assert store.find_ban("2001:db9::1", "2001:db9::1", T0) is None
    assert [r.key for r in store.list_bans(T0)] == ["10.0.0.0/8", "2001:db8::/32"]
    assert all(r.network for r in store.list_bans(T0))
    assert store.unban_ip("10.0.0.0/8", T0) == T0 + 50
    assert store.find_ban("10.200.3.4", "10.200.3.4", T0) is None


def test_peek_agrees_with_the_store(opener: Opened) -> None:
    store = opener()
    _wait_for_views(store)
    strike(store, 3)
    store.ban_ip("10.0.0.0/8", T0 + 50, T0, POLICY, network=True)
    for ip in (IP, "10.1.2.3", "192.0.2.11"):
        peeked = store.peek_ban(ip, ip, T0 + 1)
        assert peeked.known
        assert peeked.until == store.find_ban(ip, ip, T0 + 1)


def test_sweep_reports_each_ended_ban_exactly_once(opener: Opened) -> None:
    store = opener()
    strike(store, 3)
    strike(store, 1, key="192.0.2.99")
    store.ban_ip("10.0.0.0/8", T0 + 20, T0, POLICY, network=True)
    assert store.sweep_bans(T0 + 10) == []
    assert sorted(store.sweep_bans(T0 + 101)) == ["10.0.0.0/8", IP]
    assert store.sweep_bans(T0 + 102) == []
    # The offence is remembered, the stale strike is gone.
    assert store.ban_state(IP, T0 + 102).offences == 1
    assert store.ban_state("192.0.2.99", T0 + 102) == BanState()
    assert store.sweep_bans(T0 + 1e9) == []
    assert store.ban_state(IP, T0 + 1e9) == BanState()


def test_sweep_limit(store: LockoutStore) -> None:
    for i in range(6):
        strike(store, 3, key=f"192.0.2.{i}")
    first = store.sweep_bans(T0 + 200, limit=4)
    rest = store.sweep_bans(T0 + 200)
    assert len(first) <= 4
    assert sorted(first + rest) == sorted(f"192.0.2.{i}" for i in range(6))


def test_parallel_strikes_ban_exactly_once(store: LockoutStore) -> None:
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def run() -> None:
        barrier.wait()
        banned = store.record_strike(IP, T0, BanPolicy(threshold=5, window=60.0, block_duration=100.0))
        with lock:
            results.append(banned.banned and banned.count == 5)

    threads = [threading.Thread(target=run) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


def test_bans_survive_a_reopen(persistent_opener: Opened) -> None:
    first = persistent_opener()
    strike(first, 3)
    first.ban_ip("10.0.0.0/8", math.inf, T0, POLICY, network=True)
    first.close()
    second = persistent_opener()
    assert second.find_ban(IP, IP, T0 + 1) == T0 + 0.002 + 100
    assert second.find_ban("10.9.9.9", "10.9.9.9", T0 + 1) == math.inf
    _wait_for_views(second)
    assert second.peek_ban("10.9.9.9", "10.9.9.9", T0 + 1) == BanPeek(True, math.inf)


def test_a_ban_reaches_every_view(persistent_opener: Opened) -> None:
    first, second = persistent_opener(), persistent_opener()
    _wait_for_views(first, second)
    assert second.peek_ban(IP, IP, T0) == BanPeek(True, None)
    strike(first, 3)
    _eventually(lambda: second.peek_ban(IP, IP, T0 + 1) == BanPeek(True, T0 + 0.002 + 100))
    first.unban_ip(IP, T0 + 1)
    _eventually(lambda: second.peek_ban(IP, IP, T0 + 1) == BanPeek(True, None))


def test_export_and_import_of_bans(store: LockoutStore) -> None:
    strike(store, 3, policy=ESCALATING)
    strike(store, 1, key="192.0.2.50")
    store.ban_ip("10.0.0.0/8", math.inf, T0, POLICY, network=True)
    exported = store.export_bans(T0 + 1)
    assert [(r.key, r.network) for r in exported] == [("10.0.0.0/8", True), (IP, False), ("192.0.2.50", False)]
    other = MemoryStore()
    assert other.import_bans(exported, T0 + 1) == 3
    assert other.export_bans(T0 + 1) == exported
    assert other.find_ban("10.1.1.1", "10.1.1.1", T0 + 1) == math.inf
    back = [StoredBan(r.key, r.state, r.expires_at, r.network) for r in other.export_bans(T0 + 1)]
    store.unban_ip(IP, T0 + 1)
    store.import_bans(back, T0 + 1)
    assert store.export_bans(T0 + 1) == exported


def _wait_for_views(*stores: LockoutStore) -> None:
    for store in stores:
        feed = getattr(store, "feed", None)
        if feed is not None:
            assert feed.wait_subscribed(WAIT)


def _eventually(check: Callable[[], bool]) -> None:
    deadline = monotonic() + WAIT
    while not check():
        assert monotonic() < deadline, "the change never reached the other store's view"
        threading.Event().wait(0.001)


def test_an_imported_ban_record_is_merged_with_what_its_key_held(store: LockoutStore) -> None:
    _wait_for_views(store)
    # The target: IP banned for a long time after two offences; a network banned for ever.
    store.import_bans([StoredBan(IP, BanState((), T0 + 5000, 2, T0 + 9000), T0 + 9000)], T0)
    store.ban_ip("10.0.0.0/8", math.inf, T0, POLICY, network=True)
    incoming = [
        StoredBan("10.0.0.0/8", BanState((), T0 + 50), T0 + 50, network=True),
        StoredBan(IP, BanState((T0 - 1,), T0 + 100, 1, T0 + 200), T0 + 200),
        StoredBan("192.0.2.50", BanState((T0, T0 + 1)), T0 + 61),
    ]
    assert store.import_bans(incoming, T0 + 1) == 3
    merged = {r.key: r for r in store.export_bans(T0 + 1)}
    assert merged[IP] == StoredBan(IP, BanState((T0 - 1,), T0 + 5000, 2, T0 + 9000), T0 + 9000)
    assert merged["10.0.0.0/8"].state.banned_until == math.inf
    assert merged["10.0.0.0/8"].network
    assert merged["192.0.2.50"].state.strikes == (T0, T0 + 1)
    assert store.find_ban(IP, IP, T0 + 1) == T0 + 5000
    _eventually(lambda: store.peek_ban(IP, IP, T0 + 1) == BanPeek(True, T0 + 5000))
    assert store.find_ban("10.1.2.3", "10.1.2.3", T0 + 1000) == math.inf
    before = store.export_bans(T0 + 1)
    store.import_bans(incoming, T0 + 1)
    assert store.export_bans(T0 + 1) == before


def test_a_ban_by_hand_keeps_a_longer_ban_when_asked(store: LockoutStore) -> None:
    _wait_for_views(store)
    assert store.ban_ip(IP, T0 + 1000, T0, POLICY) == T0 + 1000
    assert store.ban_ip(IP, T0 + 100, T0, POLICY, keep_longer=True) == T0 + 1000
    assert store.find_ban(IP, IP, T0 + 500) == T0 + 1000
    _eventually(lambda: store.peek_ban(IP, IP, T0 + 500) == BanPeek(True, T0 + 1000))
    assert store.ban_ip(IP, T0 + 2000, T0, POLICY, keep_longer=True) == T0 + 2000  # longer: applied
    assert store.ban_ip(IP, T0 + 100, T0, POLICY) == T0 + 100  # forced: exactly the requested end
    assert store.find_ban(IP, IP, T0 + 500) is None
    net = "10.0.0.0/8"
    store.ban_ip(net, math.inf, T0, POLICY, network=True)
    assert store.ban_ip(net, T0 + 10, T0, POLICY, network=True, keep_longer=True) == math.inf
    assert store.find_ban("10.0.0.1", "10.0.0.1", T0 + 20) == math.inf
