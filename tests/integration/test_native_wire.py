"""The native front on the wire: what ``test_http_server`` checks of the Python HTTP server's
own layer with an ASGI app (PROXY protocol, TLS, IPv6, ends of input), checked on the
native front behind ``stockade serve``'s checks, before the upstream of the proxy tests.

The upstream echoes what it received: the client the front believed is the
``X-Forwarded-For`` it was sent (``[proxy] trusted`` names 127.0.0.1, the proxy in front).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stockade.server.listen import ListenAddress
from stockade.server.settings import Limits, ListenerSpec, ProxyProtocol, TlsSettings
from stockade.server.testing import ServerThread
from tests.integration.conftest import V2_SIGNATURE, Site, new_site
from tests.integration.http_support import (
    Certificates,
    TlsWire,
    Wire,
    closed_without_a_byte,
    make_certificates,
    request,
    responses,
)
from tests.integration.test_protecting_server import TOKEN, _config, get
from tests.integration.test_proxy import Uvicorn

LOCAL = ListenAddress("127.0.0.1", 0)
TRUSTED = ("127.0.0.1",)  # the proxy in front; other loopback addresses (127.0.0.2) are not


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with Uvicorn("tests.integration.upstream_app:app", log) as server:
        yield server


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def config(site: Site, upstream: Uvicorn) -> Path:
    return _config(site, upstream, blocklist="198.18.0.66\n")


def native(path: Path, listeners: list[ListenerSpec] | None = None, limits: Limits | None = None) -> ServerThread:
    return ServerThread(path, listeners=listeners, limits=limits)


def proxied(versions: ProxyProtocol, *, tls: TlsSettings | None = None) -> ListenerSpec:
    """A PROXY-protocol listener that believes the header from 127.0.0.1 only."""
    return ListenerSpec(LOCAL, tls=tls, proxy_protocol=versions, proxy_protocol_from=TRUSTED)


@dataclass
class Front:
    """One native front for the module (each start costs seconds): a listener of each kind."""

    running: ServerThread
    ports: dict[str, int]


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, upstream: Uvicorn, certificates: Certificates) -> Iterator[Front]:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    required = TlsSettings(certificates.server_cert, certificates.server_key, certificates.ca, "required")
    kinds = {
        "plain": ListenerSpec(LOCAL),
        "any": proxied("any"),
        "v1": proxied("v1"),
        "v2": proxied("v2"),
        "tls": ListenerSpec(LOCAL, tls=tls),
        "tls required": ListenerSpec(LOCAL, tls=required),
        "tls v1": proxied("v1", tls=tls),
        "ipv6": ListenerSpec(ListenAddress("::1", 0)),
        "ipv6 wildcard": ListenerSpec(ListenAddress("::", 0)),
    }
    site = new_site(tmp_path_factory.mktemp("front"))
    with native(config(site, upstream), list(kinds.values())) as running:
        ports = [int(url.rsplit(":", 1)[1]) for url in running.urls]
        yield Front(running, dict(zip(kinds, ports, strict=True)))


def v1_header(source: str, port: int) -> bytes:
    kind = "TCP6" if ":" in source else "TCP4"
    destination = "::1" if ":" in source else "127.0.0.1"
    return f"PROXY {kind} {source} {destination} {port} 80\r\n".encode()


def v2_header(source: str, port: int) -> bytes:
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    destination = "::1" if ":" in source else "127.0.0.1"
    addresses = socket.inet_pton(family, source) + socket.inet_pton(family, destination) + struct.pack("!HH", port, 80)
    family_byte = 0x21 if family == socket.AF_INET6 else 0x11
    return V2_SIGNATURE + bytes([0x21, family_byte]) + struct.pack("!H", len(addresses)) + addresses


def wire(port: int, *, source: str | None = None, host: str = "127.0.0.1") -> Wire:
    bind = (source, 0) if source is not None else None
    return Wire(socket.create_connection((host, port), timeout=10, source_address=bind))


def forwarded_for(response: object) -> str:
    """The client the front named to the upstream."""
    echoed = json.loads(response.body)  # type: ignore[attr-defined]
    return str({name.lower(): value for name, value in echoed["headers"]}["x-forwarded-for"])


# -- PROXY protocol ---------------------------------------------------------------------------

PROXY_CASES = {
    "v1 IPv4": ("v1", v1_header("192.0.2.10", 56324), "192.0.2.10"),
    "v1 IPv6": ("v1", v1_header("2001:db8::7", 40000), "2001:db8::7"),
    "v2 IPv4": ("v2", v2_header("198.51.100.23", 1234), "198.51.100.23"),
    "v2 IPv6": ("any", v2_header("2001:db8::8", 4321), "2001:db8::8"),
    "v2 mapped": ("v2", v2_header("::ffff:192.0.2.99", 9), "192.0.2.99"),
}


@pytest.mark.parametrize("case", list(PROXY_CASES.values()), ids=list(PROXY_CASES))
def test_proxy_protocol_sets_the_client(front: Front, case: tuple[str, bytes, str]) -> None:
    versions, header, client = case
    with wire(front.ports[versions]) as conn:
        conn.send(header + request("GET", "/echo/a") + request("GET", "/echo/b"))
        first, second = conn.response(), conn.response()
    assert forwarded_for(first) == forwarded_for(second) == client


def test_a_proxy_header_from_an_untrusted_peer_is_closed_unread(
    site: Site, upstream: Uvicorn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "stockade.server.native")
    header = v1_header("8.8.8.8", 4000)
    with native(config(site, upstream), [proxied("any")]) as running:
        name = f"127.0.0.1:{running.port}"
        for _ in range(3):
            with wire(running.port, source="127.0.0.2") as conn:
                conn.send(header + request("GET", "/echo/x"))
                assert closed_without_a_byte(conn.sock)
        with wire(running.port) as conn:  # the same header from the trusted proxy is believed
            conn.send(header + request("GET", "/echo/x"))
            assert forwarded_for(conn.response()) == "8.8.8.8"
        admin = int(running.admin_url.rsplit(":", 1)[1])
        status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        assert f'stockade_proxy_protocol_refused_total{{listener="{name}"}} 3.0'.encode() in body.splitlines()
    lines = [r.getMessage() for r in caplog.records if "PROXY header" in r.getMessage()]
    assert lines == [
        f"closed a connection from 127.0.0.2 to {name}: that peer may not send a PROXY header (neither in the"
        " listener's proxy_protocol_from nor in [proxy] trusted); more from it within 60 s are only counted"
    ]


def test_proxy_header_sent_in_pieces(front: Front) -> None:
    header = v2_header("198.51.100.23", 1234)
    with wire(front.ports["any"]) as conn:
        for i in range(0, len(header), 5):
            conn.send(header[i : i + 5])
            time.sleep(0.01)  # pieces on the wire, not a wait for the server
        conn.send(request("GET", "/echo/pieces"))
        assert forwarded_for(conn.response()) == "198.51.100.23"


def test_proxy_local_command_keeps_the_peer(front: Front) -> None:
    local = V2_SIGNATURE + b"\x20\x00\x00\x00"
    with wire(front.ports["v2"]) as conn:
        conn.send(local + request("GET", "/echo/local"))
        assert forwarded_for(conn.response()) == "127.0.0.1"


def v2(command: int = 1, family: int = 1, transport: int = 1, body: bytes = b"") -> bytes:
    """A v2 header from its parts: command (0 LOCAL, 1 PROXY), address family, transport, the rest."""
    return V2_SIGNATURE + bytes([0x20 | command, family << 4 | transport]) + struct.pack("!H", len(body)) + body


IPV4_PAIR = socket.inet_pton(socket.AF_INET, "192.0.2.10") + bytes(4) + struct.pack("!HH", 56324, 443)

# Headers the front believes: the client they name (the peer itself when they name none).
UNUSUAL_PROXY = {
    "v1 TCP6 long form, mapped": (b"PROXY TCP6 0:0:0:0:0:ffff:c000:20a 2001:DB8:0:0:0:0:0:2 1 0\r\n", "192.0.2.10"),
    "v1 UNKNOWN": (b"PROXY UNKNOWN\r\n", "127.0.0.1"),
    "v1 UNKNOWN with addresses": (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", "127.0.0.1"),
    "v1 longest": (
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    "v1 UNKNOWN of 107 bytes": (b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n", "127.0.0.1"),
    "v2 LOCAL with addresses": (v2(command=0, body=IPV4_PAIR), "127.0.0.1"),
    "v2 UNSPEC": (v2(family=0, transport=0), "127.0.0.1"),
    "v2 UNIX": (v2(family=3, body=b"/run/a".ljust(108, b"\0") + b"/run/b".ljust(108, b"\0")), "127.0.0.1"),
    "v2 TLVs skipped": (v2(body=IPV4_PAIR + b"\x02\x00\x0bexample.org" + b"\x04\x00\x00"), "192.0.2.10"),
}


@pytest.mark.parametrize("case", list(UNUSUAL_PROXY.values()), ids=list(UNUSUAL_PROXY))
def test_unusual_proxy_headers_name_their_client(front: Front, case: tuple[bytes, str]) -> None:
    header, client = case
    with wire(front.ports["any"]) as conn:
        conn.send(header + request("GET", "/echo/unusual"))
        assert forwarded_for(conn.response()) == client


MALFORMED_PROXY = {
    "plain HTTP": request("GET", "/echo"),
    "TLS": b"\x16\x03\x01\x02\x00",
    "almost PROXY": b"PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "almost v2": b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x00",
    "v1 too long": b"PROXY TCP4 " + b"1" * 120 + b"\r\n",
    "v1 UNKNOWN of 108 bytes": b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n",
    "v1 lower case": b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "v1 unknown protocol": b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "v1 missing port": b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
    "v1 extra field": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
    "v1 double space": b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
    "v1 IPv6 in TCP4": b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
    "v1 IPv4 in TCP6": b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
    "v1 bad address": b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
    "v1 port too large": b"PROXY TCP4 192.0.2.1 192.0.2.2 1 99999\r\n",
    "v1 leading zero port": b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
    "v1 signed port": b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
    "v1 not ascii": b"PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa1 2\r\n",
    "v1 nothing": b"PROXY \r\n",
    "v2 version 1 nibble": V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),
    "v2 version 3 nibble": V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),
    "v2 command 2": v2(command=2, body=bytes(12)),
    "v2 family 4": v2(family=4),
    "v2 family 5": V2_SIGNATURE + b"\x21\x51\x00\x00",
    "v2 transport 3": v2(transport=3, body=bytes(12)),
    "v2 too short for IPv4": v2(body=bytes(11)),
    "v2 too short for IPv6": v2(family=2, body=bytes(35)),
    "v2 truncated TLV": v2(body=bytes(12) + b"\x02\x00"),
    "v2 TLV longer than the header": v2(body=bytes(12) + b"\x02\x00\x09short"),
}


@pytest.mark.parametrize("data", list(MALFORMED_PROXY.values()), ids=list(MALFORMED_PROXY))
def test_malformed_proxy_headers_are_closed_with_zero_bytes(front: Front, data: bytes) -> None:
    with wire(front.ports["any"]) as conn:
        conn.send(data + request("GET", "/echo"))
        assert closed_without_a_byte(conn.sock)


def test_cut_proxy_headers_and_wrong_versions_are_closed_with_zero_bytes(front: Front) -> None:
    with wire(front.ports["any"]) as conn:  # the connection ends inside the header
        conn.send(v2_header("192.0.2.1", 1)[:20])
        conn.half_close()
        assert closed_without_a_byte(conn.sock)
    for versions, header in (("v1", v2_header("192.0.2.1", 1)), ("v2", v1_header("192.0.2.1", 1))):
        with wire(front.ports[versions]) as conn:
            conn.send(header + request("GET", "/echo"))
            assert closed_without_a_byte(conn.sock), versions


# -- TLS ---------------------------------------------------------------------------------------


def test_tls_required_client_certificate(front: Front, certificates: Certificates) -> None:
    port = front.ports["tls required"]
    with TlsWire(port, certificates.client_context(with_certificate=True)) as conn:
        conn.send(request("GET", "/echo/cert", [("Connection", "close")]))
        data, _ = conn.read_all()
        assert responses(data)[0].status == 200
    refused = pytest.raises((ssl.SSLError, ConnectionResetError))
    # The refusal may come in the handshake or at the first read (TLS 1.3 checks the certificate after).
    with refused, TlsWire(port, certificates.client_context(with_certificate=False)) as conn:
        conn.send(request("GET", "/echo/cert", [("Connection", "close")]))
        conn.read_all()


def test_tls_behind_proxy_protocol(front: Front, certificates: Certificates) -> None:
    context = certificates.client_context(with_certificate=False)
    with socket.create_connection(("127.0.0.1", front.ports["tls v1"]), timeout=10) as raw:
        raw.sendall(v1_header("203.0.113.5", 777))
        with context.wrap_socket(raw, server_hostname="example.test") as sock:
            conn = Wire(sock)
            conn.send(request("GET", "/echo/tls"))
            assert forwarded_for(conn.response()) == "203.0.113.5"


def test_tls_handshakes_that_stall_or_are_not_tls_are_closed(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    limits = Limits(header_timeout=0.2, drain_timeout=2.0)
    with native(config(site, upstream), [ListenerSpec(LOCAL, tls=tls)], limits) as running:
        with wire(running.port) as conn:  # never says hello
            assert closed_without_a_byte(conn.sock)
        with wire(running.port) as conn:
            conn.send(request("GET", "/echo"))  # plain HTTP on a TLS port
            assert not conn.read_all().startswith(b"HTTP/")
        stalled = wire(running.port)  # still handshaking when the server stops: dropped
    try:
        assert closed_without_a_byte(stalled.sock)
    finally:
        stalled.close()


@pytest.mark.parametrize("ending", ["close_notify", "half_close"])
def test_a_tls_client_done_sending_mid_request_gets_nothing(
    front: Front, certificates: Certificates, ending: str
) -> None:
    with TlsWire(front.ports["tls"], certificates.client_context(with_certificate=False)) as conn:
        conn.send(request("POST", "/echo/a", body=b"0123456789")[:-3])
        conn.close_notify() if ending == "close_notify" else conn.half_close()
        data, _ = conn.read_all()
        assert data == b""


def test_tls_large_bodies_both_ways(front: Front, certificates: Certificates) -> None:
    body = os.urandom(3_000_000)
    size = 3_000_000
    context = certificates.client_context(with_certificate=False)
    with (
        socket.create_connection(("127.0.0.1", front.ports["tls"]), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="example.test") as sock,
        Wire(sock) as conn,
    ):
        for _ in range(2):  # twice on one connection: keep-alive under TLS
            conn.send(request("POST", "/echo/up", body=body))
            answer = conn.response("POST")
            assert answer.status == 200
            assert json.loads(answer.body)["body_size"] == len(body)  # type: ignore[attr-defined]
            conn.send(request("GET", f"/download?size={size}&length=1"))
            answer = conn.response()
            assert (answer.status, len(answer.body)) == (200, size)  # type: ignore[attr-defined]


# -- listeners and ends of input ---------------------------------------------------------------


def test_ipv6_listeners(front: Front) -> None:
    # A wildcard IPv6 listener is IPv6 only (IPV6_V6ONLY): no mapped peers.
    for kind in ("ipv6", "ipv6 wildcard"):
        with wire(front.ports[kind], host="::1") as conn:
            conn.send(request("GET", "/echo/v6"))
            assert forwarded_for(conn.response()) == "::1"


@pytest.mark.parametrize(
    "data",
    [b"GET /echo HTTP/1.1\r\nHost: a\r\n", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"],
    ids=["inside the head", "inside the body"],
)
def test_an_end_of_input_inside_a_request_closes_without_an_answer(front: Front, data: bytes) -> None:
    with wire(front.ports["plain"]) as conn:
        conn.send(data)
        conn.half_close()
        assert closed_without_a_byte(conn.sock)


def test_connection_close_is_honoured(front: Front) -> None:
    with wire(front.ports["plain"]) as conn:
        conn.send(request("GET", "/echo/one", [("Connection", "close")]) + request("GET", "/echo/two"))
        answers = responses(conn.read_all())
    assert [json.loads(a.body)["path"] for a in answers] == ["/echo/one"]  # type: ignore[attr-defined]
    assert answers[0].getheader("connection") == "close"
