"""The protecting server as an ASGI application: reverse proxy and static files behind the guard.

Each request becomes one canonical request (:mod:`stockade.request`): its path, host,
headers and client, decided once, and the first ``[bans] body_limit`` bytes of its body
when detection inspects it (:mod:`stockade.request.body`). The checks run in their one order
(:mod:`stockade.engine._async.ladder`) on it, and the upstream or the document root then
serves exactly it: a request can learn nothing about a protected file or reach the
upstream without passing the checks, in the form they read. Then the route decides
between the upstream and the document root.

The connection-level check (:meth:`StockadeApp.admit`) runs in the server's accept loop on
the peer, or the PROXY-protocol source, before a byte of HTTP is read: a blocklisted
connection is closed without a response. mod_block's ``CLOSE`` drops a request's
connection the same way. The admin API answers on its own listener, for every worker
process at once (:mod:`stockade.server.cluster`).

A reload (SIGHUP, the admin API, or a change of a mod_block file seen by the watcher)
builds aside and swaps the site whole; every reload is logged and audited with what it
changed or its errors. Reloads are serialised, so the watcher always reloads the files of
the site in force, and follows the files a reload names.

No input can produce a 500: every request is answered inside a guard that logs and answers
500 only for true internal bugs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from stockade.accesslogs.watcher import LogWatcher
from stockade.clock import Clock, SystemClock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.engine.audit import iso_utc
from stockade.engine.verdict import Verdict
from stockade.errors import BadRequest, ConfigError, StockadeError, StoreError, problems
from stockade.metrics import Metrics
from stockade.metrics.merge import snapshot
from stockade.request.asgi import from_asgi
from stockade.request.body import announced_body, read_ahead
from stockade.request.incoming import Incoming
from stockade.rules.reload import Target
from stockade.server import files, responses
from stockade.server.asgi import Message, Receive, Scope, Send
from stockade.server.cluster import ClusterHub, Peers, ServerView, block_files
from stockade.server.forwarding import ForwardingWarnings
from stockade.server.http.workers import Answer, Worker
from stockade.server.listen import ListenAddress
from stockade.server.listeners import ListenerMap
from stockade.server.reloading import Changes, ReloadLog, count_failed_files, fingerprint
from stockade.server.settings import ConnectionFacts
from stockade.server.site import Site, Stores, build_site
from stockade.server.watching import BlockFileWatcher

log = logging.getLogger("stockade.server")

_URL_SAFE = "/!$&'()*+,;=:@-._~"
_FILE_METHODS = frozenset({"GET", "HEAD"})


class StockadeApp:
    """The protecting server of one :class:`Config`; the guard and its stores open at lifespan startup.

    ``listen`` are the addresses actually bound (real ports, not ``:0``) of the server's own
    listeners (the admin listener not among them); the lockout keys of each request use the
    one that accepted it. Each worker process builds its own app, so each opens its own store
    connections; ``worker`` says which one it is and links it to the supervisor, so that the
    admin API answers for every worker. ``watching`` is set once the watcher of the
    mod_block files is in place.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        listen: Sequence[ListenAddress] = (),
        freeze_heap: bool = False,
        worker: Worker | None = None,
    ) -> None:
        self.config = config
        self.freeze_heap = freeze_heap
        self.clock: Clock = clock or SystemClock()
        self.listen = tuple(listen) or config.listen
        self.listeners = ListenerMap(self.listen)
        self.metrics = Metrics()
        self.warnings = ForwardingWarnings()
        self.site: Site | None = None
        self.stores: Stores | None = None
        self.startup_error: Exception | None = None
        self.worker = worker or Worker(0)
        self.peers = Peers(self.worker.sock) if self.worker.sock is not None else None
        self.hub = ClusterHub()  # a lone process combines its own answers
        self.view = ServerView(self.gather, lambda: self.site is not None and self.site.block is not None)
        self.started = self.clock.now()
        self.reloads = ReloadLog(self.metrics.reload_errors.inc)
        self.watcher = BlockFileWatcher(self._block_files_changed)
        self.watching = self.watcher.watching
        self._opening = asyncio.Lock()
        self._reloading = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        # The native front, when it serves this app: its counters, and who hears of each new site.
        self.front_stats: Callable[[], Mapping[str, int]] | None = None
        self.front_sync: Callable[[], None] | None = None  # brings the front's counters into the metrics
        self.on_swap: list[Callable[[Site], None]] = []
        self.metrics.add_counters("mod_block", self._block_counters, "BFE mod_block counter of this process.")
        self.log_watcher: LogWatcher | None = None
        if config.logs is not None and self.worker.index == 0:
            # One process follows the logs: every worker doing it would count each line once each.
            self.log_watcher = LogWatcher(
                config.logs,
                lambda: self.guard,
                clock=self.clock,
                trusted=config.trusted.networks,
                policy=config.paths,
                counts=self.metrics.log_lines,
            )
        self.metrics.add_counters("front", self._front_counters, "Counter of the native front of this process.")

    @property
    def guard(self) -> AsyncGuard | None:
        return self.site.guard if self.site is not None else None

    def _block_counters(self) -> dict[str, int]:
        site = self.site
        if site is None or site.block is None:
            return {}
        # The module's counters, then the failed reloads of its files (by BFE's handler names).
        counters = {**site.block.table.counters.snapshot(), **site.block.counters()}
        front = self.front_stats() if self.front_stats is not None else None
        if front is not None:
            # The native front checks connections itself (before a byte is read).
            for name in ("CONN_TOTAL", "CONN_ACCEPT", "CONN_REFUSE"):
                counters[name] = counters.get(name, 0) + int(front.get(name.lower(), 0))
        return counters

    def _front_counters(self) -> dict[str, int]:
        return dict(self.front_stats()) if self.front_stats is not None else {}

    def _swapped(self, site: Site) -> None:
        for listener in self.on_swap:
            try:
                listener(site)
            except Exception:  # a pluggable side effect: isolate it
                log.exception("a listener of the site swap failed")

    def block_counters(self) -> dict[str, int]:
        """mod_block's counters as exported: ``mod_block_CONN_TOTAL`` ... ``mod_block_REQ_TO_CHECK``."""
        return {f"mod_block_{name}": value for name, value in self._block_counters().items()}

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> Site:
        """Open the stores and build the site (idempotent)."""
        async with self._opening:
            if self.site is None:
                self.site = await asyncio.to_thread(self._open)
                self._settle_heap()
                self._tasks.append(asyncio.create_task(self._sweep_periodically()))
                self._tasks.append(asyncio.create_task(self.metrics.keep_timeline(self.clock, lambda: self.guard)))
                self.watcher.follow(self.site)
                if self.peers is not None:
                    self._tasks.append(asyncio.create_task(self.peers.serve(self.answer)))
                if self.log_watcher is not None:
                    following = asyncio.create_task(self.log_watcher.run())
                    following.add_done_callback(_log_watcher_ended)
                    self._tasks.append(following)
            return self.site

    def _open(self) -> Site:
        if self.worker.restarts:
            self.config = self._current_config()
        stores = Stores.open(self.config)
        self.stores = stores
        return self._build(self.config, None)

    def _current_config(self) -> Config:
        """A replaced worker serves the configuration on disk, as the others do since their reloads."""
        try:
            return load_config(self.config.path)
        except ConfigError as exc:
            log.error(
                "worker %d: %s is invalid; serving the one the server started with: %s",
                self.worker.index,
                self.config.path,
                " ".join(str(exc).splitlines()),
            )
            return self.config

    def _build(self, config: Config, previous: Site | None) -> Site:
        assert self.stores is not None
        for notice in config.notices:
            log.warning("%s: %s", config.path, notice)
        return build_site(
            config,
            self.stores,
            clock=self.clock,
            listen=self.listen,
            metrics=self.metrics,
            previous=previous,
            server=self.view,
            audit_in_force=lambda: self.site.audit if self.site is not None else None,
        )

    async def shutdown(self) -> None:
        self.watcher.stop()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        site, self.site = self.site, None
        if site is not None:
            site.close_events()
            if site.proxy is not None:
                site.proxy.close()
        stores, self.stores = self.stores, None
        if stores is not None:
            await stores.aclose()

    async def reload(self, trigger: str = "signal") -> dict[str, Any]:
        """Reload the configuration and every file it names (``SIGHUP``, the admin API).

        The new site is built aside and swapped in whole; on any error the old one stays
        in force and the errors are answered (``{"reload": "error", "errors": [...]}``, one
        line each). The store and the listeners do not change without a restart.
        """
        async with self._reloading:
            old = self.site or await self.startup()
            what = str(self.config.path)
            try:
                config = await asyncio.to_thread(load_config, self.config.path)
                site = await asyncio.to_thread(self._build, config, old)
            except (StockadeError, OSError) as exc:
                count_failed_files(old.block, exc)
                self.metrics.reloads.failed(self.clock.now(), exc)
                return self.reloads.refused(what, trigger, problems(exc), old.audit, self.clock.now())
            if config.store_url != old.config.store_url:
                log.warning("reload: store.url changed; the new store is used after a restart")
            if config.raw.log != old.config.raw.log:
                log.warning("reload: [log] changed; it applies after a restart")
            if config.raw.logs != old.config.raw.logs or config.raw.decision != old.config.raw.decision:
                # The decision listeners are bound once; who may ask and how the client is named apply now.
                log.warning("reload: [logs] or [decision] changed; the files and listeners change after a restart")
            self.site, self.config = site, config
            self._swapped(site)
            old.close_events()
            if old.proxy is not None and old.proxy is not site.proxy:
                old.proxy.close()
            changes = Changes.between(old.config, config, old.files, site.files)
            del old
            self._settle_heap()
            self.metrics.reloads.succeeded(self.clock.now())
            self.watcher.follow(site)
            return self.reloads.succeeded(what, trigger, changes, site.audit, self.clock.now())

    def _settle_heap(self) -> None:
        """Move what the site holds (rules, tables, views) out of the garbage collector's reach.

        Those objects live until the next reload, yet every full collection walks all of
        them: the server owns its process (``freeze_heap``), so it freezes them once built,
        and a reload unfreezes the old site's objects so that they can go.
        """
        if self.freeze_heap:
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    async def _sweep_periodically(self) -> None:
        """Ended blocks and bans are reported even when every request is answered from the local view."""
        while True:
            # No site is held across the sleep: a reload must be able to free the old one.
            await asyncio.sleep(self.site.guard.settings.sweep_interval if self.site is not None else 60.0)
            if self.site is None:
                continue
            try:
                await self.site.guard.sweep()
            except StoreError as exc:
                self.site.guard.health.failed(exc, "open")

    # -- the watcher of mod_block's files ----------------------------------------------------

    async def _block_files_changed(self, targets: list[Target]) -> None:
        """Reload the changed files into the site in force (never into one a reload replaced)."""
        async with self._reloading:
            site = self.site
            if site is None or site.block is None:
                return
            for target in targets:
                result = await asyncio.to_thread(site.block.reload, target)
                now = self.clock.now()
                if result.error is not None:
                    self.reloads.refused(result.path, "watch", problems(result.error), site.audit, now)
                    continue
                site.files[result.path] = fingerprint(result.path)
                self._swapped(site)
                self.reloads.succeeded(result.path, "watch", Changes(files=(result.path,)), site.audit, now)

    # -- the admin API's questions to every worker ----------------------------------------------

    async def gather(self, op: str, args: Mapping[str, object], timeout: float) -> Any:
        """Every worker's answer to ``op``, combined (by the supervisor, or here for a lone process)."""
        if self.peers is not None:
            return await self.peers.gather(op, args, timeout)
        answer = Answer(self.worker.index, os.getpid(), "ready", await self.answer(op, args))
        return self.hub.combine(op, [answer])

    async def answer(self, op: str, args: Mapping[str, object]) -> object:
        """This worker's answer to one of the supervisor's questions (``snapshot``, ``reload``)."""
        if op == "reload":
            return await self.reload(str(args.get("trigger", "api")))
        if op == "snapshot":
            site = self.site
            if site is not None:
                await self.metrics.refresh(site.guard)
            if self.front_sync is not None:
                self.front_sync()
            status = {
                "started": iso_utc(self.started),
                "restarts": self.worker.restarts,
                "config": str(self.config.path),
                "requests": self.metrics.request_counts(),
                "reloads": self.reloads.as_dict(),
                "block": block_files(site.block if site is not None else None),
            }
            if self.front_stats is not None:
                status["front"] = dict(self.front_stats())
            return {"metrics": snapshot(self.metrics.registry), "status": status}
        return {"error": f"unknown question {op!r}"}

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

    # -- connections -----------------------------------------------------------------------

    def admit(self, connection: ConnectionFacts) -> bool:
        """The connection check: False closes a blocklisted peer (or PROXY source) before a byte is read."""
        site = self.site
        listener = connection.listener
        if site is None or site.block is None or listener.admin or listener.decision:
            return True  # the peer of these is an operator's tool or a proxy, not a client
        source = connection.source or connection.peer
        return site.block.table.check_connection(source[0]) == "accept"

    # -- requests --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        started = False

        def tracked(message: Message) -> Awaitable[None]:
            # A plain function handing back send's awaitable: no coroutine of its own per message.
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            return send(message)

        try:
            await self._http(scope, receive, tracked)
        except Exception:  # the "never a 500" promise: isolate bugs, log them, answer if still possible
            log.exception("internal error answering %s %r", scope.get("method"), scope.get("raw_path"))
            self.metrics.count_request("error")
            if not started:
                await responses.send_response(send, responses.internal_error())

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection: ConnectionFacts | None = (scope.get("extensions") or {}).get("stockade")
        try:
            site = self.site or await self.startup()
        except StoreError:
            await responses.send_response(send, responses.unavailable(), head=scope["method"] == "HEAD")
            return
        if connection is not None and connection.listener.admin:
            if site.admin is not None:
                await site.admin(scope, receive, send)
            else:
                await responses.send_response(send, responses.not_found())
            return
        if connection is not None and connection.listener.decision:
            await self._decide(scope, site, connection, receive, send)
            return
        method: str = scope["method"]
        head = method == "HEAD"
        try:
            request = self.canonical(scope, site, connection)
        except BadRequest as exc:
            self.metrics.count_request("refused")
            await site.ladder.refused(exc)
            await responses.send_response(send, responses.bad_request(str(exc)), head=head)
            return
        if site.ladder.reads_bodies:
            has_body, length = announced_body(scope["headers"], str(scope.get("http_version", "1.1")))
            wanted = site.ladder.body_wanted(request) if has_body else 0
            if wanted:
                # Detection reads the body's first bytes before the checks decide; the upstream
                # then gets them and the rest through ``receive`` as before.
                ahead = await read_ahead(receive, wanted, length)
                if ahead is None:
                    return  # the client went away (or timed out) in the middle of its body
                request.give_body(ahead.body, ahead.uninspected)
                receive = ahead.replay(receive)
        verdict = await site.ladder.decide(request)
        self.metrics.observe_verdict(verdict)
        if verdict.action != "pass":
            await self._refuse(verdict, connection, send, head=head)
            return
        self.metrics.count_request("allowed")
        path = request.path
        target = site.target(path)
        if site.guard.bans.settings.response_rules:
            send = self._observed(site, request, send)
        if target == "upstream" and site.proxy is not None:
            # The upstream hears of this hop's peer: appended to a trusted peer's list, alone otherwise.
            decided = request.decided
            scope["stockade.client_ip"] = request.client
            scope["stockade.peer"] = decided.peer if decided is not None else request.client
            scope["stockade.peer_trusted"] = decided is not None and decided.trusted
            await site.proxy.forward(scope, receive, send)
            return
        if method not in _FILE_METHODS:
            await responses.send_response(send, responses.method_not_allowed(), head=head)
            return
        await self._serve_file(path, send, head=head)

    async def _decide(
        self, scope: Scope, site: Site, connection: ConnectionFacts, receive: Receive, send: Send
    ) -> None:
        """A proxy's check request (:mod:`stockade.decision`): decided by the site in force."""
        head = scope["method"] == "HEAD"
        if site.decision is None:  # a reload removed [decision]: its listener stays until a restart
            await responses.send_response(send, responses.not_found(), head=head)
            return
        target: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        if query and b"?" not in target:
            target += b"?" + query
        has_body, length = announced_body(scope["headers"], str(scope.get("http_version", "1.1")))

        async def read_body(limit: int) -> tuple[bytes, int] | None:
            ahead = await read_ahead(receive, limit, length)
            return None if ahead is None else (ahead.body, ahead.uninspected)

        answer = await site.decision.decide(
            connection.peer[0], scope["method"], target, scope["headers"], read_body if has_body else None
        )
        if answer.verdict is not None:
            self.metrics.observe_verdict(answer.verdict)
        self.metrics.count_decision(answer.outcome)
        await responses.send_response(send, responses.Response(answer.status, answer.headers, answer.body), head=head)

    def canonical(self, scope: Scope, site: Site, connection: ConnectionFacts | None) -> Incoming:
        """The canonical request; the scope becomes what the upstream receives."""
        request = from_asgi(
            scope,
            policy=site.config.paths,
            resolver=site.resolver,
            clock=self.clock,
            tls=connection.tls if connection is not None else None,
            # The listener keys the lockout: looked up only when a directory's gate asks.
            listener=lambda: self.listeners.lookup(scope.get("server")),
            require_host=True,
        )
        if request.decided is not None:
            self.warnings.observe(request.decided)
        return request

    async def _refuse(self, verdict: Verdict, connection: ConnectionFacts | None, send: Send, *, head: bool) -> None:
        if verdict.action == "close":
            self.metrics.count_request("closed")
            if connection is not None:
                connection.close()  # BFE's CLOSE: no response at all
                return
            close_status = self.config.block.close_status if self.config.block is not None else 403
            closing = responses.Response(close_status, ((b"connection", b"close"), (b"content-length", b"0")), b"")
            await responses.send_response(send, closing, head=head)
            return
        self.metrics.count_request({"ban": "banned", "lockout": "challenged"}.get(verdict.stage, "refused"))
        answer = verdict.response
        if answer is not None:
            await responses.send_response(
                send, responses.Response(answer.status, answer.headers, answer.body), head=head
            )

    def _observed(self, site: Site, request: Incoming, send: Send) -> Send:
        """``send``, noting the response status for the response rules once the response has gone."""
        status = 0

        async def observing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False) and status:
                await site.guard.bans.observe_response(request.client, request.path, status)

        return observing

    async def _serve_file(self, path: str, send: Send, *, head: bool) -> None:
        root = self.config.document_root
        found = None if root is None else await asyncio.to_thread(files.lookup, root, path)
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


def _log_watcher_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the follower of the access logs stopped", exc_info=task.exception())
