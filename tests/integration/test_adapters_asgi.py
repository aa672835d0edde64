"""The ASGI middleware under uvicorn: mounted twice it counts once, websockets are checked,
mod_block CLOSE is answered with close_status, an app without lifespan works too."""

from __future__ import annotations

import json
import socket
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.integration.test_adapters_examples import BIN, Client, free_port, running

pytestmark = pytest.mark.slow

APP = """\
import os
from stockade.adapters.asgi import StockadeMiddleware

async def hello(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    status = 404 if scope["path"] != "/" else 200
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"6")]})
    await send({"type": "http.response.body", "body": b"hello\\n"})

config = os.environ["STOCKADE_CONFIG"]
once = StockadeMiddleware(hello, config)
twice = StockadeMiddleware(StockadeMiddleware(hello, config), config)
"""

CONFIG = """\
[store]
url = "sqlite:///stockade.db"

[proxy]
trusted = ["127.0.0.1"]

[bans]
malicious_req_threshold = 5
block_duration = 600

[block]
rules = "rules.data"
ip_blocklist = "blocklist.data"
close_status = 451
hosts = { default_product = "web" }
"""

RULE = {"Name": "no_evil", "Cond": 'req_path_prefix_in("/evil", false)', "Action": {"Cmd": "CLOSE", "Params": []}}
RULES = json.dumps({"Version": "1", "Config": {"global": [RULE]}})


def write_site(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "stockade.toml").write_text(CONFIG)
    (tmp_path / "rules.data").write_text(RULES)
    (tmp_path / "blocklist.data").write_text("192.0.2.99\n")
    return {"STOCKADE_CONFIG": str(tmp_path / "stockade.toml")}


def serve(tmp_path: Path, app: str, *lifespan: str) -> AbstractContextManager[Client]:
    port = free_port()
    command = [str(BIN / "uvicorn"), app, "--port", str(port), "--no-proxy-headers", "--log-level", "warning"]
    return running([*command, *lifespan], tmp_path, write_site(tmp_path), port)


@pytest.mark.parametrize("app", ["app:once", "app:twice"])
def test_mounted_twice_counts_each_probe_once(tmp_path: Path, app: str) -> None:
    with serve(tmp_path, app) as client:
        scanner = "203.0.113.9"
        for _ in range(4):
            assert client.request("GET", "/.env", client=scanner).status == 404
        assert client.request("GET", "/", client=scanner).status == 200  # 4 strikes, not 8
        client.request("GET", "/.env", client=scanner)
        assert client.request("GET", "/", client=scanner).status == 403


def test_close_is_answered_with_close_status_and_no_body(tmp_path: Path) -> None:
    with serve(tmp_path, "app:once") as client:
        answer = client.request("GET", "/evil/thing")
        assert answer.status == 451
        assert answer.headers["connection"] == "close"
        assert answer.body == b""
        assert client.request("GET", "/").status == 200
        listed = client.request("GET", "/", client="192.0.2.99")  # on the IP blocklist
        assert (listed.status, listed.body) == (451, b"")


def test_a_banned_client_cannot_open_a_websocket(tmp_path: Path) -> None:
    with serve(tmp_path, "app:once", "--lifespan", "off") as client:  # no lifespan: opened at first request
        assert websocket_status(client, "198.51.100.3") == 101
        for _ in range(5):
            client.request("GET", "/.env", client="198.51.100.4")
        assert websocket_status(client, "198.51.100.4") == 403


def websocket_status(client: Client, ip: str) -> int:
    with socket.create_connection(("127.0.0.1", client.port), timeout=30) as sock:
        sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"X-Forwarded-For: " + ip.encode() + b"\r\n\r\n"
        )
        line = sock.makefile("rb").readline()
    return int(line.split()[1])
