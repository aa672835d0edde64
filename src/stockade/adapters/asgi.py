"""ASGI middleware: the guard in front of any ASGI application (Starlette, FastAPI, Django ASGI...).

Every ``http`` and ``websocket`` scope goes through the checks
(:class:`~stockade.engine._async.ladder.AsyncLadder`) before the app sees it, exactly as in
the protecting server: the canonical request is built (:mod:`stockade.request`) and the
scope becomes it, so the app routes exactly the path, host and headers the checks read;
then bans, mod_block, detection and the lockout directories. When detection inspects the
request, the first ``[bans] body_limit`` bytes of its body are read before the checks
decide, and the app receives them and the rest of the body as the server sends it
(:mod:`stockade.request.body`). The middleware answers refusals itself. The
connection-level IP blocklist is checked on the client the guard believes (the peer, or
the client a trusted proxy names), once a request. A mod_block ``CLOSE`` cannot drop the
connection from inside an app, so it is answered with ``[block] close_status`` (403 by
default), ``Connection: close`` and no body.

Each ``http`` request first meets the native ladder
(:meth:`stockade._native.NativeLadder.asgi`, built by
:func:`stockade.server.native_ladder.middleware_ladder`) in one call: a clean request that
passes is decided there, the scope made canonical exactly as above, and so is a banned
client's answer; anything else (a mod_block rule that matches, the blocklist, a detection
hit, a body, a lockout directory, a ban the view cannot tell...) goes to the Python ladder,
which decides the whole request from the start, so a native answer is always the Python
one. Without a native ladder (a test's clock, a store without a ban view, response rules)
the Python ladder decides every request.

The middleware's class is a subclass of the native :class:`stockade._native.AsgiMiddleware`,
whose ``__call__`` takes a clean ``http`` request through the native ladder with no Python
frame: it catches up with other processes' bans (at most once a millisecond), decides,
writes the scope's entries and returns the app's own awaitable. Whatever it does not finish
goes to this class's coroutines: :meth:`StockadeMiddleware._slow` (everything the native
entry leaves alone: lifespan, websocket, a scope that is no ``dict`` or was checked
already, a guard not yet open, a reloaded blocklist, no native ladder),
:meth:`~StockadeMiddleware._python` (the native ladder handed the request on) and
:meth:`~StockadeMiddleware._banned`.

The guard opens at lifespan startup and closes at shutdown, or at the first request when
the server runs no lifespan. A scope that was checked is marked: a second instance of the
middleware in the same chain passes it on untouched, so nothing is counted twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from stockade._native import AsgiMiddleware, Canonicalizer, NativeLadder
from stockade.adapters.basic import AsyncBasicGate
from stockade.adapters.protection import Login, Protection, protection
from stockade.adapters.routes import RouteMatcher, starlette_routes
from stockade.clock import Clock, SystemClock
from stockade.config import Config
from stockade.core.client_ip import TrustedProxies
from stockade.engine import AsyncGuard
from stockade.engine._async.ladder import AsyncLadder
from stockade.engine.settings import BanSettings
from stockade.engine.verdict import CLOSE, ResponseLike
from stockade.errors import BadRequest
from stockade.request.asgi import from_asgi
from stockade.request.body import announced_body, read_ahead
from stockade.request.incoming import Incoming
from stockade.rules.block import BlockTable
from stockade.stores import open_async_store, open_directory_stores

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHECKED = "stockade.checked"  # the scope key that marks a request the guard has decided
GUARD = "stockade.guard"  # the AsyncGuard, for the login helpers of the app
CLIENT = "stockade.client"  # the client address the guard believes
PROTECTION = "stockade.protection"


class StockadeMiddleware(AsgiMiddleware):
    """Pure ASGI middleware; ``config`` is a TOML file or a loaded ``Config``, keywords as in
    :func:`stockade.adapters.protection.protection`.

    ``routes`` tells the app's own routes (:mod:`stockade.adapters.routes`); by default a
    Starlette or FastAPI app is recognised from ``scope["app"]``.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: str | Path | Config | None = None,
        *,
        logins: Sequence[Login | dict[str, Any] | str] = (),
        store: str | None = None,
        bans: BanSettings | bool | None = None,
        trusted: TrustedProxies | None = None,
        routes: RouteMatcher | None = None,
        clock: Clock | None = None,
        prepared: Protection | None = None,
    ) -> None:
        self.app = app
        self.protection = prepared or protection(config, logins=logins, store=store, bans=bans, trusted=trusted)
        self.clock: Clock = clock or SystemClock()
        self.routes = routes
        self._auto_routes: dict[int, RouteMatcher] = {}
        self.guard: AsyncGuard | None = None
        self.ladder: AsyncLadder | None = None
        # The native ladder (None: the Python ladder decides every request) and the
        # blocklist it was built with (a reload assigns a new one: the ladder is rebuilt).
        self._native: NativeLadder | None = None
        self._table: BlockTable | None = None
        self._blocklist: object = None
        self._catch_up: Callable[[], None] = _nothing
        self._opening: asyncio.Lock | None = None
        bans_settings = self.protection.settings.bans
        self._detects = bans_settings is not None and bans_settings.enabled
        self._observes = bans_settings is not None and bool(bans_settings.response_rules)
        self._closing: Message = {
            "type": "http.response.start",
            "status": self.protection.close_status,
            "headers": [(b"connection", b"close"), (b"content-length", b"0")],
        }
        # Servers tell ASGI 3 from ASGI 2 by whether ``app.__call__`` is a coroutine function
        # (uvicorn, hypercorn); the native ``__call__`` is not one. They read the instance's
        # own attribute, a coroutine function that does the same; calling the instance still
        # runs the native ``__call__`` (a call looks ``__call__`` up on the type only).
        self.__dict__["__call__"] = self._asgi

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await AsgiMiddleware.__call__(self, scope, receive, send)

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> AsyncGuard:
        """Open the stores and the guard (idempotent)."""
        if self.guard is not None:
            return self.guard
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            guard = self.guard
            if guard is None:
                guard = await asyncio.to_thread(self._open)
            return guard

    def _open(self) -> AsyncGuard:
        p = self.protection
        store = open_async_store(p.store_url, p.base)
        own = open_directory_stores(store, p.store_url, p.directory_store_urls, open_async_store)
        guard = AsyncGuard(p.settings, store, clock=self.clock, sinks=p.sinks(), directory_stores=own)
        gates = {d.path: AsyncBasicGate(d, self.clock) for d in p.directories}
        self.ladder = ladder = AsyncLadder(guard, block=p.block, hosts=p.hosts, gates=gates)
        self._build_native(ladder)
        self.guard = guard
        return guard

    def _build_native(self, ladder: AsyncLadder) -> None:
        from stockade.server.native_ladder import middleware_ladder, store_catch_up  # noqa: PLC0415

        block = self.protection.block
        self._table = block.table if block is not None else None
        self._blocklist = block.table.blocklist if block is not None else None
        # Other processes' bans reach the ban view when a request peeks through the store;
        # the native ladder reads the view directly, so each request catches up first (at
        # most once a millisecond, as a peek does).
        self._catch_up = store_catch_up(ladder.guard.bans.store)
        self.native = None if self._observes else middleware_ladder(ladder, self._canonicalizer)

    @property
    def native(self) -> NativeLadder | None:
        """The native ladder (``None``: the Python ladder decides every request)."""
        return self._native

    @native.setter
    def native(self, native: NativeLadder | None) -> None:
        self._native = native
        ladder = self.ladder
        if native is None or ladder is None:
            self._disarm()
            return
        self._arm(
            app=self.app,
            ladder=native,
            guard=ladder.guard,
            protection=self.protection,
            catch_up=self._catch_up,
            table=self._table,
            blocklist=self._blocklist,
        )

    @property
    def _canonicalizer(self) -> Canonicalizer:
        return self.protection.resolver.canonicalizer(self.protection.paths)

    async def shutdown(self) -> None:
        guard, self.guard, self.ladder, self.native = self.guard, None, None, None
        if guard is not None:
            await guard.aclose()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        spoken = False

        async def receiving() -> Message:
            nonlocal spoken
            message = await receive()
            spoken = True
            if message["type"] == "lifespan.startup":
                await self.startup()
            return message

        async def sending(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.shutdown()
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            if spoken:
                raise
            await self._own_lifespan(receive, send)  # the app speaks no lifespan: the guard does

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests --------------------------------------------------------------------------

    # The native ``__call__`` (:class:`~stockade._native.AsgiMiddleware`) decides a clean
    # request; these coroutines are what it hands everything else to.

    async def _slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The whole middleware in Python: every scope the native entry leaves alone."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket") or scope.get(CHECKED):
            await self.app(scope, receive, send)
            return
        scope[CHECKED] = True
        ladder = self.ladder
        if ladder is None:
            await self.startup()
            ladder = self.ladder
            assert ladder is not None
        native = self.native
        if native is not None and kind == "http" and type(scope) is dict:
            table = self._table
            if table is not None and table.blocklist is not self._blocklist:
                self._build_native(ladder)  # the blocklist was reloaded
                native = self.native
            # One native call: a clean pass or a banned client is decided there, the scope
            # made canonical; anything else (None) is the Python ladder's from the start.
            self._catch_up()
            answer = native.asgi(scope) if native is not None else None
            if isinstance(answer, str):
                scope[GUARD] = ladder.guard
                scope[CLIENT] = answer
                scope[PROTECTION] = self.protection
                await self.app(scope, receive, send)
                return
            if answer is not None:
                await self._banned(scope, send, answer)
                return
        await self._decide(scope, receive, send, ladder)

    async def _python(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The Python ladder's decision of a request the native ladder handed on (marked checked)."""
        ladder = self.ladder
        if ladder is None:  # the guard closed in between
            await self.startup()
            ladder = self.ladder
            assert ladder is not None
        await self._decide(scope, receive, send, ladder)

    async def _banned(self, scope: Scope, send: Send, answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        """A banned client's answer, as the native ladder words it."""
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})

    async def _decide(self, scope: Scope, receive: Receive, send: Send, ladder: AsyncLadder) -> None:
        """The Python ladder's decision of the whole request, and the app if it passes."""
        kind = scope["type"]
        try:
            request = self._incoming(scope)
        except BadRequest as exc:
            await ladder.refused(exc)
            await self._refuse(scope, send, _BAD_REQUEST)
            return
        block = self.protection.block
        if block is not None and request.client and block.table.check_connection(request.client) == "close":
            verdict = CLOSE
        else:
            if ladder.reads_bodies and kind == "http":
                has_body, length = announced_body(scope["headers"], str(scope.get("http_version", "1.1")))
                wanted = ladder.body_wanted(request) if has_body else 0
                if wanted:
                    ahead = await read_ahead(receive, wanted, length)
                    if ahead is None:
                        return  # the client went away in the middle of its body
                    request.give_body(ahead.body, ahead.uninspected)
                    receive = ahead.replay(receive)
            verdict = await ladder.decide(request)
        if verdict.action == "close":
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send(self._closing)
            await send({"type": "http.response.body", "body": b""})
            return
        if verdict.action == "refuse":
            await self._refuse(scope, send, verdict.response or _FORBIDDEN)
            return
        scope[GUARD] = ladder.guard
        scope[CLIENT] = request.client
        scope[PROTECTION] = self.protection
        if self._observes and kind == "http":
            send = self._observed(ladder.guard, request, send)
        await self.app(scope, receive, send)

    def _incoming(self, scope: Scope) -> Incoming:
        """The canonical request; the scope becomes what the app receives."""
        return from_asgi(
            scope,
            policy=self.protection.paths,
            resolver=self.protection.resolver,
            clock=self.clock,
            routes=(lambda method, path: self._known(scope, method, path)) if self._detects else None,
        )

    def _known(self, scope: Scope, method: str, path: str) -> bool:
        matcher = self.routes
        if matcher is None:
            app = scope.get("app")
            if app is None or not hasattr(app, "routes"):
                return False
            matcher = self._auto_routes.get(id(app))
            if matcher is None:
                matcher = self._auto_routes[id(app)] = starlette_routes(app)
        return matcher(method, path)

    async def _refuse(self, scope: Scope, send: Send, response: ResponseLike) -> None:
        if scope["type"] == "websocket":
            # Closing before the handshake is accepted makes the server answer 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": list(response.headers)})
        head = scope.get("method") == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else response.body})

    def _observed(self, guard: AsyncGuard, request: Incoming, send: Send) -> Send:
        """``send``, noting the response status for the response rules once the response has gone."""
        status = 0

        async def observing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False) and status:
                await guard.bans.observe_response(request.client, request.path, status)

        return observing


def _nothing() -> None:
    return None


class _Plain:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        self.headers = ((b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()))


_BAD_REQUEST = _Plain(400, b"Bad Request")
_FORBIDDEN = _Plain(403, b"Forbidden")
