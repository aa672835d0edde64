"""The IP table: range boundaries, IPv4-mapped addresses, merging, the cache, and a model check."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.rules.iptable import MAPPED_START, IPTable, merge_bounds, parse_address

V6_MAX = (1 << 128) - 1


def v4(text: str) -> int:
    return MAPPED_START | int(ipaddress.IPv4Address(text))


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


def table(*ranges: tuple[str, str], cache_size: int = 1 << 16) -> IPTable:
    return IPTable([(parse(s), parse(e)) for s, e in ranges], cache_size=cache_size)


def parse(text: str) -> int:
    value = parse_address(text)
    assert value is not None
    return value


def test_range_bounds_are_inclusive_and_neighbours_are_not_listed() -> None:
    t = table(("10.0.0.5", "10.0.0.9"))
    assert [t.contains(f"10.0.0.{i}") for i in range(4, 11)] == [False, True, True, True, True, True, False]


def test_a_single_address() -> None:
    t = table(("192.0.2.7", "192.0.2.7"))
    assert t.contains("192.0.2.7")
    assert not t.contains("192.0.2.6")
    assert not t.contains("192.0.2.8")


def test_ipv4_mapped_ipv6_is_the_ipv4_address_both_ways() -> None:
    t = table(("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("5.6.7.8", "5.6.7.8"))
    assert t.contains("1.2.3.4")
    assert t.contains("::ffff:1.2.3.4")
    assert t.contains("::FFFF:0506:0708")
    assert not t.contains("::1.2.3.4")  # IPv4-compatible is not mapped


def test_an_ipv6_range_over_the_mapped_block_lists_ipv4_addresses() -> None:
    t = table(("::fffe:0:0", "::1:0:0:0"))
    assert t.contains("0.0.0.0")
    assert t.contains("255.255.255.255")
    assert t.contains("::fffe:1:2")
    assert t.contains("::1:0:0:0")
    assert not t.contains("::1:0:0:1")
    assert not t.contains("::ffff")


def test_the_whole_ipv4_space_and_the_whole_ipv6_space() -> None:
    everything4 = table(("0.0.0.0", "255.255.255.255"))
    assert everything4.contains("0.0.0.0")
    assert everything4.contains("255.255.255.255")
    assert not everything4.contains("::1")
    everything = IPTable([(0, V6_MAX)])
    for address in (
        "::",
        "::1",
        "1.2.3.4",
        "255.255.255.255",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db8::1",
    ):
        assert everything.contains(address), address


def test_the_last_ipv6_address_and_a_128_bit_single() -> None:
    top = IPTable([(V6_MAX, V6_MAX)])
    assert top.contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert not top.contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")
    one = table(("2001:db8::1", "2001:db8::1"))
    assert one.contains("2001:db8::1")
    assert one.contains("2001:0DB8:0000::0001")
    assert not one.contains("2001:db8::2")
    assert not one.contains("2001:db8::")


def test_ranges_sharing_the_high_64_bits_are_told_apart_by_the_low_half() -> None:
    t = table(("2001:db8::10", "2001:db8::20"), ("2001:db8::40", "2001:db8::40"), ("2001:db8:0:1::", "2001:db8:0:1::5"))
    assert [t.contains(f"2001:db8::{i:x}") for i in (0xF, 0x10, 0x20, 0x21, 0x3F, 0x40, 0x41)] == [
        False,
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    assert t.contains("2001:db8:0:1::3")
    assert not t.contains("2001:db8:0:1::6")


def test_overlapping_nested_and_adjacent_ranges_merge() -> None:
    t = table(
        ("10.0.0.1", "10.0.0.10"),
        ("10.0.0.5", "10.0.0.20"),  # overlaps
        ("10.0.0.2", "10.0.0.3"),  # nested
        ("10.0.0.21", "10.0.0.30"),  # adjacent
        ("10.0.0.40", "10.0.0.40"),
    )
    assert t.ranges() == [(v4("10.0.0.1"), v4("10.0.0.30")), (v4("10.0.0.40"), v4("10.0.0.40"))]
    assert len(t) == 2
    assert not t.contains("10.0.0.31")


def test_merge_bounds_packs_and_empties_its_input() -> None:
    keys = [5 << 8 | 9, 1 << 8 | 2, 3 << 8 | 4, 20 << 8 | 20]
    assert merge_bounds(keys, 8) == ([1, 10, 20, 21], 2)
    assert keys == []


def test_not_addresses_are_not_listed() -> None:
    t = IPTable([(0, V6_MAX)])
    for text in (
        "",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1.2.3.4/32",
        "::g",
        "1.2.3.4\x00",
        "\udcff",
        " 1.2.3.4",
        "host",
    ):
        assert not t.contains(text), repr(text)
        assert not t.lookup(text), repr(text)


def test_a_zone_is_ignored() -> None:
    t = table(("fe80::1", "fe80::1"))
    assert t.contains("fe80::1%eth0")
    assert not t.contains("fe80::2%eth0")
    assert not t.contains("%eth0")


def test_an_empty_table_lists_nothing() -> None:
    t = IPTable()
    assert not t
    assert len(t) == 0
    assert not t.contains("1.2.3.4")
    assert not t.contains("::1")
    assert t.ranges() == []


def test_invalid_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid range"):
        IPTable([(5, 4)])
    with pytest.raises(ValueError, match="invalid range"):
        IPTable([(0, V6_MAX + 1)])
    with pytest.raises(ValueError, match="cache_size"):
        IPTable(cache_size=0)


def test_the_cache_answers_repeated_addresses_and_stays_bounded() -> None:
    t = table(("10.0.0.0", "10.0.0.255"), cache_size=8)
    answers = t.contains.__self__  # type: ignore[attr-defined]
    assert t.contains("10.0.0.1")
    assert answers == {"10.0.0.1": True}
    for i in range(100):
        assert t.contains(f"10.0.1.{i}") is False
        assert len(answers) <= 8
    # The last four addresses looked up are always answered from the cache.
    assert {f"10.0.1.{i}" for i in range(96, 100)} <= set(answers)
    assert t.contains("10.0.0.1")


def test_a_fresh_cache_and_the_uncached_lookup_agree() -> None:
    t = table(("10.0.0.0", "10.0.0.255"))
    fresh = t.cached(4)
    assert fresh("10.0.0.3")
    assert t.lookup("10.0.0.3")
    assert not fresh("10.0.1.3")
    assert not t.lookup("10.0.1.3")


def test_repr_counts_ranges_by_family() -> None:
    t = table(("10.0.0.0", "10.0.0.255"), ("2001:db8::", "2001:db8::ff"))
    assert repr(t) == "<IPTable 1 IPv4 and 1 IPv6 ranges, version ''>"


# A model: ipaddress networks in the 16-byte space, checked one by one.
def _model(ranges: list[tuple[int, int]], address: int) -> bool:
    return any(start <= address <= end for start, end in ranges)


def _text(value: int) -> str:
    if MAPPED_START <= value <= MAPPED_START | 0xFFFFFFFF:
        return str(ipaddress.IPv4Address(value - MAPPED_START))
    return str(ipaddress.IPv6Address(value))


# Addresses near interesting places: the IPv4 block, the ends of the space, a few clusters.
_ANCHORS = [0, MAPPED_START - 3, MAPPED_START, MAPPED_START | 0xFFFFFFFF, v6("2001:db8::"), v6("fe80::"), V6_MAX - 5]
_address = st.one_of(
    st.integers(0, V6_MAX),
    st.builds(lambda anchor, delta: min(V6_MAX, anchor + delta), st.sampled_from(_ANCHORS), st.integers(0, 1 << 40)),
    st.builds(lambda anchor, delta: min(V6_MAX, anchor + delta), st.sampled_from(_ANCHORS), st.integers(0, 64)),
)
_range = st.builds(
    lambda a, size: (a, min(V6_MAX, a + size)), _address, st.one_of(st.integers(0, 16), st.integers(0, 1 << 70))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_range, max_size=40), st.lists(_address, min_size=1, max_size=40))
def test_the_table_agrees_with_a_naive_model(ranges: list[tuple[int, int]], probes: list[int]) -> None:
    t = IPTable(ranges)
    edges = [edge for start, end in ranges for edge in (start - 1, start, end, end + 1) if 0 <= edge <= V6_MAX]
    for address in probes + edges:
        expected = _model(ranges, address)
        # An IPv4 address is also its mapped IPv6 form.
        assert t.lookup(_text(address)) == expected, (_text(address), ranges)
        assert t.contains(_text(address)) == expected
        if MAPPED_START <= address <= MAPPED_START | 0xFFFFFFFF:
            assert t.lookup(f"::ffff:{_text(address)}") == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFFFFFF), st.integers(0, 4096)), max_size=200), st.data())
def test_many_ipv4_ranges_agree_with_ipaddress(pairs: list[tuple[int, int]], data: st.DataObject) -> None:
    ranges = [(MAPPED_START | s, MAPPED_START | min(0xFFFFFFFF, s + n)) for s, n in pairs]
    t = IPTable(ranges)
    networks = [
        network
        for start, end in ranges
        for network in ipaddress.summarize_address_range(
            ipaddress.IPv4Address(start - MAPPED_START), ipaddress.IPv4Address(end - MAPPED_START)
        )
    ]
    probes = data.draw(st.lists(st.integers(0, 0xFFFFFFFF), max_size=50))
    for value in probes + [s - MAPPED_START for s, _ in ranges] + [e - MAPPED_START + 1 for _, e in ranges]:
        if value > 0xFFFFFFFF:
            continue
        address = ipaddress.IPv4Address(value)
        assert t.contains(str(address)) == any(address in network for network in networks)
