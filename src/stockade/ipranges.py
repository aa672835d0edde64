"""Sets of IP ranges: merged ranges as sorted bounds, a bucket index, a small cache.

One implementation serves every "is this address in the set" question of the project: the
IP blocklist of mod_block (:class:`stockade.rules.iptable.IPTable`, a million entries) and
the network sets of the configuration (:class:`stockade.netaddr.NetworkSet`: trusted
proxies, the bans' allow list). Addresses live in the 16-byte space as BFE compares them,
so ``1.2.3.4`` and ``::ffff:1.2.3.4`` are one address. Single addresses and ranges become
inclusive integer ranges (an address is a range of one), merged when they overlap or touch:

- The merged ranges are kept as their bounds ``[s0, e0 + 1, s1, e1 + 1, ...]``. Ranges that
  neither overlap nor touch make the bounds strictly increasing, so an address is listed
  exactly when an odd number of bounds are at or below it: one :func:`bisect_right` and a
  parity test, no second array to read.
- IPv4 bounds (with the part of any IPv6 range over ``::ffff:0:0/96``, where the 16-byte
  form puts IPv4) are an ``array('I')``, 4 bytes a bound; IPv6 bounds two ``array('Q')``
  columns, the high and the low 64 bits, searched by the high half and, only when the
  address shares it with a bound, by the low half among those.
- A bucket index, one to two buckets a bound (a bucket is an address's top bits): a byte
  of state per bucket (2 MiB at most, so it stays in the CPU's cache) answers for a bucket
  that holds no bound, which is most of them (1 when an odd number of bounds lie below it);
  for the others, ``offsets[b]`` is the number of bounds below bucket ``b`` and the bisect
  runs between ``offsets[b]`` and ``offsets[b + 1]``, which counts as over the whole array.
  IPv4 buckets split the 32-bit space evenly (no range checks at lookup); IPv6 buckets the
  span of its bounds, since IPv6 addresses crowd into a few prefixes. Reads of large
  arrays dominate a lookup here: one outside the cache costs about 100 ns.
- Addresses are parsed with :func:`socket.inet_pton` and :meth:`int.from_bytes` or a
  :class:`struct.Struct` (0.1-0.2 µs here), never :mod:`ipaddress` (2-7 µs).
- :meth:`IPRanges.cached` gives the ``__getitem__`` of a dict of recent answers: an address
  among the last ``cache_size // 2`` distinct ones looked up costs one dict lookup; a miss
  searches from the dict's ``__missing__``. A full dict drops its older half (in insertion
  order), so memory stays bounded without per-entry bookkeeping. :attr:`IPRanges.lookup`
  is the same search without a cache.

A set is immutable: a reload builds a new one (with an empty cache) and swaps it in.
Nothing here does I/O.
"""

from __future__ import annotations

import socket
import struct
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import accumulate, islice, repeat
from operator import and_, rshift
from typing import Self, cast

__all__ = ["DEFAULT_CACHE_SIZE", "MAPPED_END", "MAPPED_START", "IPRanges", "add_range", "merge_bounds", "parse_address"]

MAPPED_START = 0xFFFF << 32  # ::ffff:0.0.0.0, where the 16-byte form puts IPv4
MAPPED_END = MAPPED_START | 0xFFFF_FFFF
_V4_MAX = 0xFFFF_FFFF
_V6_MAX = (1 << 128) - 1
_LOW64 = (1 << 64) - 1
# A bucket index has 1 to 2 buckets a bound, at most 2**_MAX_BUCKET_BITS: its byte of state per
# bucket (2 MiB) stays in the CPU's cache, and its offsets (8 MiB) are read only for a bucket with bounds.
_MAX_BUCKET_BITS = 21
DEFAULT_CACHE_SIZE = 1 << 16

_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_from_bytes = int.from_bytes
_halves = struct.Struct(">QQ").unpack


def parse_address(text: str) -> int | None:
    """An address in the 16-byte space as an int (IPv4 as ``::ffff:a.b.c.d``), or None.

    Dotted quads without leading zeros and IPv6 without a zone, as Go's ``net.ParseIP``.
    """
    try:
        if ":" in text:
            return _from_bytes(_pton(_AF_INET6, text))
        return MAPPED_START | _from_bytes(_pton(_AF_INET, text))
    except (OSError, ValueError, TypeError):
        return None


def merge_bounds(keys: list[int], bits: int) -> tuple[list[int], int]:
    """The bounds of the merged ranges of packed keys ``start << bits | end``, and how many; empties ``keys``.

    Ranges that overlap or touch merge. A packed int per range sorts about twice as fast
    as tuples and takes half the memory.
    """
    keys.sort()
    mask = (1 << bits) - 1
    bounds: list[int] = []
    if not keys:
        return bounds, 0
    first = keys[0]
    start, end = first >> bits, first & mask
    append = bounds.append
    for key in keys:
        s = key >> bits
        if s <= end + 1:
            e = key & mask
            if e > end:  # noqa: PLR1730 - max() is a call, the costliest step of this loop over a million keys
                end = e
            continue
        append(start)
        append(end + 1)
        start, end = s, key & mask
    append(start)
    append(end + 1)
    keys.clear()  # the caller's list: its ints are no longer needed, and a million of them weigh 40 MB
    return bounds, len(bounds) // 2


def _index(keys: Iterable[int], shift: int, base: int, nbuckets: int) -> tuple[array[int], bytearray]:
    """The bucket index of sorted bounds: ``offsets`` and ``states``, ``nbuckets + 1`` entries each.

    ``offsets[b]`` is how many bounds fall in buckets before ``b``. ``states[b]`` is 2 if
    bucket ``b`` holds bounds (search it), else the answer for its every address: 1 when an
    odd number of bounds lie below it, 0 otherwise.
    """
    counts = [0] * (nbuckets + 1)
    occupied = Counter(map(rshift, keys, repeat(shift)))  # counted in C
    for bucket, count in occupied.items():
        counts[bucket - base + 1] = count
    offsets = array("I", accumulate(counts))
    states = bytearray(map(and_, offsets, repeat(1)))
    for bucket in occupied:
        states[bucket - base] = 2
    return offsets, states


def _bucket_bits(count: int) -> int:
    return min(_MAX_BUCKET_BITS, max(4, count.bit_length() + 1))


class _Bounds4:
    """IPv4 bounds in an ``array('I')``; buckets are the top bits of the 32-bit space."""

    __slots__ = ("bounds", "count", "offsets", "shift", "states")

    def __init__(self, bounds: list[int], count: int) -> None:
        if bounds and bounds[-1] == _V4_MAX + 1:
            bounds.pop()  # a range up to 255.255.255.255: past every bound, an odd count means inside
        self.count = count
        self.shift = 32 - _bucket_bits(len(bounds))
        self.bounds = array("I", bounds)
        self.offsets, self.states = _index(bounds, self.shift, 0, 1 << (32 - self.shift))

    def ranges(self) -> list[tuple[int, int]]:
        values = [*self.bounds, _V4_MAX + 1]
        return [(values[i], values[i + 1] - 1) for i in range(0, len(self.bounds), 2)]


class _Bounds6:
    """IPv6 bounds as high and low 64-bit halves; buckets over the span of the high halves."""

    __slots__ = ("base", "count", "highs", "lows", "nbuckets", "offsets", "shift", "states", "tail")

    def __init__(self, bounds: list[int], count: int) -> None:
        if bounds and bounds[-1] == _V6_MAX + 1:
            bounds.pop()
        self.count = count
        self.tail = len(bounds) % 2 == 1  # listed past the last bound
        self.highs = array("Q", map(rshift, bounds, repeat(64)))
        self.lows = array("Q", map(and_, bounds, repeat(_LOW64)))
        bucket_bits = _bucket_bits(len(bounds))
        if bounds:
            self.shift = max(0, (self.highs[-1] - self.highs[0]).bit_length() - bucket_bits)
            self.base = self.highs[0] >> self.shift
            self.nbuckets = (self.highs[-1] >> self.shift) - self.base + 1
        else:
            self.shift = self.base = self.nbuckets = 0
        self.offsets, self.states = _index(self.highs, self.shift, self.base, self.nbuckets)

    def ranges(self) -> list[tuple[int, int]]:
        values = [high << 64 | low for high, low in zip(self.highs, self.lows, strict=True)] + [_V6_MAX + 1]
        return [(values[i], values[i + 1] - 1) for i in range(0, len(self.highs), 2)]


def _answers(v4: _Bounds4, v6: _Bounds6, capacity: int) -> dict[str, bool]:
    """A dict of answers by address text whose ``__missing__`` parses, searches and, if ``capacity``, remembers.

    The search sits in ``__missing__`` itself, with the table's arrays bound as closure
    variables, so that a miss of an IPv4 address costs one Python frame (IPv6 two). When full, the dict drops its older
    half (in insertion order): each of the last ``capacity // 2`` distinct addresses always
    answers from it. With ``capacity == 0`` nothing is kept (the uncached ``lookup``).
    """
    bounds4, offsets4, states4, shift4 = v4.bounds, v4.offsets, v4.states, v4.shift
    highs, lows, offsets6, states6, shift6, base6, nbuckets6, tail6 = (
        v6.highs,
        v6.lows,
        v6.offsets,
        v6.states,
        v6.shift,
        v6.base,
        v6.nbuckets,
        v6.tail,
    )
    pton, from_bytes, halves, af4, af6, right, left = (
        _pton,
        _from_bytes,
        _halves,
        _AF_INET,
        _AF_INET6,
        bisect_right,
        bisect_left,
    )
    half, room = max(1, capacity // 2), capacity

    def search6(address: str) -> int:
        """An IPv6 address: its IPv4 address if it is IPv4-mapped, else -2 if listed, -1 if not."""
        high: int
        low: int
        try:
            high, low = halves(pton(af6, address))
        except OSError:
            # A zone (fe80::1%eth0) names an interface of this host, not part of the address.
            if "%" not in address:
                return -1
            try:
                high, low = halves(pton(af6, address.partition("%")[0]))
            except OSError:
                return -1
        if high == 0 and low >> 32 == 0xFFFF:  # ::ffff:a.b.c.d is the IPv4 address
            return low & _V4_MAX
        b = (high >> shift6) - base6
        if b >= nbuckets6:
            return -2 if tail6 else -1
        if b < 0:
            return -1
        state = states6[b]
        if state == 2:
            i, stop = offsets6[b], offsets6[b + 1]
            i = left(highs, high, i, stop)
            if i < stop and highs[i] == high:  # bounds in the same /64: count those at or below the low half
                i = right(lows, low, i, right(highs, high, i, stop))
            state = i & 1
        return -2 if state == 1 else -1

    def missing(cache: dict[str, bool], address: str) -> bool:
        nonlocal room
        try:
            x = from_bytes(pton(af4, address)) if ":" not in address else search6(address)
        except (OSError, ValueError, TypeError):  # not an address; NUL or surrogates; not a string
            x = -1
        if x >= 0:  # an IPv4 address
            b = x >> shift4
            state = states4[b]
            hit = state == 1 if state != 2 else right(bounds4, x, offsets4[b], offsets4[b + 1]) & 1 == 1
        else:
            hit = x == -2
        if capacity:
            if room <= 0:
                room = _purge(cache, half)
            cache[address] = hit
            room -= 1
        return hit

    return cast("type[dict[str, bool]]", type("_Answers", (dict,), {"__slots__": (), "__missing__": missing}))()


def _purge(cache: dict[str, bool], count: int) -> int:
    """Drop the ``count`` oldest answers; return ``count``, the room made."""
    for old in list(islice(cache, count)):
        cache.pop(old, None)
    return count


class IPRanges:
    """An immutable set of IPv4 and IPv6 ranges; ``lookup(address_text)`` says whether an address is in it.

    Build it from inclusive ranges of ints in the 16-byte space (IPv4 as ``::ffff:a.b.c.d``,
    see :func:`parse_address`), or with :meth:`from_packed` from packed keys. ``lookup``
    and the functions :meth:`cached` returns take the text of an address (``"10.1.2.3"``,
    ``"2001:db8::1"``, ``"::ffff:10.1.2.3"``; a zone such as ``%eth0`` is ignored);
    anything else is not in the set.
    """

    __slots__ = ("_v4", "_v6", "lookup")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        v4: list[int] = []
        v6: list[int] = []
        for start, end in ranges:
            add_range(v4, v6, start, end)
        self._build(v4, v6)

    @classmethod
    def from_packed(cls, v4: list[int], v6: list[int]) -> Self:
        """A set from packed keys: IPv4 ``start << 32 | end``, IPv6 ``start << 128 | end`` (the lists are emptied).

        Subclasses set their own attributes after this.
        """
        found = cls.__new__(cls)
        found._build(v4, v6)
        return found

    def _build(self, v4: list[int], v6: list[int]) -> None:
        self._v4 = _Bounds4(*merge_bounds(v4, 32))
        self._v6 = _Bounds6(*merge_bounds(v6, 128))
        self.lookup: Callable[[str], bool] = _answers(self._v4, self._v6, 0).__getitem__

    def cached(self, cache_size: int = DEFAULT_CACHE_SIZE) -> Callable[[str], bool]:
        """A new lookup with its own empty cache of at most ``cache_size`` answers."""
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        return _answers(self._v4, self._v6, cache_size).__getitem__

    @property
    def ipv4_ranges(self) -> int:
        return self._v4.count

    @property
    def ipv6_ranges(self) -> int:
        return self._v6.count

    def __len__(self) -> int:
        """The number of disjoint ranges after merging (IPv4 and IPv6)."""
        return self._v4.count + self._v6.count

    def __bool__(self) -> bool:
        return len(self) > 0

    def ranges(self) -> list[tuple[int, int]]:
        """Every merged range in the 16-byte space, IPv4 first (for tests and debugging)."""
        return [(MAPPED_START | s, MAPPED_START | e) for s, e in self._v4.ranges()] + self._v6.ranges()


def add_range(v4: list[int], v6: list[int], start: int, end: int) -> None:
    """File one range of the 16-byte space under its family; IPv6 ranges over the IPv4 block count for IPv4 too."""
    if not 0 <= start <= end <= _V6_MAX:
        raise ValueError(f"invalid range {start:#x}-{end:#x}")
    if start >= MAPPED_START and end <= MAPPED_END:
        v4.append((start - MAPPED_START) << 32 | (end - MAPPED_START))
        return
    v6.append(start << 128 | end)
    if start <= MAPPED_END and end >= MAPPED_START:
        low, high = max(start, MAPPED_START) - MAPPED_START, min(end, MAPPED_END) - MAPPED_START
        v4.append(low << 32 | high)
