"""Run the protecting server in-process, on a background thread, for tests.

The sockets are bound before the thread starts (port 0 gives an ephemeral port), so
``.url`` is known at once and no test has to guess a free port. The server runs on its
own event loop and installs no signal handlers off the main thread.

    with ServerThread(config_path, clock=ManualClock()) as server:
        http.client.HTTPConnection("127.0.0.1", server.port).request("GET", "/secure/")
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from stockade.clock import Clock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.server.app import StockadeApp
from stockade.server.background import BackgroundServer
from stockade.server.native import NativeListener, NativeServer, bind_native
from stockade.server.run import ReloadHook, access_log_file, listener_specs
from stockade.server.settings import Limits, ListenerSpec

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
DRAIN_TIMEOUT = 5.0


class ServerThread:
    """The server of ``config_path`` on a background thread; a context manager.

    ``url``/``port`` name the first listen address; ``urls`` all of them. ``guard`` is the
    running :class:`AsyncGuard` (call :meth:`flush_events` before reading callback output).
    ``listeners`` replace the config's listen addresses (for TLS and PROXY protocol);
    ``limits``, ``reload`` and ``access_log`` are those of :func:`stockade.server.run.serve`.
    Without ``limits``, requests in flight get ``DRAIN_TIMEOUT`` seconds to finish on
    :meth:`stop`.
    """

    def __init__(
        self,
        config_path: str | Path,
        *,
        clock: Clock | None = None,
        listeners: Sequence[ListenerSpec] | None = None,
        limits: Limits | None = None,
        reload: ReloadHook | None = None,
        access_log: str | Path | None = None,
    ) -> None:
        self.config: Config = load_config(config_path)
        specs = listener_specs(self.config, listeners)
        limits = limits or dataclasses.replace(self.config.limits, drain_timeout=DRAIN_TIMEOUT)
        hook = reload or (lambda app: app.reload())
        self.native: list[NativeListener] = bind_native(specs)
        own = [listener for listener in self.native if not (listener.spec.decision or listener.spec.admin)]
        self.listen = tuple(listener.spec.address for listener in own)
        self.app = StockadeApp(self.config, clock=clock, listen=self.listen)
        self.server = NativeServer(
            self.app,
            self.native,
            limits=limits,
            workers=self.config.raw.server.workers,
            reload=lambda: hook(self.app),
            access_log=access_log_file(self.config, access_log),
        )
        self.urls = tuple(listener.url for listener in own)
        decision = [listener for listener in self.native if listener.spec.decision]
        admin_urls = [listener.url for listener in self.native if listener.spec.admin]
        self.admin_url = admin_urls[0] if admin_urls else ""
        self.decision_urls = tuple(listener.url for listener in decision)
        self.decision_port = decision[0].spec.address.port if decision else 0
        self.url = self.urls[0] if self.urls else ""
        self.port = self.listen[0].port if self.listen else 0
        self._background = BackgroundServer(self.server, name="stockade-server")
        self._stopped = False

    def start(self) -> ServerThread:
        """Start serving; returns once the server accepts requests, or raises why it could not."""
        try:
            self._background.start(START_TIMEOUT)
        except TimeoutError:
            self._close_sockets()
            raise RuntimeError(f"the server did not start within {START_TIMEOUT} s") from None
        except BaseException as exc:
            self._close_sockets()
            raise self.app.startup_error or RuntimeError(f"the server did not start: {exc!r}") from exc
        return self

    @property
    def guard(self) -> AsyncGuard:
        if self.app.guard is None:
            raise RuntimeError("the server is not running")
        return self.app.guard

    def flush_events(self, timeout: float = 5.0) -> bool:
        """Wait until every event emitted so far has reached the callbacks and the audit log."""
        guard = self.app.guard
        return guard.flush_events(timeout) if guard is not None else True

    def reload(self) -> None:
        """Run the ``reload`` hook on the server's loop, as SIGHUP does for ``stockade serve``."""
        loop = self.server.loop
        if loop is not None:
            loop.call_soon_threadsafe(self.server.reload_now)

    def stop(self) -> None:
        """Stop accepting, finish open requests, close the guard and its store (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        ended = self._background.stop(STOP_TIMEOUT)
        self._close_sockets()
        if self.app.guard is not None and ended:
            # The lifespan shutdown did not run (the server failed): close the guard here.
            asyncio.run(self.app.shutdown())

    def _close_sockets(self) -> None:
        for native in self.native:
            native.socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
