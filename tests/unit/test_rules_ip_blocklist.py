"""BFE's ip_blocklist.data: line syntax, the meta header, whole-file rejection and BFE's error texts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.errors import BlocklistError
from stockade.ipranges import MAPPED_START, IPRanges
from stockade.rules.ip_blocklist import load_ip_blocklist, parse_ip_blocklist, read_header


def rejects(text: str | bytes) -> BlocklistError:
    with pytest.raises(BlocklistError) as caught:
        parse_ip_blocklist(text, file="bl.data")
    return caught.value


def test_lines_are_trimmed_and_comments_and_blank_lines_skipped() -> None:
    t = parse_ip_blocklist(" \t10.0.0.1 \t\r\n\n# comment\n   # indented comment\n\r\n10.0.0.2")
    assert t.contains("10.0.0.1")
    assert t.contains("10.0.0.2")
    assert (t.singles, t.pairs) == (2, 0)


def test_cidrs_mask_host_bits() -> None:
    t = parse_ip_blocklist("192.168.1.250/20\n2001:db8:1234::1/32\n10.0.0.0/08\n")
    assert t.contains("192.168.0.0")
    assert t.contains("192.168.15.255")
    assert not t.contains("192.168.16.0")
    assert t.contains("2001:db8::")
    assert t.contains("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
    assert t.contains("10.255.255.255")  # a prefix length may have leading zeros, as Go's dtoi reads it
    assert (t.singles, t.pairs) == (0, 3)


def test_a_cidr_of_one_address_counts_as_single() -> None:
    t = parse_ip_blocklist("1.2.3.4/32\n2001:db8::1/128\n")
    assert (t.singles, t.pairs) == (2, 0)


def test_the_whole_spaces_as_cidrs() -> None:
    t = parse_ip_blocklist("0.0.0.0/0\n")
    assert t.contains("0.0.0.0")
    assert t.contains("255.255.255.255")
    assert not t.contains("2001:db8::1")
    t = parse_ip_blocklist("::/0\n")
    assert t.contains("2001:db8::1")
    assert t.contains("1.2.3.4")  # every IPv4 address is in ::ffff:0:0/96


def test_pairs_split_at_the_first_space_then_the_first_tab() -> None:
    t = parse_ip_blocklist("10.0.0.1 10.0.0.9\n10.0.1.1\t10.0.1.9\n10.0.2.1   \t 10.0.2.9\n10.0.3.1\t  10.0.3.9\n")
    for prefix in ("10.0.0", "10.0.1", "10.0.2", "10.0.3"):
        assert t.contains(f"{prefix}.5")
        assert not t.contains(f"{prefix}.10")
    assert t.pairs == 4


def test_a_pair_of_one_address_is_a_single() -> None:
    t = parse_ip_blocklist("1.2.3.4 1.2.3.4\n1.2.3.5 ::ffff:1.2.3.5\n")
    assert (t.singles, t.pairs) == (2, 0)


def test_mapped_ipv6_singles_and_pairs_are_ipv4() -> None:
    t = parse_ip_blocklist("::ffff:8.8.8.8\n::ffff:9.9.9.1 9.9.9.3\n")
    assert t.contains("8.8.8.8")
    assert t.contains("9.9.9.2")


def test_an_empty_file_is_an_empty_list() -> None:
    assert len(parse_ip_blocklist("")) == 0
    assert len(parse_ip_blocklist("\n\n# only comments\n")) == 0


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("invalid ip blocklist content", "invalid ip blocklist content"),
        ("1.1.1.1 # no trailing comments\n", "1.1.1.1 # no trailing comments"),
        ("1.1.1.1 1.1.1.2 1.1.1.3\n", "1.1.1.1 1.1.1.2 1.1.1.3"),
        ("10.0.0.0/33\n", "10.0.0.0/33"),
        ("::/129\n", "::/129"),
        ("10.0.0.0/+8\n", "10.0.0.0/+8"),
        ("10.0.0.0/8x\n", "10.0.0.0/8x"),
        ("fe80::/10%eth0\n", "fe80::/10%eth0"),
        ("01.2.3.4\n", "01.2.3.4"),
        ("1.2.3.4\v\n", "1.2.3.4\v"),
        ("1.2.3.4\r \n", "1.2.3.4\r"),
        ("1.2.3.4/24 1.2.3.9\n", "1.2.3.4/24 1.2.3.9"),
    ],
)
def test_a_bad_line_rejects_the_whole_file_with_bfes_text(text: str, line: str) -> None:
    error = rejects("10.0.0.1\n" + text)
    assert error.line == 2
    assert error.text == line
    split = f"checkSplit(): line {line} format err"
    assert (
        error.bfe_message == f"load dict: loadFile(): bl.data checkLine(): line[{line}] err[checkLine(): err, {split}]"
    )
    assert str(error) == f"bl.data:2: not an IP address, a CIDR or a 'start end' range: {line!r}"


def test_with_a_header_a_bad_line_reads_as_in_bfes_main_loop() -> None:
    error = rejects('# {"version": "1", "singleIPNum": 9, "pairIPNum": 9}\nbad\n')
    assert error.bfe_message == "load dict: loadFile(): err, checkLine(): err, checkSplit(): line bad format err"


def test_a_range_that_starts_after_it_ends() -> None:
    error = rejects("1.1.1.5 1.1.1.1\n")
    assert error.bfe_message == "load dict: loadFile(): err, InsertPair failed: startIPStr 1.1.1.5 > endIPStr 1.1.1.1"
    assert str(error) == "bl.data:1: the range starts after it ends (1.1.1.5 > 1.1.1.1): '1.1.1.5 1.1.1.1'"
    error = rejects("2001:db8::9 2001:db8::1\n")
    assert error.bfe_message.endswith("startIPStr 2001:db8::9 > endIPStr 2001:db8::1")


def test_a_range_over_two_families() -> None:
    error = rejects("1.1.1.1 2001:db8::1\n")
    assert error.bfe_message == (
        "load dict: loadFile(): err, InsertPair failed: startIP and endIP should both be ipv4 or non-ipv4"
    )
    assert str(error) == "bl.data:1: start and end are not of one family: '1.1.1.1 2001:db8::1'"


def test_without_a_header_a_bad_line_anywhere_wins_over_an_earlier_bad_range() -> None:
    error = rejects("1.1.1.5 1.1.1.1\ngarbage\n")
    assert error.line == 2
    assert "checkLine()" in error.bfe_message


def test_with_a_header_the_first_problem_wins() -> None:
    error = rejects('# {"version": "1", "singleIPNum": 9, "pairIPNum": 9}\n1.1.1.5 1.1.1.1\ngarbage\n')
    assert error.line == 2
    assert "InsertPair failed" in error.bfe_message


@pytest.mark.parametrize(
    ("cidr", "shown"),
    [
        ("::1/128", "invalid endIP: ?01"),
        ("::/128", "invalid endIP: <nil>"),
        ("::ffff:10.0.0.0/104", "invalid endIP: ?ffff0affffff"),
        ("::/8", "invalid endIP: ?ffffffffffffffffffffffffffffff"),
        ("::1.0.0.0/104", "startIP and endIP should both be ipv4 or non-ipv4"),
    ],
)
def test_bfe_cannot_load_an_ipv6_cidr_whose_last_address_starts_with_a_zero_byte(cidr: str, shown: str) -> None:
    # BFE computes the last address with big.Int.Bytes(), which drops leading zero bytes.
    error = rejects(cidr + "\n")
    assert error.bfe_message == f"load dict: loadFile(): err, InsertPair failed: {shown}"


def test_ipv6_cidrs_from_slash_0_to_slash_7_load() -> None:
    t = parse_ip_blocklist("::/7\n")
    assert t.contains("1ff:ffff::")
    assert not t.contains("200::")


def test_a_line_of_64_kib_or_more_is_an_error() -> None:
    assert parse_ip_blocklist("#" + "x" * 65534 + "\n1.2.3.4\n").contains("1.2.3.4")
    error = rejects("#" + "x" * 65535 + "\n")
    assert error.bfe_message == "load dict: loadFile(): bl.data scan file: err, bufio.Scanner: token too long"
    error = rejects('# {"version": "1", "singleIPNum": 9, "pairIPNum": 9}\n#' + "é" * 40000)
    assert error.bfe_message == "load dict: loadFile(): err, bufio.Scanner: token too long"
    assert error.line == 2


def test_a_byte_order_mark_is_not_skipped() -> None:
    error = rejects(b"\xef\xbb\xbf1.2.3.4\n")
    assert error.text == "\ufeff1.2.3.4"


def test_bytes_that_are_not_utf8_in_comments_are_fine() -> None:
    assert parse_ip_blocklist(b"# caf\xe9\n1.2.3.4\n").contains("1.2.3.4")
    assert rejects(b"1.2.3.\xe9\n").line == 1


class TestHeader:
    def test_a_valid_header_is_used(self) -> None:
        header = read_header(b'#  {"version": "1234", "pairIPNum":1, "singleIPNum":2}\r\n1.2.3.4\n')
        assert header is not None
        assert (header.version, header.singles, header.pairs) == ("1234", 2, 1)
        t = parse_ip_blocklist('# {"version": "v9", "singleIPNum": 1, "pairIPNum": 0}\n1.2.3.4\n')
        assert t.version == "v9"

    @pytest.mark.parametrize(
        "first",
        [
            "",
            "1.2.3.4",
            "# global ip blocklist",
            '# {"version": "", "singleIPNum": 1, "pairIPNum": 1}',
            '# {"singleIPNum": 1, "pairIPNum": 1}',
            '# {"version": "1", "singleIPNum": -1, "pairIPNum": 1}',
            '# {"version": "1", "pairIPNum": 1}',
            '# {"version": "1", "singleIPNum": 1.0, "pairIPNum": 1}',
            '# {"version": "1", "singleIPNum": "1", "pairIPNum": 1}',
            '# {"version": 1, "singleIPNum": 1, "pairIPNum": 1}',
            '# {"version": "1", "singleIPNum": true, "pairIPNum": 1}',
            '# {"version": "1", "singleIPNum": 9223372036854775808, "pairIPNum": 1}',
            '# ["version"]',
            "# null",
            '# {"version": "1", "singleIPNum": 1, "pairIPNum": 1',
        ],
    )
    def test_a_header_bfe_would_not_use(self, first: str) -> None:
        assert read_header(first.encode() + b"\n10.0.0.1\n") is None

    def test_keys_in_any_case_hashes_around_and_trailing_text(self) -> None:
        header = read_header(b'  ##{"VERSION": "a", "SingleIpNum": 0, "PAIRipnum": 3} trailing ##\n')
        assert header is not None
        assert (header.version, header.singles, header.pairs) == ("a", 0, 3)

    def test_a_later_key_wins_and_null_keeps_the_earlier_value(self) -> None:
        header = read_header(
            b'# {"version": "a", "version": "b", "singleIPNum": 1, "singleIPNum": null, "pairIPNum": 0}'
        )
        assert header is not None
        assert (header.version, header.singles) == ("b", 1)

    def test_only_the_first_line_is_a_header(self) -> None:
        assert read_header(b'\n# {"version": "1", "singleIPNum": 0, "pairIPNum": 0}\n') is None
        t = parse_ip_blocklist('1.2.3.4\n# {"version": "1", "singleIPNum": 0, "pairIPNum": 0}\n5.6.7.8\n')
        assert t.version == ""

    def test_counts_are_capacity_limits(self) -> None:
        ok = '# {"version": "1", "singleIPNum": 2, "pairIPNum": 1}\n1.1.1.1\n2.2.2.2/32\n3.3.3.1 3.3.3.9\n'
        assert len(parse_ip_blocklist(ok)) == 3
        error = rejects('# {"version": "1", "singleIPNum": 1, "pairIPNum": 5}\n1.1.1.1\n1.1.1.1\n')
        assert error.bfe_message == "load dict: Max line exceed"
        assert error.line == 3
        assert str(error) == "bl.data:3: more single addresses than the meta header declares (1): '1.1.1.1'"
        error = rejects('# {"version": "1", "singleIPNum": 5, "pairIPNum": 0}\n1.1.1.1 1.1.1.9\n')
        assert str(error) == "bl.data:2: more ranges than the meta header declares (0): '1.1.1.1 1.1.1.9'"


def test_load_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "ip_blocklist.data"
    path.write_text("10.0.0.1\nnope\n")
    with pytest.raises(BlocklistError) as caught:
        load_ip_blocklist(str(path))
    assert caught.value.file == str(path)
    assert str(caught.value) == f"{path}:2: not an IP address, a CIDR or a 'start end' range: 'nope'"


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.data"
    with pytest.raises(BlocklistError) as caught:
        load_ip_blocklist(str(path))
    assert caught.value.bfe_message == (
        f"load dict: loadFile(): {path} open(): {path}, open {path}: no such file or directory"
    )


_V6_CIDRS = st.builds(
    lambda value, bits: ipaddress.ip_network((value, bits), strict=False),
    st.integers(0, 2**128 - 1).map(lambda v: v | 1 << 127),  # a first byte BFE can load
    st.integers(0, 128),
)
_V4_CIDRS = st.builds(
    lambda value, bits: ipaddress.ip_network((value, bits), strict=False), st.integers(0, 2**32 - 1), st.integers(0, 32)
)


@given(st.lists(st.one_of(_V4_CIDRS, _V6_CIDRS, st.sampled_from(["::/0", "::/3", "::/7"]).map(ipaddress.ip_network))))
def test_the_loader_files_ranges_as_the_shared_range_set_does(
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> None:
    # The loader inlines ipranges.add_range for speed: both must give the same set.
    loaded = parse_ip_blocklist("".join(f"{network}\n" for network in networks))
    mapped = [MAPPED_START if network.version == 4 else 0 for network in networks]
    built = IPRanges(
        (int(n.network_address) | m, int(n.broadcast_address) | m) for n, m in zip(networks, mapped, strict=True)
    )
    assert loaded.ranges() == built.ranges()
