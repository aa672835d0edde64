"""The apps of the body tests (``test_bodies.py``), each run by a real server in a process of its own.

``asgi`` (under uvicorn) and ``wsgi`` (under gunicorn) put the middleware in front of an
echo: it reads the whole body as it streams and answers JSON with its size and SHA-256, its
process id (and, under WSGI, the type of ``wsgi.input``). ``/unread`` answers without reading the body. Paths
under ``/off/`` go through a middleware whose configuration has detection off
(``BODY_TEST_CONFIG_OFF``); the others through one with it on (``BODY_TEST_CONFIG``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from stockade.adapters.asgi import StockadeMiddleware
from stockade.adapters.wsgi import StockadeWSGI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]

PIECE = 64 * 1024


async def _answer(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def echo_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here: the middleware speaks it")
    if scope["path"].endswith("/unread"):
        await _answer(send, b'{"unread": true}')
        return
    digest = hashlib.sha256()
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        piece = message.get("body", b"")
        digest.update(piece)
        size += len(piece)
        if not message.get("more_body", False):
            break
    await _answer(send, json.dumps({"body_size": size, "body_sha256": digest.hexdigest(), "pid": os.getpid()}).encode())


def echo_wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    kind = type(stream).__name__
    digest = hashlib.sha256()
    size = 0
    if not environ["PATH_INFO"].endswith("/unread"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        terminated = bool(environ.get("wsgi.input_terminated")) and not environ.get("CONTENT_LENGTH")
        while terminated or size < length:
            piece = stream.read(PIECE if terminated else min(PIECE, length - size))
            if not piece:
                break
            digest.update(piece)
            size += len(piece)
    body_json = {"body_size": size, "body_sha256": digest.hexdigest(), "input": kind, "pid": os.getpid()}
    body = json.dumps(body_json).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


_on_asgi = StockadeMiddleware(echo_asgi, os.environ["BODY_TEST_CONFIG"])
_off_asgi = StockadeMiddleware(echo_asgi, os.environ["BODY_TEST_CONFIG_OFF"])
_on_wsgi = StockadeWSGI(echo_wsgi, os.environ["BODY_TEST_CONFIG"])
_off_wsgi = StockadeWSGI(echo_wsgi, os.environ["BODY_TEST_CONFIG_OFF"])


async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith("/off/"):
        await _off_asgi(scope, receive, send)
        return
    await _on_asgi(scope, receive, send)


def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ["PATH_INFO"].startswith("/off/"):
        return _off_wsgi(environ, start_response)
    return _on_wsgi(environ, start_response)
