"""The IP blocklist as a lookup structure: BFE's ``ip_blocklist.data`` once loaded.

:class:`IPTable` is a :class:`~stockade.ipranges.IPRanges` (the merged ranges, the bucket
index and the cache shared with the configuration's network sets; see that module) that
also says which file it came from: the meta header's version and how many single
addresses and pairs the loader read. ``contains`` is its cached lookup.
:mod:`stockade.rules.ip_blocklist` reads BFE's file format. The blocklist in force is the
native set (:func:`stockade.ipsets.load_blocklist`); this table and its loader are the
oracle its differential tests compare it with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Self

from stockade.ipranges import DEFAULT_CACHE_SIZE, MAPPED_END, MAPPED_START, IPRanges, merge_bounds, parse_address

__all__ = ["DEFAULT_CACHE_SIZE", "MAPPED_END", "MAPPED_START", "IPTable", "merge_bounds", "parse_address"]


class IPTable(IPRanges):
    """An immutable set of IPv4 and IPv6 ranges; ``table.contains(address_text)`` says whether it is listed.

    Build it from inclusive ranges of ints in the 16-byte space (IPv4 as ``::ffff:a.b.c.d``,
    see :func:`parse_address`), or with :meth:`from_packed` from what the blocklist loader
    collects. ``contains`` takes the text of an address (``"10.1.2.3"``, ``"2001:db8::1"``,
    ``"::ffff:10.1.2.3"``; a zone such as ``%eth0`` is ignored); anything else is not
    listed. ``lookup`` is the same without the cache. ``version``, ``singles`` and
    ``pairs`` describe the file it came from.
    """

    __slots__ = ("contains", "pairs", "singles", "version")

    def __init__(
        self, ranges: Iterable[tuple[int, int]] = (), *, version: str = "", cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        super().__init__(ranges)
        self._describe(version, 0, 0, cache_size)

    @classmethod
    def from_packed(
        cls,
        v4: list[int],
        v6: list[int],
        *,
        version: str = "",
        singles: int = 0,
        pairs: int = 0,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> Self:
        """A table from packed keys: IPv4 ``start << 32 | end``, IPv6 ``start << 128 | end`` (the lists are emptied)."""
        table = super().from_packed(v4, v6)
        table._describe(version, singles, pairs, cache_size)
        return table

    def _describe(self, version: str, singles: int, pairs: int, cache_size: int) -> None:
        self.version = version
        self.singles = singles
        self.pairs = pairs
        self.contains: Callable[[str], bool] = self.cached(cache_size)

    def __repr__(self) -> str:
        return f"<IPTable {self.ipv4_ranges} IPv4 and {self.ipv6_ranges} IPv6 ranges, version {self.version!r}>"
