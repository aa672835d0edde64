"""IP addresses and networks: one spelling for every address, and compact network sets.

Every module that compares client addresses goes through :func:`normalize_ip`, so that a
ban, a lockout key and a trusted-proxy check all see the same text for the same host:

- IPv4 as a dotted quad (no leading zeros, as ``inet_pton`` accepts it);
- IPv6 compressed and lower-case (RFC 5952, the spelling of :mod:`ipaddress`);
- an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``, what a dual-stack socket reports for an
  IPv4 peer) is the IPv4 address;
- a zone id (``fe80::1%eth0``) is dropped: it names an interface of this host, not the
  client, and a link-local peer must get one key whatever interface it came on;
- surrounding spaces and tabs (HTTP's optional whitespace) are ignored; anything else that
  is not an address is ``None``.

:class:`NetworkSet` answers "is this address in one of these networks" in about a
microsecond for any number of networks. It is an :class:`~stockade.ipranges.IPRanges`, the
structure of the IP blocklist too: the networks merge into sorted, disjoint integer ranges
searched with :mod:`bisect` through a bucket index. Addresses are parsed with
:func:`socket.inet_pton` (about 200 ns); :mod:`ipaddress` (2-7 µs an address) is used only
while building a set. IPv6 networks that overlap ``::ffff:0:0/96`` also hold the IPv4
addresses they map, so ``::/0`` contains every address, as in the 16-byte comparisons of
the condition primitives.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Self

from stockade.errors import InvalidArgument
from stockade.ipranges import IPRanges, add_range

__all__ = ["NetworkSet", "is_ip", "normalize_ip", "parse_network"]

_MAPPED = b"\x00" * 10 + b"\xff\xff"
_MAPPED_START = 0xFFFF << 32
_OWS = " \t"
CACHE_SIZE = 4096  # answers a NetworkSet keeps: a few hundred KB at most
_ACCEPTED = "an IP address or a network in CIDR notation without host bits set (like 10.0.0.0/8 or 2001:db8::/32)"


def _pack(text: str) -> bytes | None:
    """The 4- or 16-byte form of an address (mapped IPv6 as 4 bytes), or ``None``."""
    if not text:
        return None
    if text[0] in _OWS or text[-1] in _OWS:
        text = text.strip(_OWS)
    if "%" in text:
        if not _valid_zone(text):
            return None
        text = text.partition("%")[0]
    try:
        if ":" not in text:
            return socket.inet_pton(socket.AF_INET, text)
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):  # ValueError: NUL characters, lone surrogates
        return None
    return packed[12:] if packed[:12] == _MAPPED else packed


def normalize_ip(text: str) -> str | None:
    """The one spelling of an IP address (see the module docstring), or ``None`` if it is none."""
    packed = _pack(text)
    if packed is None:
        return None
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    spelled = socket.inet_ntop(socket.AF_INET6, packed)
    if "." in spelled:
        # The C library writes ::/96 addresses in mixed notation (``::1.2.3.4``); RFC 5952
        # keeps that for mapped addresses only, which are IPv4 here.
        return str(ipaddress.IPv6Address(packed))
    return spelled


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IP address as :func:`normalize_ip` accepts it."""
    return normalize_ip(text) is not None


def _valid_zone(text: str) -> bool:
    address, _, zone = text.partition("%")
    return ":" in address and bool(zone) and zone.isprintable() and not any(c in zone for c in " \t%/[]")


def parse_network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or CIDR network from configuration; :class:`InvalidArgument` names a bad entry."""
    if not isinstance(entry, str):
        raise InvalidArgument("network", entry, _ACCEPTED)
    if "%" in entry:
        raise InvalidArgument("network", entry, _ACCEPTED + ", without a zone id")
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise InvalidArgument("network", entry, _ACCEPTED) from None
    raise InvalidArgument("network", entry, f"a network without host bits set ({loose})")


class NetworkSet(IPRanges):
    """An immutable set of IP networks with a fast ``address in networks`` for address strings.

    Build it once with :meth:`from_strings` (or :meth:`from_networks`); membership takes an
    address as text, in any spelling :func:`normalize_ip` accepts, and is ``False`` for
    anything that is not an address. ``len()`` is the number of disjoint ranges the
    networks merged into; ``entries`` the number of networks it was built from.

    Answers are cached (the last :data:`CACHE_SIZE` // 2 distinct addresses at least): the
    peers asked about most, a few proxies, then cost one dict lookup.
    """

    __slots__ = ("_contains", "entries")

    def __init__(self, ranges: Iterable[tuple[int, int]] = (), *, entries: int = 0) -> None:
        """Inclusive ranges in the 16-byte space (IPv4 as ``::ffff:a.b.c.d``); prefer :meth:`from_strings`."""
        super().__init__(ranges)
        self.entries = entries
        self._contains = self.cached(CACHE_SIZE)

    @classmethod
    def from_strings(cls, entries: Iterable[str]) -> Self:
        """A set of ``10.0.0.0/8``, ``::1``, ``2001:db8::/32``-style entries.

        Raises :class:`InvalidArgument` for the first bad entry, naming it.
        """
        return cls.from_networks(parse_network(entry) for entry in entries)

    @classmethod
    def from_networks(cls, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Self:
        v4: list[int] = []
        v6: list[int] = []
        count = 0
        for network in networks:
            count += 1
            start, end = int(network.network_address), int(network.broadcast_address)
            if network.version == 4:
                start, end = _MAPPED_START | start, _MAPPED_START | end
            add_range(v4, v6, start, end)
        found = cls.from_packed(v4, v6)
        found.entries = count
        found._contains = found.cached(CACHE_SIZE)
        return found

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        if "%" in address:  # a zone id is dropped only when it is a valid one
            normal = normalize_ip(address)
            return normal is not None and self._contains(normal)
        if address and (address[0] in _OWS or address[-1] in _OWS):
            address = address.strip(_OWS)
        return self._contains(address)

    def __repr__(self) -> str:
        return f"<NetworkSet of {self.entries} networks in {len(self)} ranges>"
