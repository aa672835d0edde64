"""The protecting server's application: its site, its reloads, and the admin API's listener.

The native front (:mod:`stockade.server.native`) serves the requests. This is what it
serves them from: the configuration built into a :class:`~stockade.server.site.Site` (the
guard, the checks, mod_block's files, the admin API), the canonical request of each request
the Python side decides (:meth:`StockadeApp.canonical`), and the ASGI application that
answers on the admin API's listener (the admin API and the console).

A reload (SIGHUP, the admin API, or a change of a mod_block file seen by the watcher)
builds aside and swaps the site whole; every reload is logged and audited with what it
changed or its errors. Reloads are serialised, so the watcher always reloads the files of
the site in force, and follows the files a reload names.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stockade.accesslogs.watcher import LogWatcher
from stockade.clock import Clock, SystemClock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.engine.audit import iso_utc
from stockade.errors import StockadeError, StoreError, problems
from stockade.metrics import Metrics
from stockade.metrics.snapshot import snapshot
from stockade.request.asgi import from_asgi
from stockade.request.incoming import Incoming
from stockade.rules.reload import Target
from stockade.server import responses
from stockade.server.asgi import Receive, Scope, Send
from stockade.server.forwarding import ForwardingWarnings
from stockade.server.listen import ListenAddress
from stockade.server.listeners import ListenerMap
from stockade.server.reloading import Changes, ReloadLog, count_failed_files, fingerprint
from stockade.server.settings import ConnectionFacts
from stockade.server.site import Site, Stores, build_site
from stockade.server.view import ServerView, block_files
from stockade.server.watching import BlockFileWatcher

log = logging.getLogger("stockade.server")


class StockadeApp:
    """The protecting server of one :class:`Config`; the guard and its stores open at lifespan startup.

    ``listen`` are the addresses actually bound (real ports, not ``:0``) of the server's own
    listeners (the admin listener not among them); the lockout keys of each request use the
    one that accepted it. ``watching`` is set once the watcher of the mod_block files is in
    place.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        listen: Sequence[ListenAddress] = (),
        freeze_heap: bool = False,
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
        self.view = ServerView(
            self.snapshot, self.reload, lambda: self.site is not None and self.site.block is not None
        )
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
        if config.logs is not None:
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
                if self.log_watcher is not None:
                    following = asyncio.create_task(self.log_watcher.run())
                    following.add_done_callback(_log_watcher_ended)
                    self._tasks.append(following)
            return self.site

    def _open(self) -> Site:
        stores = Stores.open(self.config)
        self.stores = stores
        return self._build(self.config, None)

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

    # -- what the admin API asks of the server -----------------------------------------------

    async def snapshot(self) -> dict[str, Any]:
        """The metrics (:func:`~stockade.metrics.snapshot.snapshot`) and the status of this server."""
        site = self.site
        if site is not None:
            await self.metrics.refresh(site.guard)
        if self.front_sync is not None:
            self.front_sync()
        status: dict[str, Any] = {
            "started": iso_utc(self.started),
            "config": str(self.config.path),
            "requests": self.metrics.request_counts(),
            "reloads": self.reloads.as_dict(),
            "block": block_files(site.block if site is not None else None),
        }
        if self.front_stats is not None:
            status["front"] = dict(self.front_stats())
        return {"metrics": snapshot(self.metrics.registry), "status": status}

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

    # -- requests on the admin API's listener ------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The lifespan, and the requests of the admin API's listener: the admin API and the console.

        The native front hands this application nothing else (:meth:`stockade.server.native.Bridge._admin`).
        """
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        head = scope["method"] == "HEAD"
        try:
            site = self.site or await self.startup()
        except StoreError:
            await responses.send_response(send, responses.unavailable(), head=head)
            return
        connection: ConnectionFacts | None = (scope.get("extensions") or {}).get("stockade")
        if connection is None or not connection.listener.admin or site.admin is None:
            await responses.send_response(send, responses.not_found(), head=head)
            return
        await site.admin(scope, receive, send)  # a bug is logged and answered 500 by the bridge

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


def _log_watcher_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the follower of the access logs stopped", exc_info=task.exception())
