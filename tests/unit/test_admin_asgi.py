"""AdminApp as an ASGI app, driven without a server: lifespan, other scopes, bodies in pieces."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from typing import Any

import pytest

import stockade.config  # noqa: F401  (loads stockade.server.settings without an import cycle)
from stockade import AsyncGuard, ManualClock
from stockade.admin import AdminApp
from stockade.admin.http import ApiError, BearerToken, port, seconds
from stockade.core.lockout import LockoutPolicy
from stockade.engine import DirectorySettings, GuardSettings
from stockade.metrics import Metrics
from stockade.server.settings import AdminSettings
from stockade.stores import MemoryStore, OffloadedStore

TOKEN = "t0ken"
AUTH = [(b"authorization", f"Bearer {TOKEN}".encode())]


def make_app() -> AdminApp:
    settings = GuardSettings(directories=(DirectorySettings("/secure", LockoutPolicy()),))
    guard = AsyncGuard(settings, OffloadedStore(MemoryStore(), threaded=False), clock=ManualClock(1_800_000_000.0))
    return AdminApp(guard, AdminSettings(token=TOKEN), metrics=Metrics(process=False))


def call(
    app: AdminApp,
    method: str,
    path: str,
    messages: Sequence[dict[str, Any]] = ({"type": "http.request", "body": b""},),
    headers: Sequence[tuple[bytes, bytes]] = AUTH,
) -> list[dict[str, Any]]:
    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": list(headers)}
    incoming = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_body_in_pieces() -> None:
    pieces = [b'{"user": "al', b'ice", "dir": "/sec', b'ure"}']
    messages = [{"type": "http.request", "body": p, "more_body": i < 2} for i, p in enumerate(pieces)]
    sent = call(make_app(), "POST", "/users/block", messages)
    assert sent[0]["status"] == 200
    assert [e["user"] for e in json.loads(sent[1]["body"])["blocked"]] == ["alice"]


def test_a_client_that_leaves_gets_no_answer() -> None:
    messages = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    assert call(make_app(), "POST", "/users/block", messages) == []


def test_lifespan_and_other_scopes() -> None:
    app = make_app()
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    sent.clear()
    asyncio.run(app({"type": "websocket", "path": "/status"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_headers_of_an_answer() -> None:
    sent = call(make_app(), "GET", "/status", headers=[])
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 401
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"www-authenticate"] == b'Bearer realm="stockade admin"'
    assert headers[b"cache-control"] == b"no-store"
    assert int(headers[b"content-length"]) == len(sent[1]["body"])


def test_the_token_is_kept_as_a_digest() -> None:
    token = BearerToken("hunter2")
    assert repr(token) == "BearerToken(***)"
    assert repr(BearerToken("")) == "BearerToken(unset)"
    assert "hunter2" not in repr(make_app())
    token.check([(b"Authorization", b"Bearer hunter2")])


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (65535, 65535), (8080.0, 8080), ("443", 443)])
def test_ports(value: object, expected: int) -> None:
    assert port(value) == expected


@pytest.mark.parametrize("value", [-1, 65536, 8080.5, True, "", "08x", "123456", None, float("inf")])
def test_bad_ports(value: object) -> None:
    with pytest.raises(ApiError, match="invalid port"):
        port(value)


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0.0), (1.5, 1.5), ("infinity", math.inf), (" Infinity ", math.inf)]
)
def test_seconds(value: object, expected: object) -> None:
    assert seconds(value) == expected


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), 1e300, "1", True, None, [1]])
def test_bad_seconds(value: object) -> None:
    with pytest.raises(ApiError, match="invalid seconds"):
        seconds(value)
