"""IP sets from the native module: the functions the Python side calls to build them.

:class:`stockade._native.IPSet` is one type for every IP table: sorted merged ranges of
IPv4 and IPv6 (IPv4-mapped IPv6 is IPv4), built once here and then asked about addresses
as text or as packed bytes, in well under a microsecond. It stands for both Python
tables, :class:`stockade.netaddr.NetworkSet` (trusted proxies, allow lists) and
:class:`stockade.rules.iptable.IPTable` (BFE's blocklist). The blocklist in force is one
(:func:`load_blocklist`, from the configuration and every reload); the Python tables stay
as the oracle of the differential tests (``tests/unit/test_native_ipset.py``).

Reading a file stays here (I/O belongs to the shell, and an open error reads as the
Python loader words it); parsing the blocklist is native, with the GIL released.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from stockade._native import IPSet, parse_ip_blocklist
from stockade.errors import BlocklistError
from stockade.ipranges import IPRanges
from stockade.netaddr import parse_network

__all__ = ["IPSet", "MAPPED_START", "as_ip_set", "ip_set", "load_blocklist", "network_set", "parse_blocklist"]

MAPPED_START = 0xFFFF << 32  # ::ffff:0.0.0.0, where the 16-byte form puts IPv4


def ip_set(ranges: Iterable[tuple[int, int]]) -> IPSet:
    """A set of inclusive ranges of the 16-byte space (IPv4 as ``::ffff:a.b.c.d``)."""
    return IPSet.from_ranges(ranges)


def as_ip_set(table: IPSet | IPRanges) -> IPSet:
    """``table`` as a native set: itself, or a copy of a Python table's ranges (the oracle's)."""
    return table if isinstance(table, IPSet) else IPSet.from_ranges(table.ranges())


def network_set(entries: Iterable[str | ipaddress.IPv4Network | ipaddress.IPv6Network]) -> IPSet:
    """A set of ``10.0.0.0/8``, ``::1``, ``2001:db8::/32``-style entries (or parsed networks).

    Raises :class:`~stockade.errors.InvalidArgument` for the first bad entry, naming it,
    as :meth:`NetworkSet.from_strings <stockade.netaddr.NetworkSet.from_strings>` does.
    """
    return IPSet.from_ranges(_network_range(entry) for entry in entries)


def _network_range(entry: str | ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    network = entry if isinstance(entry, ipaddress.IPv4Network | ipaddress.IPv6Network) else parse_network(entry)
    start, end = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        return MAPPED_START | start, MAPPED_START | end
    return start, end


def parse_blocklist(data: bytes | str, *, file: str = "ip_blocklist.data") -> IPSet:
    """The set of a blocklist file's content; raise :class:`BlocklistError` if BFE rejects it."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    return parse_ip_blocklist(raw, file)


def load_blocklist(path: str) -> IPSet:
    """Read and parse ``path``; raise :class:`BlocklistError` (the file, the line, BFE's text)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        # Go's *PathError text, as stockade.rules.ip_blocklist words it.
        text = exc.strerror or str(exc)
        cause = f"open {path}: {text[:1].lower()}{text[1:]}"
        raise BlocklistError(path, f"loadFile(): {path} open(): {path}, {cause}", reason=cause) from None
    return parse_ip_blocklist(raw, path)
