"""The PROXY protocol parser: v1 and v2 vectors, LOCAL, UNKNOWN, truncated and malformed headers."""

from __future__ import annotations

import socket
import struct

import pytest

from stockade.server.http.proxy_protocol import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyProtocolError,
    header_length,
    parse,
)

HTTP = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def v2(
    command: int = 1, family: int = 1, transport: int = 1, addresses: bytes = b"", tlvs: bytes = b"", length: int = -1
) -> bytes:
    body = addresses + tlvs
    size = len(body) if length < 0 else length
    return V2_SIGNATURE + bytes([0x20 | command, family << 4 | transport]) + struct.pack("!H", size) + body


def inet(source: str, destination: str, sport: int, dport: int) -> bytes:
    return (
        socket.inet_pton(socket.AF_INET, source)
        + socket.inet_pton(socket.AF_INET, destination)
        + struct.pack("!HH", sport, dport)
    )


def inet6(source: str, destination: str, sport: int, dport: int) -> bytes:
    return (
        socket.inet_pton(socket.AF_INET6, source)
        + socket.inet_pton(socket.AF_INET6, destination)
        + struct.pack("!HH", sport, dport)
    )


def read(data: bytes, versions: str = "any") -> tuple[ProxyHeader, bytes]:
    """What the acceptor does: learn the length, take exactly that, parse; returns the rest too."""
    total = header_length(data, versions)  # type: ignore[arg-type]
    assert total is not None
    return parse(data[:total], versions), data[total:]  # type: ignore[arg-type]


# -- version 1 ------------------------------------------------------------------------------

V1_VECTORS = {
    "tcp4": (b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n", ("192.0.2.10", 56324), ("198.51.100.1", 443)),
    "tcp6": (
        b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 80\r\n",
        ("2001:db8::1", 65535),
        ("2001:db8::2", 80),
    ),
    "tcp6 long form, mapped": (
        b"PROXY TCP6 0:0:0:0:0:ffff:c000:20a 2001:DB8:0:0:0:0:0:2 1 0\r\n",
        ("192.0.2.10", 1),
        ("2001:db8::2", 0),
    ),
}


@pytest.mark.parametrize("vector", list(V1_VECTORS.values()), ids=list(V1_VECTORS))
def test_v1_addresses(vector: tuple[bytes, tuple[str, int], tuple[str, int]]) -> None:
    line, source, destination = vector
    header, rest = read(line + HTTP)
    assert header == ProxyHeader(1, source, destination)
    assert rest == HTTP


def test_v1_unknown_ignores_the_rest_of_the_line() -> None:
    for line in (b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"):
        header, rest = read(line + HTTP)
        assert header == ProxyHeader(1, None, None)
        assert rest == HTTP


def test_v1_longest_header_is_107_bytes() -> None:
    longest = (
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
    )
    assert len(longest) == 104  # the spec's 107 leaves room; anything at 107 without CRLF is refused
    assert header_length(longest + HTTP) == 104
    assert header_length(b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n") == 107
    with pytest.raises(ProxyProtocolError, match="longer than 107 bytes"):
        header_length(b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n")


def test_v1_incomplete_needs_more_bytes() -> None:
    line = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"
    for size in range(len(line) - 1):
        assert header_length(line[:size]) is None, size
    assert header_length(line[:-1]) is None  # the CR without its LF
    assert header_length(line) == len(line)


MALFORMED_V1 = {
    "lower case": b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "unknown protocol": b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "missing port": b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
    "extra field": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
    "double space": b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
    "ipv6 in tcp4": b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
    "ipv4 in tcp6": b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
    "bad address": b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
    "port too large": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "leading zero port": b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
    "signed port": b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
    "not ascii": b"PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa1 2\r\n",
    "nothing": b"PROXY \r\n",
}


@pytest.mark.parametrize("line", list(MALFORMED_V1.values()), ids=list(MALFORMED_V1))
def test_v1_malformed(line: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        read(line + HTTP)


def test_plain_http_is_not_a_proxy_header() -> None:
    for data in (HTTP, b"\x16\x03\x01\x02\x00", b"PROXZ", b"\r\n\r\n\x00\r\nQUIX"):
        with pytest.raises(ProxyProtocolError, match="does not start with a PROXY header"):
            header_length(data)


def test_error_message_names_the_problem() -> None:
    with pytest.raises(ProxyProtocolError) as caught:
        read(MALFORMED_V1["port too large"])
    assert str(caught.value) == "bad PROXY protocol header: '65536' is not a port number"


# -- version 2 ------------------------------------------------------------------------------


def test_v2_ipv4() -> None:
    header, rest = read(v2(addresses=inet("192.0.2.10", "198.51.100.1", 56324, 443)) + HTTP)
    assert header == ProxyHeader(2, ("192.0.2.10", 56324), ("198.51.100.1", 443))
    assert rest == HTTP


def test_v2_ipv6_and_mapped() -> None:
    header, _ = read(v2(family=2, addresses=inet6("2001:db8::1", "2001:db8::2", 1, 2)))
    assert header == ProxyHeader(2, ("2001:db8::1", 1), ("2001:db8::2", 2))
    mapped, _ = read(v2(family=2, addresses=inet6("::ffff:192.0.2.10", "::1", 1, 2)))
    assert mapped.source == ("192.0.2.10", 1)


def test_v2_local_command_has_no_source() -> None:
    # A health check by the proxy itself: the addresses, if any, are to be ignored.
    for addresses in (b"", inet("192.0.2.10", "198.51.100.1", 1, 2)):
        header, rest = read(v2(command=0, family=1 if addresses else 0, addresses=addresses) + HTTP)
        assert header.source is None
        assert rest == HTTP


def test_v2_unspec_and_unix_have_no_source() -> None:
    assert read(v2(family=0, transport=0))[0].source is None
    assert read(v2(family=3, addresses=b"/run/a".ljust(108, b"\0") + b"/run/b".ljust(108, b"\0")))[0].source is None


def test_v2_tlvs_are_kept_and_skipped() -> None:
    tlvs = b"\x02\x00\x0bexample.org" + b"\x04\x00\x00"  # AUTHORITY, NOOP
    header, rest = read(v2(addresses=inet("192.0.2.10", "198.51.100.1", 1, 2), tlvs=tlvs) + HTTP)
    assert header.tlvs == ((0x02, b"example.org"), (0x04, b""))
    assert header.source == ("192.0.2.10", 1)
    assert rest == HTTP


def test_v2_truncated_needs_more_bytes() -> None:
    whole = v2(addresses=inet("192.0.2.10", "198.51.100.1", 1, 2))
    for size in range(16):
        assert header_length(whole[:size]) is None, size
    for size in range(16, len(whole) + 1):
        assert header_length(whole[:size]) == len(whole)
    with pytest.raises(ProxyProtocolError, match="incomplete"):
        parse(whole[:-1])


MALFORMED_V2 = {
    "version 1 nibble": V2_SIGNATURE + b"\x11\x11\x00\x0c" + b"\0" * 12,
    "version 3 nibble": V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\0" * 12,
    "command 2": v2(command=2, addresses=b"\0" * 12),
    "family 4": v2(family=4),
    "transport 3": v2(transport=3, addresses=b"\0" * 12),
    "too short for ipv4": v2(addresses=b"\0" * 11),
    "too short for ipv6": v2(family=2, addresses=b"\0" * 35),
    "truncated tlv": v2(addresses=b"\0" * 12, tlvs=b"\x02\x00"),
    "tlv longer than the header": v2(addresses=b"\0" * 12, tlvs=b"\x02\x00\x09short"),
}


@pytest.mark.parametrize("data", list(MALFORMED_V2.values()), ids=list(MALFORMED_V2))
def test_v2_malformed(data: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        read(data + HTTP)


# -- versions a listener accepts ------------------------------------------------------------


def test_listener_versions() -> None:
    one = b"PROXY TCP4 192.0.2.10 198.51.100.1 1 2\r\n"
    two = v2(addresses=inet("192.0.2.10", "198.51.100.1", 1, 2))
    assert read(one, "v1")[0].version == 1
    assert read(two, "v2")[0].version == 2
    assert read(one, "any")[0].version == read(two, "any")[0].version - 1
    with pytest.raises(ProxyProtocolError, match="version 2 header on a version 1 listener"):
        header_length(two, "v1")
    with pytest.raises(ProxyProtocolError, match="version 1 header on a version 2 listener"):
        header_length(one, "v2")
    # Refused from the first byte that tells the versions apart.
    with pytest.raises(ProxyProtocolError):
        header_length(b"P", "v2")
    with pytest.raises(ProxyProtocolError):
        header_length(b"\r", "v1")
