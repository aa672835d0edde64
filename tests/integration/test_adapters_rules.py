"""mod_block rules in the ASGI and WSGI middleware, over real sockets: a rule on the host, a header
or the user agent decides the same whether the rules' index or the full facts answer."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import uvicorn

from stockade.adapters.asgi import StockadeMiddleware
from stockade.adapters.wsgi import StockadeWSGI

RULES = [
    ("agent", 'req_ua_regmatch("(?i)sqlmap|nikto")'),
    ("host", 'req_host_in("evil.example")'),
    ("scanner", 'req_header_key_in("X-Scanner")'),
    ("type", 'req_header_value_in("Content-Type", "text/evil", false)'),
    ("admin", 'req_path_prefix_in("/admin/", false) && req_method_in("DELETE")'),
]
CLEAN = {"Host": "shop.example", "User-Agent": "Mozilla/5.0", "Content-Type": "text/plain"}
BLOCKED = [
    ("GET", "/", {**CLEAN, "User-Agent": "sqlmap/1.7"}),
    ("GET", "/", {**CLEAN, "User-Agent": "Mozilla/5.0 NIKTO"}),
    ("GET", "/", {**CLEAN, "Host": "EVIL.example:8080"}),
    ("GET", "/", {**CLEAN, "X-Scanner": "1"}),
    ("POST", "/", {**CLEAN, "Content-Type": "text/evil", "Content-Length": "0"}),
    ("DELETE", "/admin/users", CLEAN),
]
PASSED = [("GET", "/", CLEAN), ("GET", "/admin/users", CLEAN), ("DELETE", "/users", CLEAN)]


def config(tmp_path: Path) -> Path:
    rules = [{"Name": n, "Cond": c, "Action": {"Cmd": "CLOSE", "Params": []}} for n, c in RULES]
    (tmp_path / "rules.data").write_text(json.dumps({"Version": "1", "Config": {"web": rules}}))
    (tmp_path / "blocklist.data").write_text("192.0.2.99\n")
    path = tmp_path / "stockade.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path}/s.db"\n\n[block]\nrules = "rules.data"\n'
        'ip_blocklist = "blocklist.data"\nclose_status = 451\nhosts = { default_product = "web" }\n'
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def hello(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def hello_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def asgi_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    app = StockadeMiddleware(hello, config(tmp_path))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def wsgi_port(tmp_path: Path) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, StockadeWSGI(hello_wsgi, config(tmp_path)), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def status(port: int, method: str, target: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_rules_on_host_headers_and_agent_decide_in_the_middleware(kind: str, request: pytest.FixtureRequest) -> None:
    port: int = request.getfixturevalue(f"{kind}_port")
    assert [status(port, *one) for one in BLOCKED] == [451] * len(BLOCKED)
    assert [status(port, *one) for one in PASSED] == [200] * len(PASSED)
