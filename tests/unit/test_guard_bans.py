"""The guard's IP bans: detection, counting, bans, escalation, aggregation, exemptions, events, API."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from stockade import Guard, GuardSettings, ManualClock
from stockade.core.bans import BanPolicy
from stockade.core.detection import BUILTIN, Detector
from stockade.core.facts import RequestFacts
from stockade.engine.settings import BanSettings, ResponseRule
from stockade.errors import InvalidIpAddress, NotBanned
from stockade.netaddr import NetworkSet
from stockade.stores import MemoryStore, SQLiteStore

T0 = 1_800_000_000.0
POLICY = BanPolicy(threshold=5, window=600.0, block_duration=86_400.0)
PROBE = RequestFacts(path="/.env")
CLEAN = RequestFacts(path="/index.html")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def __call__(self, what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
        self.events.append((what, dict(data)))

    def names(self, *kinds: str) -> list[str]:
        return [what for what, _ in self.events if not kinds or what in kinds]


@pytest.fixture(params=["memory", "sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    def make() -> MemoryStore | SQLiteStore:
        return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "bans.db")

    return make


def guard_with(store_factory: object, recorder: Recorder | None = None, **options: object) -> tuple[Guard, ManualClock]:
    clock = ManualClock(T0)
    bans = BanSettings(policy=options.pop("policy", POLICY), callbacks=(recorder,) if recorder else (), **options)  # type: ignore[arg-type]
    guard = Guard(GuardSettings(bans=bans), store_factory(), clock=clock)  # type: ignore[operator]
    return guard, clock


def probe(guard: Guard, ip: str, facts: RequestFacts = PROBE) -> str | None:
    if guard.bans.refusal(ip, facts.path) is not None:
        return "refused"
    return guard.bans.inspect(ip, facts)


def test_four_probes_warn_the_fifth_bans_and_the_ban_expires(store_factory: object) -> None:
    recorder = Recorder()
    guard, clock = guard_with(store_factory, recorder)
    try:
        ip = "203.0.113.7"
        for _ in range(4):
            assert probe(guard, ip) == "env_file"
            clock.advance(1)
        assert probe(guard, ip, CLEAN) is None
        assert str(guard.ip_address_status(ip)) == "warning 4"
        assert probe(guard, ip) == "env_file"
        assert str(guard.ip_address_status(ip)) == "blocked 86400"
        refused = guard.bans.refusal(ip, "/")
        assert refused is not None
        assert refused.retry_after == 86_400
        assert probe(guard, ip, CLEAN) == "refused"
        clock.advance(86_400)
        assert guard.bans.refusal(ip, "/") is None
        assert str(guard.ip_address_status(ip)) == "safe"
        assert guard.sweep() == 1
        assert guard.sweep() == 0
        guard.flush_events()
        assert recorder.names("ip_block", "ip_unblock") == ["ip_block", "ip_unblock"]
        assert recorder.names("malicious_request").count("malicious_request") == 5
        block = next(data for what, data in recorder.events if what == "ip_block")
        assert (block["ip"], block["rule"], block["seconds"]) == (ip, "env_file", 86_400.0)
        assert "valid_request" in recorder.names()
        assert "request_rejected" in recorder.names()
    finally:
        guard.close()


def test_a_repeat_offender_is_banned_longer(store_factory: object) -> None:
    escalating = BanPolicy(threshold=2, window=600.0, block_duration=100.0, escalation_factor=3.0, escalation_max=500.0)
    guard, clock = guard_with(store_factory, policy=escalating)
    try:
        lengths = []
        for _ in range(3):
            probe(guard, "198.51.100.2")
            probe(guard, "198.51.100.2")
            refused = guard.bans.refusal("198.51.100.2", "/")
            assert refused is not None
            lengths.append(refused.retry_after)
            clock.advance(refused.until - clock.now() + 1)
        assert lengths == [100, 300, 500]
    finally:
        guard.close()


def test_ipv6_addresses_of_one_prefix_share_a_ban(store_factory: object) -> None:
    guard, _ = guard_with(store_factory)
    try:
        for host in range(5):
            probe(guard, f"2001:db8:1:2::{host + 1}")
        assert guard.bans.refusal("2001:db8:1:2:ffff::9", "/") is not None
        assert guard.bans.refusal("2001:db8:1:3::1", "/") is None
        assert [b.ip for b in guard.list_banned_ips()] == ["2001:db8:1:2::/64"]
        assert str(guard.ip_address_status("2001:db8:1:2::abcd")).startswith("blocked")
    finally:
        guard.close()


def test_without_aggregation_each_address_counts_alone(store_factory: object) -> None:
    guard, _ = guard_with(store_factory, ipv6_prefix=128)
    try:
        for host in range(5):
            probe(guard, f"2001:db8::{host + 1}")
        assert guard.list_banned_ips() == []
    finally:
        guard.close()


def test_a_peer_that_is_no_address_counts_as_given(store_factory: object) -> None:
    """A server on a Unix socket may name its peer ``unix:/...``: with IPv6 aggregation on, that
    name must not be read as an IPv6 address (an exception, a 500 for every such request)."""
    guard, _ = guard_with(store_factory)
    try:
        peer = "unix:/run/app.sock"
        assert guard.bans.refusal(peer, "/") is None
        for _ in range(5):
            probe(guard, peer)
        assert guard.bans.refusal(peer, "/") is not None
        assert [b.ip for b in guard.list_banned_ips()] == [peer]
    finally:
        guard.close()


def test_the_allow_list_always_wins(store_factory: object) -> None:
    guard, _ = guard_with(store_factory, allow=NetworkSet.from_strings(["10.0.0.0/8", "127.0.0.1"]))
    try:
        for _ in range(10):
            assert probe(guard, "10.1.2.3") is None
        guard.block_ip_address("10.1.2.3")
        assert guard.bans.refusal("10.1.2.3", "/") is None
        assert str(guard.ip_address_status("10.1.2.3")).startswith("blocked")
    finally:
        guard.close()


def test_ignored_routes_are_never_inspected(store_factory: object) -> None:
    guard, _ = guard_with(
        store_factory, ignore_paths=("/webhooks/stripe",), ignore_patterns=(re.compile(r"^/healthz?$"),)
    )
    try:
        assert guard.bans.inspect("192.0.2.1", RequestFacts(path="/webhooks/stripe/.env")) is None
        assert guard.bans.inspect("192.0.2.1", RequestFacts(path="/health", query="id=1 or 1=1")) is None
        assert guard.bans.inspect("192.0.2.1", RequestFacts(path="/webhooks/stripey/.env")) == "env_file"
    finally:
        guard.close()


def test_dry_run_bans_nothing_and_reports(store_factory: object) -> None:
    recorder = Recorder()
    guard, _ = guard_with(store_factory, recorder, dry_run=True)
    try:
        for _ in range(7):
            probe(guard, "192.0.2.9")
        assert guard.bans.refusal("192.0.2.9", "/") is None
        assert guard.list_banned_ips() == []
        guard.flush_events()
        blocks = [data for what, data in recorder.events if what == "ip_block"]
        assert len(blocks) == 1
        assert blocks[0]["dry_run"] is True
    finally:
        guard.close()


def test_inspect_percentage_zero_inspects_nothing(store_factory: object) -> None:
    guard, _ = guard_with(store_factory, inspect_percentage=0.0)
    try:
        assert all(guard.bans.inspect("192.0.2.3", PROBE) is None for _ in range(10))
    finally:
        guard.close()


def test_disabled_bans_nothing(store_factory: object) -> None:
    guard, _ = guard_with(store_factory, enabled=False)
    try:
        for _ in range(10):
            assert probe(guard, "192.0.2.4") is None
        guard.block_ip_address("192.0.2.4")
        assert guard.bans.refusal("192.0.2.4", "/") is None
    finally:
        guard.close()


def test_too_many_404s_count_as_a_strike(store_factory: object) -> None:
    guard, clock = guard_with(
        store_factory,
        policy=BanPolicy(threshold=2, window=600.0, block_duration=60.0),
        response_rules=(ResponseRule("not_found_flood", frozenset({404}), 3, 60.0),),
        detector=Detector(()),
    )
    try:
        ip = "192.0.2.77"
        assert [guard.bans.observe_response(ip, "/x", 404) for _ in range(3)] == [None, None, None]
        assert guard.bans.observe_response(ip, "/x", 404) == "not_found_flood"  # the 4th: more than 3
        assert guard.bans.observe_response(ip, "/x", 404) is None  # one strike per window
        assert guard.bans.observe_response(ip, "/x", 200) is None
        assert str(guard.ip_address_status(ip)) == "warning 1"
        clock.advance(61)
        for _ in range(4):
            guard.bans.observe_response(ip, "/x", 404)
        assert guard.bans.refusal(ip, "/") is not None
        assert [b.ip for b in guard.list_banned_ips()] == [ip]  # the counting records are not bans
    finally:
        guard.close()


def test_manual_bans_of_addresses_and_networks(store_factory: object) -> None:
    recorder = Recorder()
    guard, clock = guard_with(store_factory, recorder)
    try:
        banned = guard.block_ip_address("192.0.2.50", 30)
        assert (banned.ip, banned.until, banned.network) == ("192.0.2.50", T0 + 30, False)
        network = guard.block_ip_address("198.51.100.0/24")
        assert (network.ip, network.network) == ("198.51.100.0/24", True)
        forever = guard.block_ip_address("2001:db8:9::/48", math.inf)
        assert forever.until_iso is None
        assert guard.bans.refusal("198.51.100.200", "/") is not None
        assert guard.bans.refusal("2001:db8:9:1::1", "/") is not None
        assert [b.ip for b in guard.list_banned_ips()] == ["192.0.2.50", "198.51.100.0/24", "2001:db8:9::/48"]
        assert guard.unblock_ip_address("198.51.100.0/24").ip == "198.51.100.0/24"
        assert guard.bans.refusal("198.51.100.200", "/") is None
        with pytest.raises(NotBanned, match=re.escape("not_banned: '198.51.100.0/24' is not banned")):
            guard.unblock_ip_address("198.51.100.0/24")
        # A /64 given by hand is the key that requests of that prefix count against.
        assert guard.block_ip_address("2001:db8:5:5::/64").network is False
        assert guard.bans.refusal("2001:db8:5:5::77", "/") is not None
        clock.advance(31)
        assert guard.bans.refusal("192.0.2.50", "/") is None
        guard.flush_events()
        assert recorder.names("ip_block").count("ip_block") == 4
        assert recorder.names("ip_unblock") == ["ip_unblock"]
    finally:
        guard.close()


@pytest.mark.parametrize("bad", [None, "", "example.org", "300.1.1.1", "10.0.0.0/33", "1.2.3.4/x"])
def test_invalid_addresses_are_a_distinct_error(store_factory: object, bad: str | None) -> None:
    guard, _ = guard_with(store_factory)
    try:
        call = guard.block_ip_address if bad and "/" in bad else guard.ip_address_status
        with pytest.raises(InvalidIpAddress):
            call(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidIpAddress):
            guard.ip_address_status(RequestFacts(client_ip=None))
    finally:
        guard.close()


def test_status_of_a_request_and_of_mapped_addresses(store_factory: object) -> None:
    guard, _ = guard_with(store_factory)
    try:
        guard.block_ip_address("192.0.2.61")
        assert str(guard.ip_address_status(RequestFacts(client_ip="::ffff:192.0.2.61"))) == "blocked 86400"
        assert guard.bans.refusal("192.0.2.61", "/") is not None
    finally:
        guard.close()


def test_without_a_bans_section_manual_bans_still_apply(tmp_path: Path) -> None:
    guard = Guard(GuardSettings(), MemoryStore(), clock=ManualClock(T0))
    try:
        assert guard.bans.inspect("192.0.2.5", PROBE) is None
        guard.block_ip_address("192.0.2.5")
        assert guard.bans.refusal("192.0.2.5", "/") is not None
        assert Detector(BUILTIN).detect(PROBE) == "env_file"
    finally:
        guard.close()


def test_a_flood_of_distinct_clients_keeps_memory_bounded() -> None:
    store = MemoryStore(max_records=1000)
    guard = Guard(GuardSettings(bans=BanSettings(policy=POLICY)), store, clock=ManualClock(T0))
    try:
        for i in range(20_000):
            assert guard.bans.inspect(f"198.{18 + (i >> 16) % 2}.{(i >> 8) & 255}.{i & 255}", PROBE) == "env_file"
        assert len(store) <= 1000
        assert store.evicted >= 19_000
        # Still counting and banning whoever keeps probing.
        for _ in range(5):
            guard.bans.inspect("203.0.113.200", PROBE)
        assert guard.bans.refusal("203.0.113.200", "/") is not None
        assert guard.bans.refusal("203.0.113.201", "/") is None
    finally:
        guard.close()


def test_a_store_full_of_bans_is_a_store_failure_not_a_forgotten_ban(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore(max_records=3)
    guard = Guard(GuardSettings(bans=BanSettings(policy=POLICY)), store, clock=ManualClock(T0))
    try:
        for i in range(3):
            guard.block_ip_address(f"192.0.2.{i}")
        caplog.set_level(logging.ERROR, "stockade.store")
        for _ in range(4):  # probes from a new address: their strikes have no room
            assert guard.bans.inspect("203.0.113.9", PROBE) == "env_file"
        assert guard.health.errors == 4
        assert (guard.store_status().errors, guard.store_status().refused) == (4, 4)
        assert [r.getMessage().split(": ")[0] for r in caplog.records] == [
            "store memory://?max_records=3 is full",
            "store failing, requests are let through",
        ]
        assert all(guard.bans.refusal(f"192.0.2.{i}", "/") is not None for i in range(3))
        assert sorted(b.ip for b in guard.list_banned_ips()) == ["192.0.2.0", "192.0.2.1", "192.0.2.2"]
    finally:
        guard.close()
