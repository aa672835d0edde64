"""The real client IP: forwarding headers are believed only from trusted proxies.

The peer (the socket peer, or the PROXY-protocol source) is the client unless it is a
trusted proxy. From a trusted peer, one configured forwarding header decides, as nginx's
``real_ip_header`` does (``X-Forwarded-For`` by default). Reading several headers in an
order would let a client choose its address: behind a proxy that sets only ``X-Real-IP``
and passes the client's own ``X-Forwarded-For`` through, the first header of the order
would be the client's. The header is read as follows:

- ``X-Forwarded-For``: every line, joined in order, is a list of hops. It is walked from
  the right, where the proxies closest to us appended what they saw: trusted hops are
  skipped and the first untrusted address is the client. When every hop is trusted, the
  leftmost is. An entry that is not an address stops the walk, and the last good hop (the
  peer itself when it is the rightmost entry) is the client: nothing left of a broken entry
  can be vouched for.
- ``Forwarded`` (RFC 7239): the ``for=`` node of each element, walked the same way.
  Quoted and bracketed IPv6 and ports are understood; ``unknown``, obfuscated identifiers
  (``_hidden``) and elements without ``for=`` are never taken as addresses and stop the
  walk like garbage.
- ``X-Real-IP``: one address, believed as it is (the proxy that set it already chose).

Lists are split at every comma before anything else, quotes or not. A client can write
anything left of what a trusted proxy appends, such as an unterminated quote; splitting
first keeps the proxy's own entries intact whatever comes before them, at the price of
refusing the (legal, unused) commas inside quoted ``Forwarded`` parameters.

The resolution is native (``native/core/src/client_ip.rs``), and so is the whole
canonical request the fronts build (:class:`stockade._native.Canonicalizer`, which a
resolver makes for each path policy it is asked about). :mod:`stockade.oracle.client_ip`
keeps the pure-Python version as the differential tests' oracle. The resolver is pure: the
warnings that the outcome calls for (forwarding headers from an untrusted peer) are logged
by :mod:`stockade.server.forwarding`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from stockade._native import Canonicalizer, ClientIp, IPSet
from stockade.errors import InvalidArgument
from stockade.ipsets import network_set

if TYPE_CHECKING:
    from stockade.request.paths import PathPolicy

__all__ = [
    "FORWARDED",
    "FORWARDING_HEADERS",
    "X_REAL_IP",
    "XFF",
    "ClientIp",
    "ClientIpResolver",
    "ProxyTrust",
    "TrustedProxies",
]

XFF: Final = "x-forwarded-for"
FORWARDED: Final = "forwarded"
X_REAL_IP: Final = "x-real-ip"
FORWARDING_HEADERS: Final = (XFF, FORWARDED, X_REAL_IP)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """Peers whose forwarding header is believed (``[proxy] trusted``), and which header that is."""

    networks: tuple[str, ...] = ()
    header: str = XFF


class ProxyTrust(Protocol):
    """What the resolver reads from :class:`TrustedProxies`."""

    @property
    def networks(self) -> Sequence[str]: ...

    @property
    def header(self) -> str: ...


class ClientIpResolver:
    """Decides the client address of each request from its peer and its forwarding headers.

    ``trusted`` is the set of trusted networks; ``header`` the one forwarding header believed.
    """

    __slots__ = ("_canonicalizers", "_last", "_resolve", "header", "trusted")

    def __init__(self, proxies: ProxyTrust) -> None:
        name = proxies.header
        if not isinstance(name, str) or name.lower() not in FORWARDING_HEADERS:
            raise InvalidArgument("forwarding header", name, ", ".join(FORWARDING_HEADERS))
        self.header: str = name.lower()
        self.trusted: IPSet = network_set(proxies.networks)
        base = Canonicalizer(trusted=self.trusted, header=self.header)
        self._resolve = base.resolve
        # One canonicalizer per path policy asked about (a site has one, a test a few); the
        # last one asked for is found by identity, without hashing the policy.
        self._canonicalizers: dict[tuple[bool, str], Canonicalizer] = {(True, "reject"): base}
        self._last: tuple[object, Canonicalizer] = (None, base)

    def resolve(self, peer: str, headers: Sequence[tuple[bytes, bytes]]) -> ClientIp:
        """The client of a request from ``peer`` with these (ASGI-style) header lines."""
        return self._resolve(peer, headers)

    def canonicalizer(self, policy: PathPolicy) -> Canonicalizer:
        """The native canonical request of these trusted proxies and this path policy."""
        last = self._last
        if last[0] is policy:
            return last[1]
        key = (policy.merge_slashes, policy.escaped_slashes)
        found = self._canonicalizers.get(key)
        if found is None:
            found = Canonicalizer(
                merge_slashes=policy.merge_slashes,
                escaped_slashes=policy.escaped_slashes,
                trusted=self.trusted,
                header=self.header,
            )
            self._canonicalizers = {**self._canonicalizers, key: found}
        self._last = (policy, found)
        return found
