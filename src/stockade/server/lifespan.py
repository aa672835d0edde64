"""The ASGI lifespan protocol: startup before the first connection, shutdown after the last.

An app that raises or returns before answering ``lifespan.startup`` does not speak the
protocol (plain hello-world apps), and is served without it. An app that answers
``lifespan.startup.failed`` stops the server with its message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from stockade.errors import StockadeError
from stockade.server.asgi import ASGIApp, Message

log = logging.getLogger("stockade.server")


class StartupFailed(StockadeError):
    """The application refused to start (``lifespan.startup.failed``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"the application failed to start: {self.message}" if self.message else "the application failed to start"


class Lifespan:
    """Runs the app's lifespan task; ``state`` is what the app put in ``scope["state"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.supported = True
        self._started = False
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._replies: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup``; raises :class:`StartupFailed` if the app says it failed."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._replies.get()
        if reply["type"] == "lifespan.startup.failed":
            raise StartupFailed(str(reply.get("message", "")))
        if reply["type"] != "lifespan.startup.complete":
            self.supported = False
        self._started = self.supported

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the answer (or for the app to end)."""
        if not self.supported or self._task is None or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        reply = await self._replies.get()
        if reply["type"] == "lifespan.shutdown.failed":
            log.error("the application failed to shut down: %s", reply.get("message", ""))
        await self._task

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self._inbox.get, self._send)
        except Exception as exc:  # an app without lifespan support typically raises at once
            if self._started:
                log.exception("the application's lifespan task failed")
            else:
                log.debug("the application does not support the lifespan protocol: %r", exc)
        finally:
            await self._replies.put({"type": "lifespan.ended"})

    async def _send(self, message: Message) -> None:
        await self._replies.put(message)
