"""The native front's server on a background thread with its own event loop (tests, embedding).

No signal handlers are installed: signals belong to the main thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

from stockade.server.loop import new_event_loop

POLL_SECONDS = 0.01


class Servable(Protocol):
    """What a background thread runs (:class:`~stockade.server.native.NativeServer`)."""

    started: threading.Event

    async def serve(self) -> None: ...

    def request_exit_threadsafe(self) -> None: ...


class BackgroundServer:
    """Runs ``server`` on a daemon thread; :meth:`start` returns once it accepts connections."""

    def __init__(self, server: Servable, *, name: str = "stockade-server") -> None:
        self.server = server
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                runner.run(self.server.serve())
        except BaseException as exc:  # handed to start() or stop(), which raise or report it
            self.error = exc

    def start(self, timeout: float) -> None:
        """Start the thread; raises why the server could not start (or ``TimeoutError``)."""
        self._thread.start()
        for _ in range(max(1, int(timeout / POLL_SECONDS))):
            if self.server.started.wait(POLL_SECONDS):
                return
            if not self._thread.is_alive():
                raise self.error or RuntimeError("the server thread ended before serving")
        self.stop(timeout)
        raise TimeoutError(f"the server did not start within {timeout} s")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float) -> bool:
        """Ask the server to stop and wait up to ``timeout`` s; ``True`` once the thread has ended."""
        self.server.request_exit_threadsafe()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()
