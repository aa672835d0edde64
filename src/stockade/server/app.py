"""The protecting server as a plain ASGI application (run by uvicorn with httptools).

Each request is normalised once (:mod:`stockade.server.paths`); the protected directory
is found and authenticated before the file system is touched, so a request can learn
nothing about protected files without credentials. No input can produce a 500: every
request is answered inside a guard that logs and answers 500 only for true internal bugs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from stockade.clock import Clock, SystemClock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.engine.audit import AuditLog
from stockade.engine.events import EventSink
from stockade.errors import StockadeError, StoreError
from stockade.server import files, responses
from stockade.server.asgi import Message, Receive, Scope, Send
from stockade.server.listen import ListenAddress
from stockade.server.listeners import ListenerMap, decode_listeners, normalize_ip
from stockade.server.paths import BadPath, normalize_path
from stockade.server.protect import DirectoryGate, Request
from stockade.stores import open_async_store, open_directory_stores

log = logging.getLogger("stockade.server")

CONFIG_ENV = "STOCKADE_CONFIG"
LISTENERS_ENV = "STOCKADE_LISTENERS"
_URL_SAFE = "/!$&'()*+,;=:@-._~"


class StockadeApp:
    """Static files and Basic-auth directories with login lockout, from one :class:`Config`.

    ``listen`` are the addresses actually bound (real ports, not ``:0``); the lockout
    keys of each request use the one that accepted it. The guard and its store are opened
    at lifespan startup, so each worker process opens its own store connection.
    """

    def __init__(self, config: Config, *, clock: Clock | None = None, listen: Sequence[ListenAddress] = ()) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.listen = tuple(listen) or config.listen
        self.listeners = ListenerMap(self.listen)
        self.root = config.document_root
        self.gates = {d.path: DirectoryGate(d, self.clock) for d in config.directories}
        self.guard: AsyncGuard | None = None
        self.startup_error: Exception | None = None
        self._opening = asyncio.Lock()
        self._housekeeping: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> AsyncGuard:
        """Open the store and the guard (idempotent)."""
        async with self._opening:
            if self.guard is None:
                self.guard = await asyncio.to_thread(self._open_guard)
                self._housekeeping = asyncio.create_task(self._sweep_periodically(self.guard))
            return self.guard

    async def _sweep_periodically(self, guard: AsyncGuard) -> None:
        """Expired records go and ended blocks report ``user_unblock`` even with only clean traffic.

        The request paths sweep too, but a clean login is answered from the local view and
        never waits for housekeeping.
        """
        while True:
            await asyncio.sleep(guard.settings.sweep_interval)
            try:
                await guard.sweep()
            except StoreError as exc:
                guard.health.failed(exc, "open")

    def _open_guard(self) -> AsyncGuard:
        settings = dataclasses.replace(self.config.guard_settings(), listeners=tuple(a.listener for a in self.listen))
        sinks: list[EventSink] = []
        if self.config.audit_json is not None or self.config.audit_text is not None:
            sinks.append(AuditLog(self.config.audit_json, self.config.audit_text))
        config = self.config
        store = open_async_store(config.store_url, config.base)
        own = open_directory_stores(store, config.store_url, config.directory_store_urls, open_async_store)
        return AsyncGuard(settings, store, clock=self.clock, sinks=sinks, directory_stores=own)

    async def shutdown(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            self._housekeeping = None
        guard, self.guard = self.guard, None
        if guard is not None:
            await guard.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except (StockadeError, OSError) as exc:
                    self.startup_error = exc
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._http(scope, tracked)
        except Exception:  # the "never a 500" promise: isolate bugs, log them, answer if still possible
            log.exception("internal error answering %s %r", scope.get("method"), scope.get("raw_path"))
            if not started:
                await responses.send_response(send, responses.internal_error())

    async def _http(self, scope: Scope, send: Send) -> None:
        method: str = scope["method"]
        head = method == "HEAD"
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw_path = raw_path.split(b"?", 1)[0]
        try:
            path = normalize_path(raw_path)
        except BadPath as exc:
            await responses.send_response(send, responses.bad_request(str(exc)), head=head)
            return
        try:
            guard = self.guard or await self.startup()
        except StoreError:
            await responses.send_response(send, responses.unavailable(), head=head)
            return
        directory = guard.protecting(path)
        if directory is not None:
            refusal = await self.gates[directory.path].check(guard, self._request(scope, method, raw_path, path))
            if refusal is not None:
                await responses.send_response(send, refusal, head=head)
                return
        if method not in ("GET", "HEAD"):
            await responses.send_response(send, responses.method_not_allowed(), head=head)
            return
        await self._serve_file(path, send, head=head)

    def _request(self, scope: Scope, method: str, raw_path: bytes, path: str) -> Request:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        query: bytes = scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        client = scope.get("client")
        return Request(
            path=path,
            authorization=[value for name, value in headers if name == b"authorization"],
            client=normalize_ip(str(client[0])) if client else "",
            listener=self.listeners.lookup(scope.get("server")),
            line=f"{method} {target} HTTP/{scope.get('http_version', '1.1')}",
        )

    async def _serve_file(self, path: str, send: Send, *, head: bool) -> None:
        found = None if self.root is None else await asyncio.to_thread(files.lookup, self.root, path)
        if found is None:
            await responses.send_response(send, responses.not_found(), head=head)
            return
        if isinstance(found, files.Redirect):
            await responses.send_response(send, responses.redirect(quote(found.location, safe=_URL_SAFE)), head=head)
            return
        handle = None if head else await files.open_file(found.path)
        if handle is None and not head:
            await responses.send_response(send, responses.not_found())
            return
        headers = [(b"content-type", found.content_type.encode()), (b"content-length", str(found.size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if handle is not None:
            async for chunk in files.read_chunks(handle, found.size):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def app_from_env() -> StockadeApp:
    """The application of a worker process: config path and bound listeners from the environment.

    ``stockade serve --workers N`` sets ``STOCKADE_CONFIG`` and ``STOCKADE_LISTENERS``
    before it starts uvicorn's process supervisor, which calls this factory in each worker.
    """
    config = load_config(Path(os.environ[CONFIG_ENV]))
    listen = decode_listeners(os.environ.get(LISTENERS_ENV, ""))
    return StockadeApp(config, listen=listen)
