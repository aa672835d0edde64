"""Which peers may send a PROXY header, and how refusals are counted and logged."""

from __future__ import annotations

import pytest

from stockade.errors import ConfigError
from stockade.server.http.proxy_peers import ProxyPeers, check_proxy_listener
from stockade.server.listen import ListenAddress
from stockade.server.settings import ListenerSpec

ADDRESS = ListenAddress("0.0.0.0", 8443)


def peers(*networks: str, interval: float = 60.0, max_peers: int = 1024) -> ProxyPeers:
    spec = ListenerSpec(ADDRESS, proxy_protocol="v2", proxy_protocol_from=networks)
    return ProxyPeers(spec, interval=interval, max_peers=max_peers)


def test_only_the_named_networks_may_send_a_header() -> None:
    trusted = peers("10.0.0.0/8", "2001:db8::1/128")
    assert trusted.allows("10.1.2.3")
    assert trusted.allows("2001:db8::1")
    assert not trusted.allows("11.0.0.1")
    assert not trusted.allows("2001:db8::2")
    assert not trusted.allows("not an address")


def test_a_peer_is_logged_once_per_interval() -> None:
    trusted = peers("10.0.0.1", interval=60.0)
    assert trusted.refuse("192.0.2.1", now=1000.0)
    assert not trusted.refuse("192.0.2.1", now=1001.0)
    assert trusted.refuse("192.0.2.2", now=1002.0)  # another peer
    assert not trusted.refuse("192.0.2.1", now=1059.0)
    assert trusted.refuse("192.0.2.1", now=1060.0)  # the next interval
    assert trusted.refused == 5


def test_the_log_remembers_a_bounded_number_of_peers() -> None:
    trusted = peers("10.0.0.1", max_peers=3)
    logged = [trusted.refuse(f"192.0.2.{i}", now=5.0) for i in range(10)]
    assert logged == [True] * 3 + [False] * 7
    assert (trusted.refused, trusted.unlogged) == (10, 7)


def test_a_proxy_listener_needs_trusted_peers() -> None:
    check_proxy_listener(ListenerSpec(ADDRESS))  # no PROXY protocol: nothing to trust
    with pytest.raises(ConfigError, match=r"^listener 0\.0\.0\.0:8443: proxy_protocol_from: "):
        ProxyPeers(ListenerSpec(ADDRESS, proxy_protocol="any"))
