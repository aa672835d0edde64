"""Run the protecting server in-process, on a background thread, for tests.

The sockets are bound before the thread starts (port 0 gives an ephemeral port), so
``.url`` is known at once and no test has to guess a free port. uvicorn runs with its own
event loop and installs no signal handlers off the main thread.

    with ServerThread(config_path, clock=ManualClock()) as server:
        http.client.HTTPConnection("127.0.0.1", server.port).request("GET", "/secure/")
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType

import uvicorn

from stockade.clock import Clock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.server.app import StockadeApp
from stockade.server.listeners import bind_all, url_of
from stockade.server.run import uvicorn_config

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.01


class ServerThread:
    """The server of ``config_path`` on a background thread; a context manager.

    ``url``/``port`` name the first listen address; ``urls`` all of them. ``guard`` is the
    running :class:`AsyncGuard` (call :meth:`flush_events` before reading callback output).
    """

    def __init__(self, config_path: str | Path, *, clock: Clock | None = None) -> None:
        self.config: Config = load_config(config_path)
        self._sockets, self.listen = bind_all(self.config.listen)
        self.app = StockadeApp(self.config, clock=clock, listen=self.listen)
        self.server = uvicorn.Server(uvicorn_config(self.app, timeout_graceful_shutdown=5))
        self.urls = tuple(url_of(a) for a in self.listen)
        self.url = self.urls[0] if self.urls else ""
        self.port = self.listen[0].port if self.listen else 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stockade-server", daemon=True)
        self._stopped = False

    def _run(self) -> None:
        try:
            self.server.run(sockets=self._sockets)
        except BaseException as exc:  # SystemExit on a failed startup, or a bug: hand it to start()
            self._error = exc

    def start(self) -> ServerThread:
        """Start serving; returns once the server accepts requests, or raises why it could not."""
        self._thread.start()
        for _ in range(int(START_TIMEOUT / POLL_SECONDS)):
            if self.server.started:
                return self
            self._thread.join(POLL_SECONDS)
            if not self._thread.is_alive():
                self._close_sockets()
                raise self.app.startup_error or RuntimeError(f"the server did not start: {self._error!r}")
        self.stop()
        raise RuntimeError(f"the server did not start within {START_TIMEOUT} s")

    @property
    def guard(self) -> AsyncGuard:
        if self.app.guard is None:
            raise RuntimeError("the server is not running")
        return self.app.guard

    def flush_events(self, timeout: float = 5.0) -> bool:
        """Wait until every event emitted so far has reached the callbacks and the audit log."""
        guard = self.app.guard
        return guard.flush_events(timeout) if guard is not None else True

    def stop(self) -> None:
        """Stop accepting, finish open requests, close the guard and its store (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(STOP_TIMEOUT)
        self._close_sockets()
        if self.app.guard is not None and not self._thread.is_alive():
            # The lifespan shutdown did not run (forced exit): close the guard here.
            asyncio.run(self.app.shutdown())

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
