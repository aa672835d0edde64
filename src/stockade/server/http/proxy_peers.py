"""Who may send a PROXY header: the peers a listener trusts, and a bounded record of the others.

A PROXY header names the client, so believing it from anyone would let any client choose
its address (and step around a ban or the blocklist). A PROXY-protocol listener therefore
believes the header only from the networks of its ``proxy_protocol_from`` (by default the
configuration's ``[proxy] trusted``); a connection from any other peer is closed before a
byte of it is read. Each refusal is counted; it is logged at most once per peer per
interval, and for at most ``max_peers`` distinct peers per interval, so a flood of
connections can neither fill the logs nor the memory that remembers what was logged.
"""

from __future__ import annotations

from stockade.errors import ConfigError, ConfigIssue
from stockade.netaddr import NetworkSet
from stockade.server.settings import ListenerSpec

LOG_INTERVAL = 60.0
LOG_PEERS = 1024


def check_proxy_listener(spec: ListenerSpec) -> None:
    """Raise :class:`ConfigError` for a PROXY-protocol listener that trusts no peer."""
    if spec.proxy_protocol == "off" or spec.proxy_protocol_from:
        return
    raise ConfigError(
        None,
        [
            ConfigIssue(
                f"listener {spec.address}: proxy_protocol_from",
                "a PROXY header is believed only from the proxies in front: name them"
                ' (proxy_protocol_from = ["10.0.0.5"]) or list them in [proxy] trusted',
            )
        ],
    )


class ProxyPeers:
    """The peers one listener believes PROXY headers from, and the count of those it refused."""

    def __init__(self, spec: ListenerSpec, *, interval: float = LOG_INTERVAL, max_peers: int = LOG_PEERS) -> None:
        check_proxy_listener(spec)
        self.networks = NetworkSet.from_strings(spec.proxy_protocol_from)
        self.interval = interval
        self.max_peers = max_peers
        self.refused = 0
        self._logged: set[str] = set()
        self._window_start = float("-inf")
        self.unlogged = 0  # refusals of this interval not logged (the peer was logged already, or too many peers)

    def allows(self, peer: str) -> bool:
        return peer in self.networks

    def refuse(self, peer: str, now: float) -> bool:
        """Count one refused connection; True when it should be logged."""
        self.refused += 1
        if now - self._window_start >= self.interval:
            self._logged.clear()
            self._window_start = now
            self.unlogged = 0
        if peer in self._logged or len(self._logged) >= self.max_peers:
            self.unlogged += 1
            return False
        self._logged.add(peer)
        return True
