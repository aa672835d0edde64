"""The HTTP server of one process: lifespan, acceptors, connections, graceful stop, reload.

:meth:`HttpServer.serve` runs on an event loop until :meth:`~HttpServer.request_exit`
(or SIGTERM/SIGINT when signal handlers are installed). Stopping closes the listening
side first, then idle keep-alive connections, lets requests in flight finish for up to
``drain_timeout`` seconds (their responses say ``connection: close``), aborts whatever is
left, and finally runs the lifespan shutdown. SIGHUP calls ``reload``, which must not
stop the serving: its errors are logged and serving goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence

from stockade.clock import Clock, SystemClock
from stockade.server.asgi import ASGIApp
from stockade.server.http.acceptor import Acceptor, BoundListener, ProxyRefused
from stockade.server.http.accesslog import AccessLogSink
from stockade.server.http.lifespan import Lifespan
from stockade.server.http.state import ServerState
from stockade.server.settings import ConnectionCheck, Limits

log = logging.getLogger("stockade.server.http")

Reload = Callable[[], Awaitable[object] | None]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class HttpServer:
    """Serves one ASGI app on already bound listening sockets.

    ``connection_check`` runs on every accepted connection before a byte is read (and again
    on the PROXY source); ``proxy_refused`` is told of each connection closed because its peer
    may not send the listener a PROXY header; ``reload`` runs on SIGHUP; ``access_log`` receives one entry per
    response. The listeners come bound, with their TLS contexts (see ``bind_listeners``).
    """

    def __init__(
        self,
        app: ASGIApp,
        listeners: Sequence[BoundListener],
        *,
        limits: Limits | None = None,
        connection_check: ConnectionCheck | None = None,
        reload: Reload | None = None,
        access_log: AccessLogSink | None = None,
        clock: Clock | None = None,
        proxy_refused: ProxyRefused | None = None,
    ) -> None:
        self.app = app
        self.listeners = tuple(listeners)
        self.limits = limits or Limits()
        self.connection_check = connection_check
        self.proxy_refused = proxy_refused
        self.reload = reload
        self.access_log = access_log
        self.clock: Clock = clock or SystemClock()
        self.started = threading.Event()
        self.state: ServerState | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None
        self._exit_requested = False
        self._reloads: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.TimerHandle | None = None

    async def serve(self) -> None:
        """Start the app, serve until asked to stop, then drain and shut the app down.

        Raises :class:`~stockade.server.http.lifespan.StartupFailed` if the app refuses to start.
        """
        loop = self.loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        if self._exit_requested:
            self._exit.set()
        state = self.state = ServerState(self.app, self.limits, clock=self.clock, access_log=self.access_log)
        lifespan = Lifespan(self.app)
        await lifespan.startup()
        if lifespan.supported:
            state.lifespan_state = lifespan.state
        self._ticker = loop.call_later(1.0, self._tick)
        acceptors = [
            Acceptor(state, listener, check=self.connection_check, proxy_refused=self.proxy_refused)
            for listener in self.listeners
        ]
        try:
            for acceptor in acceptors:
                acceptor.start()
            self.started.set()
            await self._exit.wait()
        finally:
            state.stopping = True
            for acceptor in acceptors:
                acceptor.stop()
            await self._drain(state)
            if self._ticker is not None:
                self._ticker.cancel()
            self._ticker = None
            await lifespan.shutdown()

    def _tick(self) -> None:
        if self.state is not None and self.loop is not None and self._ticker is not None:
            self.state.tick()
            self._ticker = self.loop.call_later(1.0, self._tick)

    async def _drain(self, state: ServerState) -> None:
        for connection in list(state.connections):
            connection.shutdown()
        if state.connections:
            try:
                await asyncio.wait_for(state.all_closed.wait(), self.limits.drain_timeout)
            except TimeoutError:
                log.warning(
                    "%d connections still busy after %.0f s: closing them",
                    len(state.connections),
                    self.limits.drain_timeout,
                )
        tasks = []
        for connection in list(state.connections):
            tasks.extend(connection.tasks())
            connection.abort()
        await asyncio.sleep(0)  # let the aborted exchanges see their disconnect
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    def request_exit(self) -> None:
        """Stop serving (call on the server's loop; see :meth:`request_exit_threadsafe`)."""
        self._exit_requested = True
        if self._exit is not None:
            self._exit.set()

    def request_exit_threadsafe(self) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            self._exit_requested = True
            return
        try:
            loop.call_soon_threadsafe(self.request_exit)
        except RuntimeError:  # the loop closed in between
            self._exit_requested = True

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop, SIGHUP reloads (main thread, running loop)."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.request_exit)
        loop.add_signal_handler(signal.SIGHUP, self.reload_now)

    def remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (*STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    def reload_now(self) -> None:
        """Call ``reload``; an awaitable result runs as a task. Errors are logged, never raised."""
        if self.reload is None:
            log.info("SIGHUP: nothing to reload")
            return
        try:
            result = self.reload()
        except Exception:  # reloading must never stop the serving
            log.exception("reload failed; serving on with the previous state")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_reload(result))
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def _await_reload(self, result: Awaitable[object]) -> None:
        try:
            await result
        except Exception:  # reloading must never stop the serving
            log.exception("reload failed; serving on with the previous state")
