"""What every connection of one server shares: the app, the limits, the access log, the date."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from stockade.clock import Clock
from stockade.server.asgi import ASGIApp
from stockade.server.http import framing
from stockade.server.http.accesslog import AccessEntry, AccessLogSink
from stockade.server.settings import Limits

if TYPE_CHECKING:
    from stockade.server.http.protocol import HttpProtocol

log = logging.getLogger("stockade.server.http")


class ServerState:
    """Shared by the connections of one server in one event loop."""

    def __init__(self, app: ASGIApp, limits: Limits, *, clock: Clock, access_log: AccessLogSink | None = None) -> None:
        self.app = app
        self.limits = limits
        self.clock = clock
        self.access_log = access_log
        self.access_log_errors = 0
        self.lifespan_state: dict[str, Any] | None = None
        self.connections: set[HttpProtocol] = set()
        self.stopping = False
        self.all_closed = asyncio.Event()
        self.date = framing.date_line(clock.now())

    def tick(self) -> None:
        """Once a second: the ``date`` header of the responses."""
        self.date = framing.date_line(self.clock.now())

    def closed(self, connection: HttpProtocol) -> None:
        self.connections.discard(connection)
        if self.stopping and not self.connections:
            self.all_closed.set()

    def record(self, entry: AccessEntry) -> None:
        """Hand one entry to the access log sink; its errors are logged once and counted, never raised."""
        if self.access_log is None:
            return
        try:
            self.access_log(entry)
        except Exception:  # a pluggable side effect: isolate it
            self.access_log_errors += 1
            if self.access_log_errors == 1:
                log.exception("the access log failed (further failures are counted, not logged)")
