"""HAProxy PROXY protocol, versions 1 and 2 (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).

Pure functions on bytes. The accepting side calls :func:`header_length` on what it has
peeked so far to learn how many bytes the header takes, reads exactly that many (so not a
byte of the TLS or HTTP stream that follows is consumed), then :func:`parse` on them.

- v1 is one text line, ``PROXY TCP4|TCP6|UNKNOWN ...\\r\\n``, at most 107 bytes.
- v2 is a 12-byte signature, a version/command byte, a family/transport byte, a 16-bit
  big-endian length, then the addresses and optional TLVs (type, 16-bit length, value).

A ``LOCAL`` command (a health check by the proxy itself), ``UNKNOWN``, or an address family
without IP addresses gives a header with ``source`` ``None``: the socket peer is the client.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Literal

from stockade.errors import StockadeError

V1_PREFIX = b"PROXY "
V1_MAX = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = 16
Versions = Literal["v1", "v2", "any"]

_MAPPED = b"\x00" * 10 + b"\xff\xff"
# family nibble -> (socket family, bytes per address, bytes of both addresses and ports)
_V2_ADDRESSES: dict[int, tuple[int | None, int, int]] = {
    0x1: (socket.AF_INET, 4, 12),
    0x2: (socket.AF_INET6, 16, 36),
    0x3: (None, 108, 216),
}


class ProxyProtocolError(StockadeError):
    """A connection's PROXY header is malformed or of a version the listener does not accept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"bad PROXY protocol header: {self.reason}"


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """What the proxy in front told about the connection."""

    version: int
    source: tuple[str, int] | None  # None for LOCAL, UNKNOWN or non-IP families
    destination: tuple[str, int] | None
    tlvs: tuple[tuple[int, bytes], ...] = ()


def header_length(data: bytes, versions: Versions = "any") -> int | None:
    """The length of the header ``data`` starts with, or ``None`` if more bytes are needed.

    While it returns ``None``, every byte of ``data`` belongs to the header (a reader may
    consume them). Raises :class:`ProxyProtocolError` as soon as ``data`` cannot start one.
    """
    if _is_prefix(data, V2_SIGNATURE):
        if versions == "v1":
            raise ProxyProtocolError("version 2 header on a version 1 listener")
        if len(data) < V2_FIXED:
            return None
        _check_v2_fixed(data)
        return V2_FIXED + int.from_bytes(data[14:16], "big")
    if _is_prefix(data, V1_PREFIX):
        if versions == "v2":
            raise ProxyProtocolError("version 1 header on a version 2 listener")
        end = data.find(b"\r\n", 0, V1_MAX)
        if end >= 0:
            return end + 2
        if len(data) >= V1_MAX:
            raise ProxyProtocolError(f"version 1 header longer than {V1_MAX} bytes")
        return None
    raise ProxyProtocolError("the connection does not start with a PROXY header")


def parse(header: bytes, versions: Versions = "any") -> ProxyHeader:
    """Parse one complete header (exactly the bytes :func:`header_length` counted)."""
    if header_length(header, versions) != len(header):
        raise ProxyProtocolError("incomplete header")
    if header.startswith(V2_SIGNATURE):
        return _parse_v2(header)
    return _parse_v1(header)


def _is_prefix(data: bytes, prefix: bytes) -> bool:
    size = min(len(data), len(prefix))
    return data[:size] == prefix[:size]


def _parse_v1(header: bytes) -> ProxyHeader:
    try:
        line = header[:-2].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyProtocolError("version 1 header is not ASCII") from None
    parts = line.split(" ")
    if parts[1:2] == ["UNKNOWN"]:
        return ProxyHeader(1, None, None)  # the rest of the line is to be ignored
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyProtocolError("expected 'PROXY TCP4|TCP6 source destination sport dport' or 'PROXY UNKNOWN'")
    family = socket.AF_INET if parts[1] == "TCP4" else socket.AF_INET6
    source = (_v1_address(family, parts[2]), _v1_port(parts[4]))
    destination = (_v1_address(family, parts[3]), _v1_port(parts[5]))
    return ProxyHeader(1, source, destination)


def _v1_address(family: int, text: str) -> str:
    try:
        packed = socket.inet_pton(family, text)
    except (OSError, ValueError):
        kind = "IPv4" if family == socket.AF_INET else "IPv6"
        raise ProxyProtocolError(f"{text!r} is not an {kind} address") from None
    return _spelled(family, packed)


def _v1_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or (len(text) > 1 and text[0] == "0"):
        raise ProxyProtocolError(f"{text!r} is not a port number")
    port = int(text)
    if port > 65535:
        raise ProxyProtocolError(f"{text!r} is not a port number")
    return port


def _check_v2_fixed(data: bytes) -> None:
    version, command = data[12] >> 4, data[12] & 0xF
    if version != 2:
        raise ProxyProtocolError(f"version {version} in a version 2 signature")
    if command > 1:
        raise ProxyProtocolError(f"unknown command {command}")
    family, transport = data[13] >> 4, data[13] & 0xF
    if family > 3 or transport > 2:
        raise ProxyProtocolError(f"unknown address family or transport 0x{data[13]:02x}")
    length = int.from_bytes(data[14:16], "big")
    if command == 1 and family in _V2_ADDRESSES and length < _V2_ADDRESSES[family][2]:
        raise ProxyProtocolError(f"length {length} too short for the address family")


def _parse_v2(header: bytes) -> ProxyHeader:
    command, family = header[12] & 0xF, header[13] >> 4
    body = header[V2_FIXED:]
    known = _V2_ADDRESSES.get(family)
    size = known[2] if known is not None else 0
    tlvs = _parse_tlvs(body[size:])
    if command == 0 or known is None or known[0] is None:
        return ProxyHeader(2, None, None, tlvs)  # LOCAL, UNSPEC or a UNIX socket: no IP client
    af, width = known[0], known[1]
    source_ip = _spelled(af, body[:width])
    destination_ip = _spelled(af, body[width : 2 * width])
    source_port, destination_port = struct.unpack_from("!HH", body, 2 * width)
    return ProxyHeader(2, (source_ip, source_port), (destination_ip, destination_port), tlvs)


def _parse_tlvs(data: bytes) -> tuple[tuple[int, bytes], ...]:
    tlvs: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        if offset + 3 > len(data):
            raise ProxyProtocolError("truncated TLV")
        kind, length = data[offset], int.from_bytes(data[offset + 1 : offset + 3], "big")
        end = offset + 3 + length
        if end > len(data):
            raise ProxyProtocolError(f"TLV 0x{kind:02x} longer than the header")
        tlvs.append((kind, data[offset + 3 : end]))
        offset = end
    return tuple(tlvs)


def _spelled(family: int, packed: bytes) -> str:
    """The text of an address; an IPv4-mapped IPv6 address is the IPv4 address it maps."""
    if family == socket.AF_INET6 and packed[:12] == _MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(family, packed)
