"""The pure ban transitions: strikes, the threshold, escalation, status, keys and networks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.core import bans
from stockade.core.bans import EMPTY, BanPolicy, BanState, NetworkBans, ban_key, parse_network

T0 = 1_800_000_000.0
POLICY = BanPolicy(threshold=3, window=60.0, block_duration=100.0)


def test_strikes_then_a_ban() -> None:
    state = EMPTY
    for i, expected in enumerate([(1, False), (2, False), (3, True)]):
        state, outcome = bans.strike(state, T0 + i, POLICY)
        assert (outcome.count, outcome.banned) == expected
    assert state == BanState(banned_until=T0 + 102, offences=1, remember_until=T0 + 102 + POLICY.remember)
    assert str(bans.status(state, T0 + 2, POLICY)) == "blocked 100"
    assert str(bans.status(state, T0 + 101.5, POLICY)) == "blocked 1"
    assert str(bans.status(state, T0 + 102, POLICY)) == "safe"


@pytest.mark.parametrize(
    ("factor", "cap", "earlier", "expected"),
    [
        (1.0, 1000.0, 5, 100.0),
        (2.0, 1000.0, 0, 100.0),
        (2.0, 1000.0, 1, 200.0),
        (2.0, 1000.0, 3, 800.0),
        (2.0, 1000.0, 4, 1000.0),
        (2.0, 1000.0, 10_000, 1000.0),
        (3.0, 50.0, 1, 100.0),  # a cap below the base duration never shortens a ban
        (2.0, math.inf, 2, 400.0),
    ],
)
def test_escalation(factor: float, cap: float, earlier: int, expected: float) -> None:
    policy = BanPolicy(block_duration=100.0, escalation_factor=factor, escalation_max=cap)
    assert policy.duration(earlier) == expected


def test_offences_are_forgotten_after_remember() -> None:
    policy = BanPolicy(threshold=1, window=60.0, block_duration=10.0, escalation_factor=2.0, remember=1000.0)
    state, first = bans.strike(EMPTY, T0, policy)
    assert first.until == T0 + 10
    state, second = bans.strike(state, T0 + 20, policy)
    assert second.until == T0 + 20 + 20
    state, third = bans.strike(state, T0 + 40 + 1001, policy)
    assert third.until == T0 + 1041 + 10


def test_status_and_expiry() -> None:
    assert str(bans.status(EMPTY, T0, POLICY)) == "safe"
    state, _ = bans.strike(EMPTY, T0, POLICY)
    assert str(bans.status(state, T0 + 60, POLICY)) == "warning 1"
    assert str(bans.status(state, T0 + 60.01, POLICY)) == "safe"
    assert state.expires_at(POLICY) == T0 + 60
    forever = bans.ban(EMPTY, math.inf)
    assert str(bans.status(forever, T0, POLICY)) == "blocked infinity"
    assert bans.status(forever, T0, POLICY).seconds_left is None


def test_lift() -> None:
    state, _ = bans.strike(bans.strike(bans.strike(EMPTY, T0, POLICY)[0], T0, POLICY)[0], T0, POLICY)
    assert bans.lift(state, T0 + 50) == (state, False)
    lifted, ended = bans.lift(state, T0 + 100)
    assert ended
    assert lifted.banned_until is None
    assert lifted.offences == 1


@pytest.mark.parametrize(
    ("ip", "prefix", "key"),
    [
        ("192.0.2.1", 64, "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6"),
        ("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"),
        ("::1", 64, "::/64"),
    ],
)
def test_ban_keys(ip: str, prefix: int, key: str) -> None:
    assert ban_key(ip, prefix) == key


def test_network_bans() -> None:
    networks = NetworkBans()
    assert not networks
    networks.set("10.0.0.0/8", T0 + 10)
    networks.set("10.1.0.0/16", T0 + 50)
    networks.set("2001:db8::/32", math.inf)
    networks.set("not a network", T0)
    assert networks.lookup("10.1.2.3", T0) == T0 + 50
    assert networks.lookup("10.2.2.3", T0) == T0 + 10
    assert networks.lookup("10.2.2.3", T0 + 10) is None
    assert networks.lookup("2001:db8:ffff::1", T0) == math.inf
    assert networks.lookup("11.0.0.1", T0) is None
    assert networks.lookup("garbage", T0) is None
    networks.set("10.1.0.0/16", None)
    assert networks.lookup("10.1.2.3", T0) == T0 + 10
    assert parse_network("192.168.1.250/20") == (int.from_bytes(bytes([192, 168, 0, 0]), "big"), 20, 32)
    assert parse_network("10.0.0.0/33") is None
    assert parse_network("10.0.0.0") is None


@given(st.integers(0, 2**32 - 1), st.integers(0, 32), st.integers(0, 2**32 - 1))
def test_network_bans_agree_with_ipaddress(network: int, prefix: int, address: int) -> None:
    import ipaddress  # noqa: PLC0415

    net = ipaddress.ip_network((network, prefix), strict=False)
    networks = NetworkBans()
    networks.set(str(net), T0 + 1)
    ip = str(ipaddress.ip_address(address))
    assert (networks.lookup(ip, T0) is not None) == (ipaddress.ip_address(address) in net)
