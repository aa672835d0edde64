"""The upstream of the proxy tests (``app``), run under uvicorn in a process of its own:

- ``/echo`` (any method, any suffix): reads the body as it streams and answers JSON with the
  method, path, raw path, query, headers, body size and SHA-256, the peer (the proxy's port:
  several requests on one keep-alive connection share it) and the HTTP version.
- ``/download?size=N``: N bytes of :func:`pattern` in 64 KiB pieces, chunked (``&length=1``:
  with a Content-Length); stops when the proxy disconnects and counts that in ``/stats``.
- ``/chunked?parts=N``: N pieces of growing size, chunked, ``part 0 .. part N-1``.
- ``/slow?delay=S``: answers ``slow`` after S seconds, unless the proxy disconnects first
  (counted in ``/stats``).
- ``/truncated``: announces 100 000 bytes, sends half, then fails (uvicorn drops the connection).
- ``/hop``: answers with hop-by-hop headers next to an end-to-end one.
- ``/close``: answers with ``Connection: close``.
- ``/stats``: the counters as JSON.

The front under test is :mod:`tests.integration.native_front`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PIECE = 64 * 1024
_BLOCK = hashlib.sha256(b"stockade").digest() * (PIECE // 32)

STATS: dict[str, int] = {"downloads": 0, "downloads_finished": 0, "downloads_aborted": 0, "slow_abandoned": 0}


def pattern(size: int) -> bytes:
    """The first ``size`` bytes of the download pattern (for tests that check small ones)."""
    whole, rest = divmod(size, PIECE)
    return _BLOCK * whole + _BLOCK[:rest]


def pattern_sha256(size: int) -> str:
    digest = hashlib.sha256()
    whole, rest = divmod(size, PIECE)
    for _ in range(whole):
        digest.update(_BLOCK)
    digest.update(_BLOCK[:rest])
    return digest.hexdigest()


async def _json(send: Send, payload: object, status: int = 200, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _text(send: Send, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    digest = hashlib.sha256()
    size = 0
    pieces = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        body = message.get("body", b"")
        digest.update(body)
        size += len(body)
        pieces += 1
        if not message.get("more_body", False):
            break
    await _json(
        send,
        {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
            "body_size": size,
            "body_sha256": digest.hexdigest(),
            "client": list(scope["client"]),
            "http_version": scope["http_version"],
        },
    )


async def _download(query: dict[str, list[str]], receive: Receive, send: Send) -> None:
    size = int(query["size"][0])
    headers = [(b"content-type", b"application/octet-stream")]
    if query.get("length"):
        headers.append((b"content-length", str(size).encode()))
    STATS["downloads"] += 1
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        left = size
        while left > 0:
            if gone.is_set():
                STATS["downloads_aborted"] += 1
                return
            piece = _BLOCK if left >= PIECE else _BLOCK[:left]
            left -= len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            # uvicorn's send returns at once once the peer is gone: let the watcher run.
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})
        STATS["downloads_finished"] += 1
    finally:
        watcher.cancel()


async def _slow(delay: float, receive: Receive, send: Send) -> None:
    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.create_task(disconnected())
    done, _ = await asyncio.wait([watcher], timeout=delay)
    if done:
        STATS["slow_abandoned"] += 1  # the proxy gave up on this request and closed the connection
        return
    watcher.cancel()
    await _text(send, b"slow")


async def _chunked(query: dict[str, list[str]], send: Send) -> None:
    parts = int(query.get("parts", ["5"])[0])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for i in range(parts):
        await send({"type": "http.response.body", "body": b"part %d " % i + b"x" * (i * 1000), "more_body": True})
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b""})


async def _truncated(send: Send) -> None:
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", b"100000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"t" * 50000, "more_body": True})
    raise RuntimeError("the test upstream fails mid-body on purpose")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The test upstream."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path: str = scope["path"]
    query = parse_qs(scope["query_string"].decode("latin-1"))
    if path.startswith("/echo") or path.startswith("/base/echo"):
        await _echo(scope, receive, send)
    elif path == "/download":
        await _download(query, receive, send)
    elif path == "/chunked":
        await _chunked(query, send)
    elif path == "/slow":
        await _slow(float(query.get("delay", ["0.8"])[0]), receive, send)
    elif path == "/truncated":
        await _truncated(send)
    elif path == "/hop":
        await _text(
            send,
            b"hop",
            (b"connection", b"x-secret-hop"),
            (b"x-secret-hop", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authenticate", b"Basic"),
            (b"trailer", b"x-checksum"),
            (b"x-end-to-end", b"yes"),
        )
    elif path == "/close":
        await _text(send, b"closing", (b"connection", b"close"))
    elif path == "/stats":
        await _json(send, STATS)
    else:
        await _json(send, {"error": "not found"}, 404)
