"""Running an :class:`HttpServer` to its end on a fresh event loop (uvloop when installed)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable

from stockade.server.http.server import HttpServer


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop if uvloop is importable (``uvicorn[standard]`` installs it), else asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(server: HttpServer, *, handle_signals: bool, unblock: Iterable[signal.Signals] = ()) -> None:
    """Serve until stopped; with ``handle_signals`` (main thread only) SIGTERM/SIGINT stop, SIGHUP reloads.

    ``unblock`` are signals the caller blocked (around ``fork``): they are unblocked once
    the handlers are in place, so one sent meanwhile is handled, not lost or fatal.
    """

    async def main() -> None:
        if handle_signals:
            server.install_signal_handlers()
        pending = set(unblock)
        if pending:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, pending)
        try:
            await server.serve()
        finally:
            if handle_signals:
                server.remove_signal_handlers()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())
