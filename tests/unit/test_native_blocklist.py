"""The native blocklist parser against the Python one (stockade.rules.ip_blocklist).

Both must accept the same files into the same ranges and counts, and reject the same
files with the same error: file, line, text, reason, BFE's message. Generated files mix
every kind of line BFE reads, bad lines, meta headers and stray bytes.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stockade import ipsets
from stockade.errors import BlocklistError
from stockade.rules.ip_blocklist import load_ip_blocklist, parse_ip_blocklist, read_header

_SURROGATE = re.compile("[\ud800-\udfff]")


def v4(x: int) -> str:
    return str(ipaddress.IPv4Address(x))


def v6(x: int) -> str:
    return ipaddress.IPv6Address(x).compressed


v4_value = st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 512).map(lambda x: 0x0A00_0000 | x))
v6_value = st.one_of(
    st.integers(0, 2**128 - 1),
    st.integers(0, 512).map(lambda x: 0x2001_0DB8 << 96 | x),
    st.integers(0, 2**40).map(lambda x: (0xFFFF << 32) - 2**39 + x),  # around ::ffff:0:0/96
)
good_address = st.one_of(
    v4_value.map(v4),
    v6_value.map(v6),
    v4_value.map(lambda x: f"::ffff:{v4(x)}"),
    v6_value.map(lambda x: ipaddress.IPv6Address(x).exploded.upper()),
    st.sampled_from(["::", "::1", "0.0.0.0", "255.255.255.255", "::1.2.3.4"]),
)
bad_address = st.sampled_from(["01.2.3.4", "1.2.3", "fe80::1%eth0", "1:2", "[::1]", "1.2.3.4.", "::ffff:1.2.3.04", ""])
good_prefix = st.integers(0, 128).map(str)
bad_prefix = st.sampled_from(["08", "0032", "", "+8", "8x", "-1", "1e2", "\u0663", "129", "4294967328"])
blanks = st.sampled_from(["", " ", "\t", "  \t ", "\t "])
junk = st.text(alphabet=st.sampled_from("0123456789abcdef.:/ \t#%x\r\x0b\x00\u00e9"), max_size=20)


@st.composite
def line(draw: st.DrawFn, dirty: bool) -> str:
    """A line of a blocklist file; a dirty one may be malformed (a clean one may still hold a bad range)."""
    kinds = ["single", "single", "cidr", "pair", "pair", "comment", "blank"] + (["junk"] if dirty else [])
    kind = draw(st.sampled_from(kinds))
    address = st.one_of(good_address, bad_address) if dirty else good_address
    prefix = st.one_of(good_prefix, bad_prefix) if dirty else good_prefix
    if kind == "single":
        text = draw(address)
    elif kind == "cidr":
        base = draw(address) if dirty or draw(st.booleans()) else v6(0x2001_0DB8 << 96 | draw(st.integers(0, 2**20)))
        text = f"{base}/{draw(prefix)}"
    elif kind == "pair":
        separator = draw(st.sampled_from([" ", "\t", "   ", " \t ", "\t\t", "\t "]))
        if dirty or draw(st.booleans()):
            first, second = draw(address), draw(address)
        else:  # a range BFE accepts
            family = draw(st.sampled_from([(v4_value, v4), (v6_value, v6)]))
            low, high = sorted([draw(family[0]), draw(family[0])])
            first, second = family[1](low), family[1](high)
        text = f"{first}{separator}{second}"
    elif kind == "comment":
        text = "#" + draw(st.text(max_size=10))
    elif kind == "blank":
        text = ""
    else:
        text = draw(junk)
    return f"{draw(blanks)}{text}{draw(blanks)}{draw(st.sampled_from(['', '', chr(13)]))}"


@st.composite
def header(draw: st.DrawFn) -> str:
    version = draw(
        st.one_of(st.just('"1"'), st.just('""'), st.just("null"), st.just("1"), st.text(max_size=5).map(repr))
    )
    count = st.one_of(st.integers(-1, 30).map(str), st.sampled_from(["null", "1.0", '"1"', "true", "2e1"]))
    keys = draw(st.sampled_from([("version", "singleIPNum", "pairIPNum"), ("VERSION", "SINGLEipnum", "pairipnum")]))
    body = f'{{"{keys[0]}": {version}, "{keys[1]}": {draw(count)}, "{keys[2]}": {draw(count)}}}'
    return draw(st.sampled_from(["# ", "#", "  ##"])) + body + draw(st.sampled_from(["", " trailing", "}"]))


@st.composite
def blocklist(draw: st.DrawFn) -> str:
    dirty = draw(st.booleans())
    lines = draw(st.lists(line(dirty), max_size=25))
    if draw(st.booleans()):
        lines.insert(0, draw(header()))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


def outcome(parse: object) -> object:
    """What a parse gave: its table's ranges and counts, or its error's fields."""
    try:
        table = parse()  # type: ignore[operator]
    except BlocklistError as error:
        return ("error", error.file, error.line, error.text, error.reason, error.message, error.bfe_message, str(error))
    version = _SURROGATE.sub("\ufffd", table.version)  # Go (and native) read a lone surrogate as U+FFFD
    return ("table", table.ranges(), len(table), table.singles, table.pairs, version)


def same(data: bytes | str, file: str = "bl.data") -> object:
    python = outcome(lambda: parse_ip_blocklist(data, file=file))
    native = outcome(lambda: ipsets.parse_blocklist(data, file=file))
    assert native == python
    return native


@given(blocklist())
@settings(max_examples=300)
@example("10.0.0.1\n1.1.1.5 1.1.1.1\ngarbage\n")
@example('# {"version": "1", "singleIPNum": 1, "pairIPNum": 5}\n1.1.1.1\n1.1.1.1\n')
@example("::1/128\n::/8\n::ffff:10.0.0.0/104\n::1.0.0.0/104\n::/0\n")
def test_generated_files_parse_alike(text: str) -> None:
    same(text)


@given(st.binary(max_size=200))
@example(b"\xef\xbb\xbf1.2.3.4\n")
@example(b"1.2.3.\xe9\n")
@example(b'# {"version": "caf\xe9\\ud800", "singleIPNum": 1, "pairIPNum": 1}\n1.2.3.4\n')
def test_any_bytes_parse_alike(data: bytes) -> None:
    same(data)


@given(st.lists(st.sampled_from([b"10.0.0.1", b"1.2.3.4 1.2.3.9", b"2001:db8::/48", b"# c", b"", b"x"]), max_size=12))
def test_stray_bytes_in_a_file_name_and_lines(lines: list[bytes]) -> None:
    same(b"\n".join([*lines, b"\xff\xfe"]), file="dir/bl\udcff.data")


@pytest.mark.parametrize("size", [65535, 65536, 65537])
def test_long_lines_parse_alike(size: int) -> None:
    same("#" + "x" * (size - 1) + "\n1.2.3.4\n")
    same('# {"version": "1", "singleIPNum": 9, "pairIPNum": 9}\n#' + "é" * (size // 2))


@given(header())
def test_headers_are_read_alike(first: str) -> None:
    raw = (first + "\n").encode("utf-8", "surrogateescape")
    python = read_header(raw)
    native = ipsets.parse_blocklist(raw)
    if python is None:
        assert native.version == ""
    else:
        assert native.version == _SURROGATE.sub("\ufffd", python.version)


def test_load_names_the_file_as_the_python_loader_does(tmp_path: Path) -> None:
    path = tmp_path / "ip_blocklist.data"
    path.write_text("10.0.0.1\nnope\n")
    with pytest.raises(BlocklistError) as native:
        ipsets.load_blocklist(str(path))
    with pytest.raises(BlocklistError) as python:
        load_ip_blocklist(str(path))
    assert (native.value.file, native.value.line, str(native.value)) == (str(path), 2, str(python.value))
    missing = str(tmp_path / "missing.data")
    with pytest.raises(BlocklistError) as native:
        ipsets.load_blocklist(missing)
    with pytest.raises(BlocklistError) as python:
        load_ip_blocklist(missing)
    assert (native.value.bfe_message, str(native.value)) == (python.value.bfe_message, str(python.value))


def test_a_loaded_list_answers_lookups() -> None:
    table = ipsets.parse_blocklist(
        '# {"version": "v9", "singleIPNum": 1, "pairIPNum": 2}\n1.2.3.4\n10.0.0.0/8\n2001:db8::/32\n'
    )
    assert (table.version, table.singles, table.pairs, table.entries) == ("v9", 1, 2, 3)
    assert table.contains("10.9.9.9")
    assert table.contains("::ffff:1.2.3.4")
    assert table.contains("2001:db8:ffff::1")
    assert not table.contains("2001:db9::")
    assert not table.contains("1.2.3.5")
