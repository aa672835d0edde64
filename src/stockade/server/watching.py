"""The watcher of the mod_block files of the site in force, for the protecting server.

It follows the site: a reload that names other files, or turns ``[block] watch`` off,
moves or stops it; a reload that keeps the files keeps it (a change is never missed while
a new watch is being set up). What a change does is the server's business
(``on_change``): it reloads the files into whatever site is in force then, under the same
lock as every reload, so an edit can never land in a site a reload is replacing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from stockade.rules.reload import Target
from stockade.rules.watch import watch_files
from stockade.server.site import Site

__all__ = ["BlockFileWatcher"]

log = logging.getLogger("stockade.server")


@dataclass
class _Watch:
    targets: dict[str, Target]
    stop: asyncio.Event
    task: asyncio.Task[None]


class BlockFileWatcher:
    """Watches the mod_block files a site names; ``watching`` is set while a watch is in place."""

    def __init__(self, on_change: Callable[[list[Target]], Awaitable[None]]) -> None:
        self.on_change = on_change
        self.watching = threading.Event()
        self._watch: _Watch | None = None

    def follow(self, site: Site) -> None:
        """Watch the files of ``site`` (call on the event loop, after every build of a site)."""
        wanted: dict[str, Target] = {}
        if site.block is not None and site.config.block is not None and site.config.block.watch:
            wanted = {site.block.rules_path: "block_rules", site.block.blocklist_path: "ip_blocklist"}
        if self._watch is not None and self._watch.targets == wanted:
            return
        self.stop()
        if not wanted:
            return
        stop = asyncio.Event()
        task = asyncio.create_task(
            watch_files(wanted, self.on_change, ready=lambda: self._ready(wanted), stop_event=stop)
        )
        task.add_done_callback(_ended)
        self._watch = _Watch(wanted, stop, task)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop.set()
            self._watch = None
        self.watching.clear()

    def _ready(self, targets: Mapping[str, Target]) -> None:
        log.info("watching %s for changes", ", ".join(sorted(targets)))
        self.watching.set()


def _ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the watcher of the mod_block files stopped", exc_info=task.exception())
