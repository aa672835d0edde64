"""normalize_ip and NetworkSet, against the ipaddress module as the oracle."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.errors import InvalidArgument
from stockade.ipranges import MAPPED_START, IPRanges
from stockade.netaddr import NetworkSet, is_ip, normalize_ip, parse_network
from stockade.rules.ip_blocklist import parse_ip_blocklist
from stockade.rules.iptable import IPTable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        (" 1.2.3.4\t", "1.2.3.4"),
        ("::1", "::1"),
        ("::", "::"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8::1:0", "2001:db8::1:0"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:1.2.3.4", "1.2.3.4"),
        ("::ffff:102:304", "1.2.3.4"),
        ("0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"),
        ("::1.2.3.4", "::102:304"),  # IPv4-compatible (deprecated): not IPv4
        ("::2:3", "::2:3"),
        ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),  # IPv4-translated: not mapped
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%25", "fe80::1"),
    ],
)
def test_normalize_ip(text: str, expected: str) -> None:
    assert normalize_ip(text) == expected
    assert is_ip(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\t",
        "x",
        "unknown",
        "_hidden",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1.2.3.04",
        "256.1.1.1",
        "1.2.3.4/32",
        "1.2.3.4:80",
        "[::1]",
        "::1::2",
        "1.2.3.4%eth0",  # zones are for IPv6 only
        "fe80::1%",
        "fe80::1% eth0",
        "fe80::1%a%b",
        "1.2.3.4\x00",
        "\udc80",
        "\u0661.2.3.4",  # Arabic-Indic digit one
        "1.2.3.4 5",
        "\n1.2.3.4",
    ],
)
def test_normalize_ip_refuses(text: str) -> None:
    assert normalize_ip(text) is None
    assert not is_ip(text)


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_normalize_ipv6_matches_ipaddress(value: int) -> None:
    address = ipaddress.IPv6Address(value)
    expected = str(address.ipv4_mapped or address)
    assert normalize_ip(str(address)) == expected
    assert normalize_ip(address.exploded.upper()) == expected


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_normalize_ipv4_matches_ipaddress(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    assert normalize_ip(str(address)) == str(address)
    assert normalize_ip(f"::ffff:{address}") == str(address)


@given(st.text(max_size=50))
def test_normalize_never_raises(text: str) -> None:
    out = normalize_ip(text)
    assert out is None or normalize_ip(out) == out


def test_network_set_membership() -> None:
    networks = NetworkSet.from_strings(["10.0.0.0/8", "192.168.1.7", "::1", "2001:db8::/32", "fe80::/10"])
    inside = ["10.0.0.0", "10.255.255.255", "192.168.1.7", "::1", "2001:db8::", "2001:db8:ffff:ffff::1"]
    inside += ["::ffff:10.1.2.3", " 10.1.2.3 ", "fe80::1%eth0", "FE80::ABCD"]
    outside = ["9.255.255.255", "11.0.0.0", "192.168.1.6", "192.168.1.8", "::", "::2", "2001:db9::", "2001:db7::"]
    outside += ["", "banana", "10.0.0.1:80", "fe80::1%", "127.0.0.1"]
    assert all(a in networks for a in inside), [a for a in inside if a not in networks]
    assert not any(a in networks for a in outside), [a for a in outside if a in networks]
    assert 42 not in networks
    assert networks.entries == 5
    assert repr(networks) == "<NetworkSet of 5 networks in 5 ranges>"


def test_network_set_merges_overlapping_and_adjacent_ranges() -> None:
    networks = NetworkSet.from_strings(
        ["10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16", "2001:db8::/33", "2001:db8:8000::/33"]
    )
    assert len(networks) == 2
    assert "10.200.0.1" in networks
    assert "2001:db8:ffff::1" in networks


def test_ipv6_networks_over_mapped_addresses_hold_ipv4() -> None:
    mapped = NetworkSet.from_strings(["::ffff:192.168.0.0/112"])
    assert "192.168.3.4" in mapped
    assert "192.169.0.0" not in mapped
    everything = NetworkSet.from_strings(["::/0"])
    assert "1.2.3.4" in everything
    assert "2001:db8::1" in everything
    assert "1.2.3.4" in NetworkSet.from_strings(["0.0.0.0/0"])
    assert "::1" not in NetworkSet.from_strings(["0.0.0.0/0"])


def test_empty_network_set() -> None:
    empty = NetworkSet.from_strings([])
    assert not empty
    assert "1.2.3.4" not in empty
    assert "::1" not in empty


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "banana",
            "invalid network 'banana': expected an IP address or a network in CIDR notation without host bits set "
            "(like 10.0.0.0/8 or 2001:db8::/32)",
        ),
        ("10.0.0.1/8", "invalid network '10.0.0.1/8': expected a network without host bits set (10.0.0.0/8)"),
        (
            "2001:db8::1/32",
            "invalid network '2001:db8::1/32': expected a network without host bits set (2001:db8::/32)",
        ),
        (
            "fe80::1%eth0",
            "invalid network 'fe80::1%eth0': expected an IP address or a network in CIDR notation without host bits "
            "set (like 10.0.0.0/8 or 2001:db8::/32), without a zone id",
        ),
    ],
)
def test_bad_entries_are_named(entry: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        NetworkSet.from_strings(["10.0.0.0/8", entry])
    assert str(info.value) == message
    assert info.value.value == entry


def test_parse_network_refuses_non_strings() -> None:
    with pytest.raises(InvalidArgument):
        parse_network(10)  # type: ignore[arg-type]


_networks = st.one_of(
    st.builds(
        lambda value, prefix: ipaddress.ip_network((value, prefix), strict=False),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    ),
    st.builds(
        lambda value, prefix: ipaddress.ip_network((value, prefix), strict=False),
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
    ),
    st.builds(  # near the mapped range, where IPv6 networks hold IPv4 addresses
        lambda value, prefix: ipaddress.ip_network((value, prefix), strict=False),
        st.integers(0xFFFF << 32, (0xFFFF << 32) + 2**32 - 1).map(lambda v: v ^ 1),
        st.integers(80, 128),
    ),
)


def _oracle(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    forms: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv4Address):
        forms.append(ipaddress.IPv6Address(f"::ffff:{ip}"))
    elif ip.ipv4_mapped is not None:
        forms.append(ip.ipv4_mapped)
    return any(form in network for form in forms for network in networks if form.version == network.version)


@given(
    st.lists(_networks, max_size=12),
    st.lists(
        st.one_of(
            st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
            st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v))),
            st.integers(0, 2**32 - 1).map(lambda v: f"::ffff:{ipaddress.IPv4Address(v)}"),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_network_set_agrees_with_ipaddress(
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network], addresses: list[str]
) -> None:
    built = NetworkSet.from_networks(networks)
    # Probe the edges of every network too, where off-by-one mistakes live.
    for network in networks:
        for edge in (int(network.network_address) - 1, int(network.broadcast_address) + 1):
            if 0 <= edge < 2 ** (32 if network.version == 4 else 128):
                addresses.append(
                    str(ipaddress.IPv6Address(edge) if network.version == 6 else ipaddress.IPv4Address(edge))
                )
        addresses.append(str(network.network_address))
        addresses.append(str(network.broadcast_address))
    for address in addresses:
        assert (address in built) == _oracle(networks, address), address


def test_network_sets_and_the_ip_blocklist_share_one_structure() -> None:
    entries = ["10.0.0.0/9", "10.128.0.0/9", "192.0.2.7", "::ffff:198.51.100.0/120", "2001:db8::/32", "::/127"]
    networks = NetworkSet.from_strings(entries)
    # The same networks in the blocklist's syntax (BFE cannot load these two IPv6 CIDRs: ranges instead).
    text = "\n".join(entries).replace("::ffff:198.51.100.0/120", "::ffff:198.51.100.0 ::ffff:198.51.100.255")
    blocklist = parse_ip_blocklist(text.replace("::/127", ":: ::1") + "\n")
    assert isinstance(networks, IPRanges)
    assert isinstance(blocklist, IPRanges)
    assert networks.ranges() == blocklist.ranges()
    for address in ["10.200.1.1", "192.0.2.7", "198.51.100.9", "::ffff:198.51.100.9", "2001:db8::5", "::1", "::2"]:
        assert (address in networks) == blocklist.lookup(address) == blocklist.contains(address), address


@given(st.lists(_networks, max_size=12), st.integers(0, 2**128 - 1))
def test_network_sets_and_the_ip_blocklist_agree(
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network], value: int
) -> None:
    built = NetworkSet.from_networks(networks)
    blocklist = IPTable(
        (
            int(n.network_address) | (MAPPED_START if n.version == 4 else 0),
            int(n.broadcast_address) | (MAPPED_START if n.version == 4 else 0),
        )
        for n in networks
    )
    assert built.ranges() == blocklist.ranges()
    address = str(ipaddress.IPv6Address(value))
    assert (address in built) == blocklist.lookup(address)
