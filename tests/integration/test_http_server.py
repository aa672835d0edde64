"""The protecting server's own HTTP server over real sockets: HTTP/1.1, limits, the connection
check, PROXY protocol, TLS facts, closing without an answer, back-pressure, signals, workers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import logging
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.errors import ConfigError
from stockade.server.asgi import Receive, Scope, Send
from stockade.server.http import AccessEntry, BoundListener, JsonLinesLog, StartupFailed, bind_listeners
from stockade.server.http.proxy_protocol import V2_SIGNATURE
from stockade.server.http.tls import TlsSetupError
from stockade.server.listen import ListenAddress
from stockade.server.settings import ConnectionFacts, Limits, ListenerSpec, ProxyProtocol, TlsSettings
from tests.integration.conftest import Site
from tests.integration.http_support import (
    LOCAL,
    Certificates,
    TlsWire,
    Wire,
    closed_without_a_byte,
    make_certificates,
    request,
    responses,
    serving,
)

log = logging.getLogger(__name__)

# -- the test app ---------------------------------------------------------------------------


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("disconnected")
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def describe(scope: Scope, body: bytes) -> dict[str, Any]:
    facts: ConnectionFacts = scope["extensions"]["stockade"]
    tls = facts.tls
    return {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "client": list(scope["client"]),
        "server": list(scope["server"]),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "peer": list(facts.peer),
        "source": list(facts.source) if facts.source else None,
        "tls": None
        if tls is None
        else {"sni": tls.sni, "version": tls.version, "auth": tls.client_auth, "ca": tls.client_ca},
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "state": scope.get("state"),
    }


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Describes the request as JSON; ``/stream`` answers without a content-length."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/noread":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})
        return
    body = await read_body(receive)
    payload = json.dumps(describe(scope, body)).encode()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        for i in range(0, len(payload), 10):
            await send({"type": "http.response.body", "body": payload[i : i + 10], "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def decoded(response: http.client.HTTPResponse) -> dict[str, Any]:
    assert response.status == 200, (response.status, response.body)  # type: ignore[attr-defined]
    result: dict[str, Any] = json.loads(response.body)  # type: ignore[attr-defined]
    return result


def get(port: int, path: str = "/", *, host: str = "127.0.0.1") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


# -- HTTP/1.1 -------------------------------------------------------------------------------


def test_scope_of_a_request() -> None:
    with serving(echo) as running:
        seen = decoded(get(running.port, "/caf%C3%A9/a%2Fb?x=1&y=%20"))
    assert seen["method"] == "GET"
    assert seen["path"] == "/café/a/b"  # percent-decoded, as uvicorn does
    assert seen["raw_path"] == "/caf%C3%A9/a%2Fb"
    assert seen["query"] == "x=1&y=%20"
    assert (seen["http_version"], seen["scheme"]) == ("1.1", "http")
    assert seen["client"][0] == seen["peer"][0] == "127.0.0.1"
    assert seen["server"] == ["127.0.0.1", running.port]
    assert ["host", f"127.0.0.1:{running.port}"] in seen["headers"]  # names lower-cased
    assert seen["source"] is None
    assert seen["tls"] is None


def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    with serving(echo) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
        ports = set()
        for i in range(5):
            conn.request("POST", f"/{i}", body=b"x" * i)
            response = conn.getresponse()
            seen = json.loads(response.read())
            assert (seen["path"], seen["body_length"]) == (f"/{i}", i)
            assert response.getheader("connection") is None
            ports.add(seen["client"][1])
        conn.close()
    assert len(ports) == 1


def test_pipelined_requests_are_answered_in_order() -> None:
    pipeline = (
        request("GET", "/1") + request("POST", "/2", body=b"hello") + request("GET", "/stream") + request("GET", "/4")
    )
    with serving(echo) as running, running.wire() as wire:
        wire.send(pipeline)
        answers = [wire.response() for _ in range(4)]
    assert [json.loads(a.body)["path"] for a in answers] == ["/1", "/2", "/stream", "/4"]  # type: ignore[attr-defined]
    assert json.loads(answers[1].body)["body_length"] == 5  # type: ignore[attr-defined]
    assert answers[2].getheader("transfer-encoding") == "chunked"


def test_http_1_0_closes_unless_kept_alive() -> None:
    with serving(echo) as running:
        with running.wire() as wire:
            wire.send(b"GET /a HTTP/1.0\r\n\r\n")
            reply = wire.read_all()
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nconnection: close" in head
        assert json.loads(body)["http_version"] == "1.0"
        with running.wire() as wire:
            wire.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            reply = wire.read_all()  # no length known: the end of the body is the end of the connection
        head, _, body = reply.partition(b"\r\n\r\n")
        assert b"transfer-encoding" not in head
        assert json.loads(body)["path"] == "/stream"
        with running.wire() as wire:
            wire.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
            first, second = wire.response(), wire.response()
        assert first.getheader("connection") == "keep-alive"
        assert decoded(second)["path"] == "/a"


def test_chunked_upload() -> None:
    data = os.urandom(200_000)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + 7000]), data[i : i + 7000]) for i in range(0, len(data), 7000)
    )
    with serving(echo) as running, running.wire() as wire:
        wire.send(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        seen = decoded(wire.response())
    assert seen["body_length"] == len(data)
    assert seen["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_expect_100_continue() -> None:
    with serving(echo) as running, running.wire() as wire:
        wire.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert wire.file.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert wire.file.readline() == b"\r\n"
        wire.send(b"hello")
        assert decoded(wire.response())["body_length"] == 5
        # An app that answers without reading: no 100, and the connection closes after the answer.
        wire.send(b"POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        reply = wire.read_all()
    assert reply.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"100 Continue" not in reply
    assert b"\r\nconnection: close\r\n" in reply


def test_head_has_no_body_and_keeps_the_connection() -> None:
    with serving(echo) as running, running.wire() as wire:
        wire.send(request("HEAD", "/a") + request("GET", "/b"))
        head = wire.response("HEAD")
        assert head.status == 200
        assert int(head.getheader("content-length") or 0) > 0
        assert head.body == b""  # type: ignore[attr-defined]
        assert decoded(wire.response())["path"] == "/b"


def test_connection_close_is_honoured() -> None:
    with serving(echo) as running, running.wire() as wire:
        wire.send(request("GET", "/a", [("Connection", "close")]) + request("GET", "/never"))
        reply = wire.read_all()
    assert reply.count(b"HTTP/1.1 200 OK") == 1
    assert b"\r\nconnection: close\r\n" in reply


def test_the_apps_connection_header_is_kept() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            close = scope["path"] == "/close"
            headers = [(b"connection", b"close" if close else b"x-hop"), (b"x-hop", b"1")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})

    with serving(app) as running, running.wire() as wire:
        wire.send(request("GET", "/") + request("GET", "/close") + request("GET", "/never"))
        first = wire.response()
        assert first.getheader("connection") == "x-hop"  # names a hop-by-hop header for a proxy to drop
        assert wire.response().getheader("connection") == "close"
        assert wire.read_all() == b""


def test_ipv6_listener() -> None:
    with serving(echo, listeners=[ListenerSpec(ListenAddress("::1", 0))]) as running:
        seen = decoded(get(running.port, host="::1"))
    assert seen["client"][0] == "::1"
    assert seen["server"] == ["::1", running.port]


def test_ipv4_mapped_peers_are_ipv4() -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0))
    sock.listen()
    listener = BoundListener(ListenerSpec(ListenAddress("::", sock.getsockname()[1])), sock)
    with serving(echo, bound=[listener]) as running:
        seen = decoded(get(running.port))
    assert seen["client"][0] == seen["peer"][0] == "127.0.0.1"
    assert seen["server"][0] == "127.0.0.1"


# -- limits and malformed requests ------------------------------------------------------------

LIMITS = Limits(max_header_bytes=2048, max_body_bytes=1000)


def test_large_headers_are_431() -> None:
    with serving(echo, limits=LIMITS) as running:
        for headers in ([("X-Big", "x" * 3000)], [(f"X-{i}", "y" * 50) for i in range(60)]):
            with running.wire() as wire:
                wire.send(request("GET", "/", headers))
                reply = wire.read_all()
            assert reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), reply[:80]
            assert b"\r\nconnection: close\r\n" in reply
        with running.wire() as wire:  # a header line that never ends
            wire.send(b"GET / HTTP/1.1\r\nX-Endless: ")
            for _ in range(10):
                wire.send(b"z" * 500)
            assert wire.read_all().startswith(b"HTTP/1.1 431 ")
        assert decoded(get(running.port))["path"] == "/"  # and the server serves on


def test_large_bodies_are_413() -> None:
    with serving(echo, limits=LIMITS) as running:
        with running.wire() as wire:
            wire.send(request("POST", "/", body=b"x" * 1001))
            assert wire.read_all().startswith(b"HTTP/1.1 413 ")
        with running.wire() as wire:
            wire.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(3):
                wire.send(b"200\r\n" + b"x" * 512 + b"\r\n")
            assert wire.read_all().startswith(b"HTTP/1.1 413 ")
        with running.wire() as wire:
            wire.send(request("POST", "/", body=b"x" * 1000))
            assert decoded(wire.response())["body_length"] == 1000


MALFORMED = {
    "obsolete line folding": b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: a\n\n",
    "two content-lengths": b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "space before colon": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "binary": b"\x00\x01\x02\x03\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "non-ascii target": b"GET /\xff HTTP/1.1\r\n\r\n",
    "bad version": b"GET / HTTP/9\r\n\r\n",
    "tls to a plain listener": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40,
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_requests_are_400(data: bytes) -> None:
    with serving(echo) as running:
        with running.wire() as wire:
            wire.send(data)
            reply = wire.read_all()
        assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), reply
        assert reply.endswith(b"\r\n\r\nBad Request\n")
        assert decoded(get(running.port))["path"] == "/"


def test_no_input_makes_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """Random bytes after a request line, sent in random pieces: 200 or 4xx, never a 5xx or a logged error."""
    fragments = [b"Host: x\r\n", b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n", b"\r\n"]
    fragments += [b"0\r\n\r\n", b"5\r\nhello\r\n", b"Content-Length: 2\r\n", b"Connection: close\r\n"]
    fragments += [b"GET /next HTTP/1.1\r\n", b"Upgrade: h2c\r\n", b"X-A: \xff\r\n"]
    fragment = st.sampled_from(fragments)
    pieces = st.lists(st.one_of(fragment, fragment, fragment, st.binary(min_size=1, max_size=40)), max_size=8)
    heads = st.sampled_from([b"GET / HTTP/1.1\r\n", b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n", b"", b"PROXY "])
    with serving(echo, limits=Limits(max_header_bytes=512, max_body_bytes=64, header_timeout=1.0)) as running:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(head=heads, tail=pieces, end=st.sampled_from([b"", b"\r\n\r\n", b"\r\n\r\nabc"]))
        def check(head: bytes, tail: list[bytes], end: bytes) -> None:
            with running.wire() as wire:
                try:
                    for piece in [head, *tail, end]:
                        wire.send(piece)
                    wire.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # the server refused and closed early
                reply = wire.read_all()
            statuses = [int(line.split(b" ")[1]) for line in reply.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
            assert all(s in (100, 200) or 400 <= s < 500 for s in statuses), reply

        check()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_header_timeout_closes_without_an_answer() -> None:
    with serving(echo, limits=Limits(header_timeout=0.2)) as running:
        with running.wire() as wire:
            wire.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            assert closed_without_a_byte(wire.sock)
        with running.wire() as wire:  # a connection that never sends a byte
            assert closed_without_a_byte(wire.sock)


def test_idle_keep_alive_connections_are_closed() -> None:
    with serving(echo, limits=Limits(keepalive_timeout=0.2)) as running, running.wire() as wire:
        wire.send(request("GET", "/"))
        assert decoded(wire.response())["path"] == "/"
        assert wire.read_all() == b""


def test_body_timeout_closes_and_tells_the_app() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            while (await receive())["type"] != "http.disconnect":
                events.append("body")
            events.append("disconnect")

    with serving(app, limits=Limits(body_timeout=0.2)) as running, running.wire() as wire:
        wire.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        assert closed_without_a_byte(wire.sock)
    assert events == ["body", "disconnect"]


def test_websocket_upgrades_are_refused() -> None:
    upgrade = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]
    with serving(echo) as running:
        with running.wire() as wire:
            wire.send(request("GET", "/ws", [*upgrade, ("Sec-WebSocket-Version", "13")]))
            assert wire.read_all().startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert decoded(get(running.port))["path"] == "/"


# -- the app misbehaving --------------------------------------------------------------------


async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/before":
        raise RuntimeError("boom before the response")
    if scope["path"] == "/nothing":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"part", "more_body": True})
    if scope["path"] == "/after":
        raise RuntimeError("boom in the middle")
    if scope["path"] == "/header":
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_app_failures(caplog: pytest.LogCaptureFixture) -> None:
    with serving(faulty) as running:
        for path in ("/before", "/nothing"):
            with running.wire() as wire:
                wire.send(request("GET", path))
                reply = wire.read_all()
            assert reply.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
            assert b"boom" not in reply
        with running.wire() as wire:  # started, then failed: cut off, so the client sees it is incomplete
            wire.send(request("GET", "/after"))
            with pytest.raises(http.client.IncompleteRead):
                wire.response()
        with running.wire() as wire:
            wire.send(request("GET", "/ok"))
            assert wire.response().body == b"part"  # type: ignore[attr-defined]
    assert "boom before the response" in caplog.text


async def sending(scope: Scope, receive: Receive, send: Send) -> None:
    """Awaits what ``send`` hands back in the ways an app may: directly, as a task, gathered, with a timeout."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/bad-header":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-bad", b"a\r\nx-injected: 1")]})
        try:
            await send({"type": "http.response.body", "body": b"never"})
        except ValueError as exc:
            log.error("send refused: %s", exc)
            raise
    headers = [[b"X-List", b"a list pair"], (b"content-type", b"text/plain")]
    await asyncio.ensure_future(send({"type": "http.response.start", "status": 200, "headers": headers}))
    await asyncio.gather(send({"type": "http.response.body", "body": b"one ", "more_body": True}))
    await asyncio.wait_for(send({"type": "http.response.body", "body": b"two"}), 5)


def test_what_send_hands_back_is_awaitable_in_every_way(caplog: pytest.LogCaptureFixture) -> None:
    with serving(sending) as running, running.wire() as wire:
        for _ in range(3):  # the same headers again: their lines come from the cache
            wire.send(request("GET", "/"))
            response = wire.response()
            assert (response.status, response.body) == (200, b"one two")  # type: ignore[attr-defined]
            assert response.getheader("x-list") == "a list pair"
            assert response.getheader("transfer-encoding") == "chunked"
        with running.wire() as bad:  # a header that would break the framing: nothing is sent
            bad.send(request("GET", "/bad-header"))
            assert bad.read_all() == b""
    assert "send refused: invalid response header b'x-bad'" in caplog.text


def test_client_disconnect_reaches_the_app() -> None:
    seen = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            assert (await receive())["type"] == "http.request"
            if (await receive())["type"] == "http.disconnect":
                seen.set()

    with serving(app) as running:
        wire = running.wire()
        wire.send(request("GET", "/"))
        wire.reset()
        assert seen.wait(5)


def test_two_receivers_both_see_the_disconnect() -> None:
    seen: list[str] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await receive()
            seen.extend(message["type"] for message in await asyncio.gather(receive(), receive()))
            done.set()

    with serving(app) as running:
        wire = running.wire()
        wire.send(request("GET", "/"))
        wire.reset()
        assert done.wait(5)
    assert seen == ["http.disconnect", "http.disconnect"]


# -- half-closed clients ----------------------------------------------------------------------


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


def client_done(running: Any) -> bool:
    """The server has seen the client's half-close (and kept the connection to answer)."""
    return any(connection.client_done for connection in list(running.server.state.connections))


def gated(gate: threading.Event) -> Any:
    """An echo app that reads each request whole, then answers only once ``gate`` is set."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        await asyncio.to_thread(gate.wait, 10)
        payload = json.dumps(describe(scope, body)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/stream":
            await send({"type": "http.response.body", "body": payload, "more_body": True})
        await send({"type": "http.response.body", "body": b"" if scope["path"] == "/stream" else payload})

    return app


def test_a_half_closed_client_still_gets_its_answer() -> None:
    gate = threading.Event()
    with serving(gated(gate)) as running, running.wire() as wire:
        wire.send(request("POST", "/upload", body=b"x" * 10_000))
        wire.half_close()
        wait_until(lambda: client_done(running))  # the end of input is seen while the app works
        gate.set()
        seen = decoded(wire.response("POST"))
        assert (seen["method"], seen["path"], seen["body_length"]) == ("POST", "/upload", 10_000)
        assert wire.read_all() == b""  # then the server closes


def test_a_half_close_behind_a_large_body() -> None:
    # Reading pauses while the app holds a large body; the end of input is seen after the answer.
    with serving(echo) as running, running.wire() as wire:
        wire.send(request("POST", "/upload", body=b"x" * 1_000_000))
        wire.half_close()
        assert decoded(wire.response("POST"))["body_length"] == 1_000_000
        assert wire.read_all() == b""


def test_pipelined_requests_before_a_half_close_are_all_answered() -> None:
    gate = threading.Event()
    pipeline = request("POST", "/1", body=b"hello") + request("GET", "/stream") + request("GET", "/3")
    with serving(gated(gate)) as running, running.wire() as wire:
        wire.send(pipeline)
        wire.half_close()
        gate.set()
        answers = [wire.response() for _ in range(3)]
        assert wire.read_all() == b""
    assert [json.loads(a.body)["path"] for a in answers] == ["/1", "/stream", "/3"]  # type: ignore[attr-defined]
    assert answers[1].getheader("transfer-encoding") == "chunked"


def test_a_half_close_between_requests_closes() -> None:
    with serving(echo) as running, running.wire() as wire:
        wire.send(request("GET", "/1"))
        assert decoded(wire.response())["path"] == "/1"
        wire.half_close()
        assert wire.read_all() == b""


@pytest.mark.parametrize(
    "data",
    [b"GET /a HTTP/1.1\r\nHost: te", request("POST", "/a", body=b"0123456789")[:-4]],
    ids=["in the head", "in the body"],
)
def test_an_end_of_input_inside_a_request_closes_without_an_answer(data: bytes) -> None:
    disconnected = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

    with serving(app) as running, running.wire() as wire:
        wire.send(data)
        wire.half_close()
        assert wire.read_all() == b""
    if b"POST" in data:
        assert disconnected.wait(5)  # the app that was reading the body is told


def test_an_end_of_input_inside_a_pipelined_request_ends_the_connection() -> None:
    disconnected = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

    with serving(app) as running, running.wire() as wire:
        wire.send(request("GET", "/whole") + b"GET /b HTTP/1.1\r\nHo")
        wire.half_close()
        assert wire.read_all() == b""
        assert disconnected.wait(5)  # the request in progress learns that its client is gone


# -- the connection check ---------------------------------------------------------------------


def test_a_refused_peer_reads_zero_bytes() -> None:
    checked: list[ConnectionFacts] = []

    def check(facts: ConnectionFacts) -> bool:
        checked.append(facts)
        return False

    with serving(echo, check=check) as running, running.wire() as wire:
        wire.send(request("GET", "/"))
        assert closed_without_a_byte(wire.sock)
    [facts] = checked
    assert facts.peer[0] == "127.0.0.1"
    assert facts.local == ("127.0.0.1", running.port)
    assert facts.source is None


def test_a_failing_check_refuses(caplog: pytest.LogCaptureFixture) -> None:
    def check(facts: ConnectionFacts) -> bool:
        raise ValueError("broken check")

    with serving(echo, check=check) as running:
        for _ in range(2):
            with running.wire() as wire:
                assert closed_without_a_byte(wire.sock)
    assert caplog.text.count("ValueError: broken check") == 1


# -- PROXY protocol ---------------------------------------------------------------------------

TRUSTED = ("127.0.0.1",)  # the proxy in front; other loopback addresses (127.0.0.2) are not


def proxied(versions: ProxyProtocol, *, tls: TlsSettings | None = None) -> ListenerSpec:
    """A PROXY-protocol listener that believes the header from 127.0.0.1 only."""
    return ListenerSpec(LOCAL, tls=tls, proxy_protocol=versions, proxy_protocol_from=TRUSTED)


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


PROXY_CASES = {
    "v1 IPv4": ("v1", v1_header("192.0.2.10", 56324), ["192.0.2.10", 56324]),
    "v1 IPv6": ("v1", v1_header("2001:db8::7", 40000), ["2001:db8::7", 40000]),
    "v2 IPv4": ("v2", v2_header("198.51.100.23", 1234), ["198.51.100.23", 1234]),
    "v2 IPv6": ("any", v2_header("2001:db8::8", 4321), ["2001:db8::8", 4321]),
    "v2 mapped": ("v2", v2_header("::ffff:192.0.2.99", 9), ["192.0.2.99", 9]),
}


@pytest.mark.parametrize("case", list(PROXY_CASES.values()), ids=list(PROXY_CASES))
def test_proxy_protocol_sets_the_client(case: tuple[str, bytes, list[object]]) -> None:
    versions, header, client = case
    checked: list[tuple[str, int] | None] = []

    def check(facts: ConnectionFacts) -> bool:
        checked.append(facts.source)
        return True

    listener = proxied(versions)  # type: ignore[arg-type]
    with serving(echo, listeners=[listener], check=check) as running, running.wire() as wire:
        wire.send(header + request("GET", "/a") + request("GET", "/b"))
        first, second = decoded(wire.response()), decoded(wire.response())
    assert first["client"] == second["client"] == client
    assert first["source"] == client
    assert first["peer"][0] == "127.0.0.1"
    assert checked == [None, tuple(client)]  # the peer first, then the source


@pytest.mark.parametrize("header", [v1_header("8.8.8.8", 4000), v2_header("8.8.8.8", 4000)], ids=["v1", "v2"])
def test_a_proxy_header_from_an_untrusted_peer_is_closed_unread(
    header: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    checked: list[ConnectionFacts] = []
    refused: list[str] = []

    def check(facts: ConnectionFacts) -> bool:
        checked.append(facts)
        return True

    caplog.set_level(logging.WARNING, "stockade.server.http")
    listener = proxied("any")
    with serving(echo, listeners=[listener], check=check, proxy_refused=refused.append) as running:
        name = str(running.listeners[0].spec.address)
        for _ in range(5):
            with running.wire(source="127.0.0.2") as wire:
                wire.send(header + request("GET", "/"))
                assert closed_without_a_byte(wire.sock)
        assert checked == []  # closed before the connection check, let alone a byte of HTTP
        with running.wire() as wire:  # the same header from the trusted proxy is believed
            wire.send(header + request("GET", "/"))
            assert decoded(wire.response())["client"] == ["8.8.8.8", 4000]
    assert refused == [name] * 5
    lines = [r.getMessage() for r in caplog.records if "PROXY header" in r.getMessage()]
    assert lines == [
        f"closed a connection from 127.0.0.2 to {name}: that peer may not send a PROXY header (neither in the"
        " listener's proxy_protocol_from nor in [proxy] trusted); more from it within 60 s are only counted"
    ]


def test_a_proxy_listener_without_trusted_peers_is_not_bound() -> None:
    with pytest.raises(ConfigError) as caught:
        bind_listeners([ListenerSpec(ListenAddress("127.0.0.1", 0), proxy_protocol="v1")])
    assert str(caught.value) == (
        "listener 127.0.0.1:0: proxy_protocol_from: a PROXY header is believed only from the proxies in front:"
        ' name them (proxy_protocol_from = ["10.0.0.5"]) or list them in [proxy] trusted'
    )


def test_proxy_header_sent_in_pieces() -> None:
    header = v2_header("198.51.100.23", 1234)
    with serving(echo, listeners=[proxied("any")]) as running, running.wire() as wire:
        for i in range(0, len(header), 5):
            wire.send(header[i : i + 5])
            time.sleep(0.01)
        wire.send(request("GET", "/"))
        assert decoded(wire.response())["client"] == ["198.51.100.23", 1234]


def test_proxy_local_command_keeps_the_peer() -> None:
    local = V2_SIGNATURE + b"\x20\x00\x00\x00"
    with serving(echo, listeners=[proxied("v2")]) as running, running.wire() as wire:
        wire.send(local + request("GET", "/"))
        seen = decoded(wire.response())
    assert seen["client"][0] == "127.0.0.1"
    assert seen["source"] is None


def test_a_refused_proxy_source_reads_zero_bytes() -> None:
    def check(facts: ConnectionFacts) -> bool:
        return facts.source is None or facts.source[0] != "192.0.2.66"

    with serving(echo, listeners=[proxied("any")], check=check) as running:
        with running.wire() as wire:
            wire.send(v1_header("192.0.2.66", 1000) + request("GET", "/"))
            assert closed_without_a_byte(wire.sock)
        with running.wire() as wire:
            wire.send(v1_header("192.0.2.67", 1000) + request("GET", "/"))
            assert decoded(wire.response())["client"] == ["192.0.2.67", 1000]


@pytest.mark.parametrize(
    "data",
    [
        request("GET", "/"),  # no header at all
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1 99999\r\n" + request("GET", "/"),
        b"PROXY TCP4 " + b"1" * 120 + b"\r\n",
        V2_SIGNATURE + b"\x21\x51\x00\x00" + request("GET", "/"),  # address family 5
    ],
    ids=["plain HTTP", "bad port", "too long", "bad v2 family"],
)
def test_malformed_proxy_headers_are_closed_with_zero_bytes(data: bytes) -> None:
    with serving(echo, listeners=[proxied("any")]) as running, running.wire() as wire:
        wire.send(data)
        assert closed_without_a_byte(wire.sock)


def test_wrong_proxy_version_is_closed() -> None:
    with serving(echo, listeners=[proxied("v1")]) as running, running.wire() as wire:
        wire.send(v2_header("192.0.2.1", 1) + request("GET", "/"))
        assert closed_without_a_byte(wire.sock)


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def tls_get(port: int, context: ssl.SSLContext, server_hostname: str = "example.test") -> dict[str, Any]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as sock,
        Wire(sock) as wire,
    ):
        wire.send(request("GET", "/tls", [("Connection", "close")]))
        return decoded(wire.response())


def test_tls_facts_with_sni_and_a_client_certificate(certificates: Certificates) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key, certificates.ca, "optional")
    with serving(echo, listeners=[ListenerSpec(LOCAL, tls=tls)]) as running:
        assert running.listeners[0].url.startswith("https://127.0.0.1:")
        with_certificate = tls_get(running.port, certificates.client_context(with_certificate=True))
        without = tls_get(running.port, certificates.client_context(with_certificate=False), "localhost")
    assert with_certificate["scheme"] == "https"
    assert with_certificate["tls"] == {
        "sni": "example.test",
        "version": "TLSv1.3",
        "auth": True,
        "ca": "CN=Test CA,O=Stockade Test,C=DE",
    }
    assert without["tls"] == {"sni": "localhost", "version": "TLSv1.3", "auth": False, "ca": None}


def test_tls_required_client_certificate(certificates: Certificates) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key, certificates.ca, "required")
    with serving(echo, listeners=[ListenerSpec(LOCAL, tls=tls)]) as running:
        assert tls_get(running.port, certificates.client_context(with_certificate=True))["tls"]["auth"] is True
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            tls_get(running.port, certificates.client_context(with_certificate=False))


def test_tls_behind_proxy_protocol(certificates: Certificates) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    context = certificates.client_context(with_certificate=False)
    with (
        serving(echo, listeners=[proxied("v1", tls=tls)]) as running,
        socket.create_connection(("127.0.0.1", running.port), timeout=5) as raw,
    ):
        raw.sendall(v1_header("203.0.113.5", 777))
        with context.wrap_socket(raw, server_hostname="example.test") as sock:
            wire = Wire(sock)
            wire.send(request("GET", "/"))
            seen = decoded(wire.response())
            # Left open: stopping the server closes the idle TLS connection without waiting long.
    assert seen["client"] == ["203.0.113.5", 777]
    assert seen["tls"]["sni"] == "example.test"


@pytest.mark.parametrize("ending", ["close_notify", "half_close"])
def test_a_tls_client_done_sending_still_gets_its_answers(certificates: Certificates, ending: str) -> None:
    # asyncio's own SSL transport drops the answers of a client that ends its input after its requests.
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    context = certificates.client_context(with_certificate=False)
    gate = threading.Event()
    with serving(gated(gate), listeners=[ListenerSpec(LOCAL, tls=tls)]) as running:
        with TlsWire(running.port, context) as wire:
            wire.send(request("POST", "/upload", body=b"x" * 10_000))
            wire.close_notify() if ending == "close_notify" else wire.half_close()
            wait_until(lambda: client_done(running))  # the end is seen while the app works
            gate.set()
            data, end = wire.read_all()
        (answer,) = responses(data)
        assert (decoded(answer)["body_length"], decoded(answer)["scheme"]) == (10_000, "https")
        assert end == "close_notify"  # then the server closes properly
        pipeline = request("POST", "/1", body=b"hello") + request("GET", "/stream") + request("GET", "/3")
        with TlsWire(running.port, context) as wire:
            wire.send(pipeline)
            wire.close_notify() if ending == "close_notify" else wire.half_close()
            data, end = wire.read_all()
        assert [json.loads(r.body)["path"] for r in responses(data)] == ["/1", "/stream", "/3"]  # type: ignore[attr-defined]
        assert end == "close_notify"


@pytest.mark.parametrize("ending", ["close_notify", "half_close"])
def test_a_tls_client_done_sending_mid_request_gets_nothing(certificates: Certificates, ending: str) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    with (
        serving(echo, listeners=[ListenerSpec(LOCAL, tls=tls)]) as running,
        TlsWire(running.port, certificates.client_context(with_certificate=False)) as wire,
    ):
        wire.send(request("POST", "/a", body=b"0123456789")[:-3])
        wire.close_notify() if ending == "close_notify" else wire.half_close()
        assert wire.read_all() == (b"", "close_notify")


def test_tls_large_bodies_both_ways(certificates: Certificates) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    body = os.urandom(3_000_000)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        received = await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(0, len(received), 100_000):
            await send({"type": "http.response.body", "body": received[i : i + 100_000], "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    context = certificates.client_context(with_certificate=False)
    with (
        serving(app, listeners=[ListenerSpec(LOCAL, tls=tls)]) as running,
        socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="example.test") as sock,
        Wire(sock) as wire,
    ):
        for _ in range(2):  # twice on one connection: keep-alive under TLS
            wire.send(request("POST", "/echo", body=body))
            response = wire.response("POST")
            assert response.status == 200
            assert response.body == body  # type: ignore[attr-defined]


def test_tls_handshakes_that_stall_or_are_not_tls_are_closed(certificates: Certificates) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    with serving(echo, listeners=[ListenerSpec(LOCAL, tls=tls)], limits=Limits(header_timeout=0.2)) as running:
        with running.wire() as wire:  # never says hello
            assert closed_without_a_byte(wire.sock)
        with running.wire() as wire:
            wire.send(request("GET", "/"))  # plain HTTP on a TLS port
            assert not wire.read_all().startswith(b"HTTP/")
        stalled = running.wire()  # still handshaking when the server stops: dropped, no warning
    assert closed_without_a_byte(stalled.sock)
    stalled.close()


def test_tls_slow_reader_keeps_the_server_buffer_bounded(certificates: Certificates) -> None:
    tls = TlsSettings(certificates.server_cert, certificates.server_key)
    produced = [0]
    chunk = b"x" * 65536
    total = 30 * MIB

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", str(total).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(total // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            produced[0] += len(chunk)
        await send({"type": "http.response.body", "body": b""})

    context = certificates.client_context(with_certificate=False)
    with serving(app, listeners=[ListenerSpec(LOCAL, tls=tls)]) as running:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        raw.connect(("127.0.0.1", running.port))
        raw.settimeout(10)
        with context.wrap_socket(raw, server_hostname="example.test") as sock, Wire(sock) as wire:
            wire.send(request("GET", "/", [("Connection", "close")]))
            read = len(wire.file.read(MIB))
            time.sleep(0.5)  # a stalled reader: without back-pressure the app would produce all 30 MB by now
            assert produced[0] - read < 12 * MIB
            rest = wire.file.read()
    assert read + len(rest) > total
    assert produced[0] == total


def test_bad_certificate_fails_before_binding(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    with pytest.raises(TlsSetupError, match="cannot load the TLS certificate or key"):
        bind_listeners([ListenerSpec(LOCAL, tls=TlsSettings(tmp_path / "cert.pem", tmp_path / "cert.pem"))])


# -- closing without an answer ------------------------------------------------------------------


def test_facts_close_mid_request_sends_nothing() -> None:
    reached = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()  # the first piece of the body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        reached.set()
        scope["extensions"]["stockade"].close()
        await send({"type": "http.response.body", "body": b"never seen"})

    with serving(app) as running, running.wire() as wire:
        wire.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nfirst piece")
        assert reached.wait(5)
        assert closed_without_a_byte(wire.sock)


# -- flow control --------------------------------------------------------------------------------

MIB = 1024 * 1024


def test_slow_reader_keeps_the_server_buffer_bounded() -> None:
    produced = [0]
    chunk = b"x" * 65536
    total = 50 * MIB

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(total).encode())]}
        )
        for _ in range(total // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            produced[0] += len(chunk)
        await send({"type": "http.response.body", "body": b""})

    with serving(app) as running:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.connect(("127.0.0.1", running.port))
        sock.settimeout(10)
        with Wire(sock) as wire:
            wire.send(request("GET", "/", [("Connection", "close")]))
            read = len(wire.file.read(MIB))
            time.sleep(0.5)  # a stalled reader: without back-pressure the app would produce all 50 MB by now
            assert produced[0] - read < 12 * MIB
            rest = wire.file.read()
    assert read + len(rest) > total  # the headers and the whole body
    assert produced[0] == total


def test_slow_app_keeps_the_request_buffer_bounded() -> None:
    sizes: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while True:
            await asyncio.sleep(0.002)
            message = await receive()
            sizes.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    body = b"y" * (50 * MIB)
    with serving(app) as running, running.wire(timeout=30) as wire:
        wire.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        wire.send(body)
        assert wire.response().status == 204
    assert sum(sizes) == len(body)
    assert max(sizes) <= 512 * 1024  # the 64 KiB high-water mark plus one socket read


# -- lifespan and access log ----------------------------------------------------------------------


def test_lifespan_state_and_startup_failure() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["ready"] = "yes"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await echo(scope, receive, send)

    with serving(app) as running:
        assert decoded(get(running.port))["state"] == {"ready": "yes"}

    async def refusing(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no store"})

    with pytest.raises(StartupFailed, match="the application failed to start: no store"), serving(refusing):
        pass


def test_access_log(tmp_path: Path) -> None:
    entries: list[AccessEntry] = []
    with serving(echo, access_log=entries.append) as running:
        get(running.port, "/a?b=1")
        with running.wire() as wire:
            wire.send(b"bad\r\n\r\n")
            wire.read_all()
    [entry] = entries  # the server's own 400 is not the app's response
    assert (entry.client, entry.method, entry.path, entry.status) == ("127.0.0.1", "GET", "/a?b=1", 200)
    assert entry.bytes > 0
    assert entry.duration_ms >= 0
    assert entry.listener == f"127.0.0.1:{running.port}"
    log = JsonLinesLog.open(tmp_path / "access.jsonl")
    log(AccessEntry(1_800_000_000.5, "192.0.2.1", "GET", "/é", 200, 12, 1.23456, "127.0.0.1:80"))
    log.close()
    line = (tmp_path / "access.jsonl").read_text()
    assert json.loads(line) == {
        "time": "2027-01-15T08:00:00.500Z",
        "client": "192.0.2.1",
        "method": "GET",
        "path": "/é",
        "status": 200,
        "bytes": 12,
        "duration_ms": 1.235,
        "listener": "127.0.0.1:80",
    }


# -- signals, reload and workers (real processes) ---------------------------------------------------
# ``serve`` itself: SIGTERM's drain and SIGHUP's reload on both engines (the ``engine`` fixture).

SERVE_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from stockade.server.run import serve

    def reload(app):
        sys.stdout.write(f"reloaded {os.getpid()}\\n")  # one write: two workers share the pipe
        sys.stdout.flush()
        if os.environ.get("FAIL_RELOAD"):
            raise RuntimeError("the new configuration is broken")

    serve(sys.argv[1], workers=int(sys.argv[2]), reload=reload)
    """
)


@pytest.fixture
def spawn(site: Site) -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []

    def start(
        workers: int = 1, *, fail_reload: bool = False, engine: str = "python"
    ) -> tuple[subprocess.Popen[str], int]:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "STOCKADE_ENGINE": engine}
        if fail_reload:
            env["FAIL_RELOAD"] = "1"
        if workers > 1:
            env["STOCKADE_ENGINE"] = "python"  # worker processes are the Python engine's (native: threads)
        command = [sys.executable, "-c", SERVE_SCRIPT, str(site.write_config(audit=False)), str(workers)]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("stockade: listening on http://127.0.0.1:"), (line, process.stderr)
        return process, int(line.rstrip().rstrip("/").rsplit(":", 1)[1])

    yield start
    for process in processes:
        # SIGKILL the whole session: a failed test must not leave its worker processes behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def children_of(pid: int, count: int, *, without: int = 0) -> set[int]:
    """The child processes of ``pid`` once there are ``count`` of them (none of them ``without``)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        children = {int(p) for p in text.split()}
        if len(children) == count and without not in children:
            return children
        time.sleep(0.05)
    raise AssertionError(f"{pid} has children {children}, not {count}")


def wait_ready(port: int) -> None:
    assert get(port).status == 200


@pytest.mark.slow
def test_sigterm_drains_a_request_in_flight(site: Site, spawn: Any, engine: str) -> None:
    data = os.urandom(20 * MIB)
    (site.docroot / "big.bin").write_bytes(data)
    process, port = spawn(engine=engine)
    wait_ready(port)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(20)
    with Wire(sock) as wire:
        wire.send(request("GET", "/big.bin"))
        start = wire.file.read(65536)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert process.poll() is None  # still serving the download
        rest = wire.file.read()
    head, _, body = (start + rest).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == data
    assert process.wait(timeout=20) == 0


@pytest.mark.slow
def test_sighup_reloads_and_a_failed_reload_keeps_serving(spawn: Any, engine: str) -> None:
    process, port = spawn(fail_reload=True, engine=engine)
    wait_ready(port)
    process.send_signal(signal.SIGHUP)
    assert process.stdout.readline() == f"reloaded {process.pid}\n"
    wait_ready(port)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert "the new configuration is broken" in process.stderr.read()


@pytest.mark.slow
def test_two_workers_reload_and_are_replaced(spawn: Any) -> None:
    process, port = spawn(workers=2)
    wait_ready(port)

    def reloaded_pids() -> set[int]:
        process.send_signal(signal.SIGHUP)
        return {int(process.stdout.readline().split()[1]) for _ in range(2)}

    workers = children_of(process.pid, 2)
    assert reloaded_pids() == workers
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    replaced = children_of(process.pid, 2, without=victim)
    # The replacement blocks signals until its loop handles them: SIGHUP reaches it either way.
    assert reloaded_pids() == replaced
    assert workers - {victim} < replaced
    wait_ready(port)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
