"""The native IP set against the Python tables it can replace: NetworkSet and IPTable.

Differential tests (hypothesis): the same ranges built both ways must hold the same
addresses, spelled every way a client address reaches us (v4, v6 in its spellings,
IPv4-mapped, zones, spaces, garbage), and merge into the same ranges.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stockade import _native, ipsets
from stockade.errors import InvalidArgument, NativeError, StockadeError
from stockade.netaddr import NetworkSet
from stockade.rules.iptable import IPTable

MAPPED_START = 0xFFFF << 32
MAPPED_END = MAPPED_START | 0xFFFF_FFFF
V6_MAX = (1 << 128) - 1

# Values where sets cluster, so that generated ranges overlap, touch and nest.
v4_value = st.one_of(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**12).map(lambda x: 0x0A00_0000 | x),
    st.sampled_from([0, 1, 2**32 - 2, 2**32 - 1]),
)
v6_value = st.one_of(
    st.integers(0, V6_MAX),
    st.integers(0, 2**16).map(lambda x: 0x2001_0DB8 << 96 | x),
    st.integers(0, 2**16).map(lambda x: MAPPED_START - 2**15 + x),  # around ::ffff:0:0/96
    st.integers(0, 2**16).map(lambda x: MAPPED_END - 2**15 + x),
    st.sampled_from([0, 1, V6_MAX - 1, V6_MAX]),
)
value = st.one_of(v4_value.map(lambda x: MAPPED_START | x), v6_value)


@st.composite
def a_range(draw: st.DrawFn) -> tuple[int, int]:
    """An inclusive range of the 16-byte space: a single, a CIDR or any pair."""
    kind = draw(st.sampled_from(["single", "v4 cidr", "v6 cidr", "pair"]))
    if kind == "single":
        x = draw(value)
        return x, x
    if kind == "v4 cidr":
        bits = draw(st.integers(0, 32))
        host = (1 << (32 - bits)) - 1
        start = draw(v4_value) & ~host
        return MAPPED_START | start, MAPPED_START | start | host
    if kind == "v6 cidr":
        bits = draw(st.integers(0, 128))
        host = (1 << (128 - bits)) - 1
        start = draw(v6_value) & ~host
        return start, start | host
    a, b = draw(value), draw(value)
    return min(a, b), max(a, b)


def network_of(start: int, end: int) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The range as networks, as NetworkSet is built (IPv4 inside the mapped block)."""
    if start >= MAPPED_START and end <= MAPPED_END:
        first, last = ipaddress.IPv4Address(start - MAPPED_START), ipaddress.IPv4Address(end - MAPPED_START)
        return list(ipaddress.summarize_address_range(first, last))
    return list(ipaddress.summarize_address_range(ipaddress.IPv6Address(start), ipaddress.IPv6Address(end)))


def spellings(x: int) -> list[str]:
    """Ways a client address may be written for the value ``x`` of the 16-byte space."""
    v6 = ipaddress.IPv6Address(x)
    out = [v6.compressed, v6.exploded, v6.exploded.upper(), v6.compressed.upper()]
    head = v6.exploded.rsplit(":", 2)[0]
    out.append(f"{head}:{ipaddress.IPv4Address(x & 0xFFFF_FFFF)}")  # dotted tail
    if MAPPED_START <= x <= MAPPED_END:
        v4 = str(ipaddress.IPv4Address(x - MAPPED_START))
        out += [v4, f"::ffff:{v4}", f"::FFFF:{v4}"]
    return out


zone = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=6)
blank = st.sampled_from(["", " ", "\t", " \t ", "\n", "\x0b"])


@st.composite
def address_text(draw: st.DrawFn, near: list[int]) -> str:
    """An address as text: near the given values or anywhere, in any spelling, perhaps damaged."""
    pool = [y for x in near for y in (x - 1, x, x + 1) if 0 <= y <= V6_MAX]
    x = draw(st.sampled_from(pool)) if pool and draw(st.booleans()) else draw(value)
    text = draw(st.sampled_from(spellings(x)))
    damage = draw(st.sampled_from(["none", "none", "zone", "blanks", "cut", "insert", "junk"]))
    if damage == "zone":
        text = f"{text}%{draw(zone)}"
    elif damage == "blanks":
        text = f"{draw(blank)}{text}{draw(blank)}"
    elif damage == "cut" and text:
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + text[at + 1 :]
    elif damage == "insert":
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at] + draw(st.sampled_from([":", ".", "0", "a", "::", " ", "g", "\x00", "é", "\udcff"])) + text[at:]
        )
    elif damage == "junk":
        text = draw(st.text(max_size=12))
    return text


def python_tables(ranges: list[tuple[int, int]]) -> tuple[NetworkSet, IPTable]:
    networks = [network for start, end in ranges for network in network_of(start, end)]
    return NetworkSet.from_networks(networks), IPTable(ranges, cache_size=1)


@given(st.lists(a_range(), max_size=12), st.data())
@example([(0, V6_MAX)], None)
@example([(MAPPED_START - 1, MAPPED_START + 1)], None)
def test_lookups_agree_with_networkset_and_iptable(ranges: list[tuple[int, int]], data: st.DataObject | None) -> None:
    native = ipsets.ip_set(ranges)
    networks, table = python_tables(ranges)
    assert native.ranges() == table.ranges()
    assert len(native) == len(table)
    near = [bound for start, end in ranges for bound in (start, end)]
    probes = [data.draw(address_text(near)) for _ in range(40)] if data is not None else spellings(MAPPED_START)
    for text in probes:
        expected = text in networks
        assert native.contains(text) == expected, text
        assert (text in native) == expected, text
        if "%" not in text and text.strip(" \t") == text:
            # IPTable takes any zone and no surrounding blanks; otherwise the three agree.
            assert table.lookup(text) == expected, text


@given(st.lists(a_range(), max_size=8), st.lists(value, max_size=20))
def test_packed_lookups_agree_with_text(ranges: list[tuple[int, int]], values: list[int]) -> None:
    native = ipsets.ip_set(ranges)
    networks, _ = python_tables(ranges)
    for x in values:
        expected = ipaddress.IPv6Address(x).compressed in networks
        assert native.contains(x.to_bytes(16)) == expected
        if MAPPED_START <= x <= MAPPED_END:
            assert native.contains((x - MAPPED_START).to_bytes(4)) == expected


@given(st.lists(st.sampled_from(["10.0.0.0/8", "192.168.1.1", "2001:db8::/32", "::ffff:0:0/112", "::/0", "::1"])))
def test_network_set_agrees_with_networkset_from_strings(entries: list[str]) -> None:
    native = ipsets.network_set(entries)
    python = NetworkSet.from_strings(entries)
    assert native.entries == python.entries == len(entries)
    for probe in ["10.1.2.3", "192.168.1.1", "::ffff:192.168.1.1", "2001:db8::5", "::1", "0.0.0.5", "8.8.8.8"]:
        assert native.contains(probe) == (probe in python), probe


def test_a_bad_network_is_named_as_networkset_names_it() -> None:
    with pytest.raises(InvalidArgument) as native:
        ipsets.network_set(["10.0.0.0/8", "10.0.0.1/8"])
    with pytest.raises(InvalidArgument) as python:
        NetworkSet.from_strings(["10.0.0.0/8", "10.0.0.1/8"])
    assert str(native.value) == str(python.value)


@pytest.mark.parametrize("item", [(2, 1), (-1, 5), (0, 1 << 128), (1,), [1, 2], "x", (1.0, 2.0)])
def test_from_ranges_refuses_what_is_not_a_range(item: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _native.IPSet.from_ranges([(1, 2), item])  # type: ignore[list-item]
    assert str(caught.value) == (
        f"invalid range {item!r}: expected a pair of ints (start, end) with 0 <= start <= end < 2**128"
    )


def test_what_is_not_an_address_is_not_in_any_set() -> None:
    everything = ipsets.ip_set([(0, V6_MAX)])
    for thing in ["", " ", "x", "1.2.3.4%eth0", "fe80::1%", "fe80::1%a b", "\udcff", b"", b"\x01\x02\x03", None, 42]:
        assert thing not in everything
    assert everything.contains("fe80::1%eth0")
    assert everything.contains(" 1.2.3.4\t")


def test_a_zone_must_be_printable_ascii() -> None:
    # normalize_ip also takes a printable non-ASCII zone; no socket reports one.
    everything = ipsets.ip_set([(0, V6_MAX)])
    assert everything.contains("fe80::1%eth0.5")
    assert not everything.contains("fe80::1%é")
    assert "fe80::1%é" in NetworkSet.from_strings(["::/0"])


def test_repr_and_counts() -> None:
    s = ipsets.ip_set([(MAPPED_START | 1, MAPPED_START | 9), (MAPPED_START | 10, MAPPED_START | 10), (5, 5)])
    assert (len(s), s.entries, s.version, s.singles, s.pairs) == (2, 3, "", 0, 0)
    assert repr(s) == '<IPSet of 3 entries in 2 ranges, version "">'
    assert s.heap_bytes() > 0


def test_a_panic_becomes_a_stockade_error_and_the_process_goes_on() -> None:
    with pytest.raises(NativeError) as caught:
        _native._panic("deliberate")
    assert isinstance(caught.value, StockadeError)
    assert str(caught.value) == "internal error in the native module: deliberate"
    assert ipsets.ip_set([(1, 1)]).contains(b"\x00" * 15 + b"\x01")


def test_the_stub_declares_every_public_name() -> None:
    stub = (Path(_native.__file__).parent / "_native.pyi").read_text(encoding="utf-8")
    declared = set(re.findall(r"^(?:class|def) (\w+)", stub, re.MULTILINE))
    assert declared == {name for name in dir(_native) if not name.startswith("__")}
