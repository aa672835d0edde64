"""The ASGI and WSGI adapters fill RequestFacts the same way, from real requests over sockets."""

from __future__ import annotations

import http.client
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import uvicorn

from stockade.conditions import compile_condition
from stockade.core.facts import RequestFacts
from stockade.request.asgi import address_of, facts_from_asgi
from stockade.request.wsgi import facts_from_wsgi

NOW = 1_800_000_000.0
CONDITIONS = [
    'req_host_in("shop.example.com")',
    'req_path_prefix_in("/café/", false)',
    'req_path_in("/café/items", false)',
    'req_query_key_in("q") && req_query_value_in("page", "2", false)',
    'req_header_value_contain("User-Agent", "curl", true)',
    'req_header_key_in("X-Custom")',
    'req_cookie_value_in("session", "abc", false)',
    'req_method_in("POST")',
    'req_port_in("8443")',
    'req_proto_match("HTTP/1.1")',
    'req_cip_range("127.0.0.1", "127.0.0.1")',
    "req_proto_secure()",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def asgi_facts() -> Iterator[tuple[int, queue.Queue[RequestFacts]]]:
    seen: queue.Queue[RequestFacts] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        seen.put(facts_from_asgi(scope, now=NOW))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield port, seen
    server.should_exit = True
    thread.join(10)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def wsgi_facts() -> Iterator[tuple[int, queue.Queue[RequestFacts]]]:
    seen: queue.Queue[RequestFacts] = queue.Queue()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.put(facts_from_wsgi(environ, now=NOW))
        start_response("204 No Content", [])
        return []

    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, seen
    server.shutdown()
    server.server_close()


def send(port: int, method: str, target: str, headers: dict[str, str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        assert connection.getresponse().status == 204
    finally:
        connection.close()


REQUEST = (
    "POST",
    "/caf%C3%A9/items?q=shoes&page=2",
    {
        "Host": "shop.example.com:8443",
        "User-Agent": "curl/8.5",
        "X-Custom": "1",
        "Cookie": "session=abc; lang=en",
        "Content-Length": "0",
        # wsgiref invents CONTENT_TYPE=text/plain when the header is absent: send one.
        "Content-Type": "application/json",
    },
)


def test_the_same_request_gives_the_same_facts(
    asgi_facts: tuple[int, queue.Queue[RequestFacts]], wsgi_facts: tuple[int, queue.Queue[RequestFacts]]
) -> None:
    (asgi_port, asgi_seen), (wsgi_port, wsgi_seen) = asgi_facts, wsgi_facts
    send(asgi_port, *REQUEST)
    send(wsgi_port, *REQUEST)
    a, w = asgi_seen.get(timeout=10), wsgi_seen.get(timeout=10)
    fields = ("method", "host", "path", "query", "proto", "client_ip", "remote_ip", "secure")
    assert {f: getattr(a, f) for f in fields} == {f: getattr(w, f) for f in fields}
    assert (a.path, a.query, a.host_name, a.port) == ("/café/items", "q=shoes&page=2", "shop.example.com", "8443")
    assert a.uri == "/caf%C3%A9/items?q=shoes&page=2"  # the raw request-target (wsgiref has no RAW_URI)
    assert a.header_map == w.header_map
    assert a.cookies == w.cookies == {"session": "abc", "lang": "en"}
    for text in CONDITIONS:
        condition = compile_condition(text)
        assert condition(a) is condition(w), text
    assert [compile_condition(text)(a) for text in CONDITIONS] == [True] * 11 + [False]


def test_addresses_are_normalised() -> None:
    assert address_of(("::ffff:10.0.0.1", 80)) == "10.0.0.1"
    assert address_of(("2001:db8::1", 80)) == "2001:db8::1"
    assert address_of(("", 0)) is None
    assert address_of(None) is None
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": ("::ffff:10.0.0.1", 5)}
    facts = facts_from_asgi(scope, now=NOW)
    assert (facts.client_ip, facts.remote_ip) == ("10.0.0.1", "10.0.0.1")
    assert facts_from_asgi(scope, now=NOW, client_ip="203.0.113.9").client_ip == "203.0.113.9"
    secure = facts_from_asgi({**scope, "scheme": "https", "http_version": "2"}, now=NOW)
    assert (secure.secure, secure.session_proto, secure.protocol) == (True, "h2", "h2")
