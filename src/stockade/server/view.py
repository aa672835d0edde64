"""The whole server behind the admin API: its metrics, its status and its reload.

``stockade serve`` is one process (the native front's threads serve the requests), so the
admin API answers from that process's own counters and reloads its one site. The answers
keep a ``workers`` list, of that one process, so that a tool reading them need not know
how the server is run.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from stockade.errors import ReloadFailed
from stockade.metrics.snapshot import render
from stockade.rules import BlockReloader

__all__ = ["ServerView", "block_files"]

Snapshot = Callable[[], Awaitable[dict[str, Any]]]
Reload = Callable[[str], Awaitable[dict[str, Any]]]


def block_files(block: BlockReloader | None) -> dict[str, Any] | None:
    """The mod_block files in force, for the status: the paths and how many rules and entries."""
    if block is None:
        return None
    return {
        "rules": len(block.table.rules),
        "rules_path": block.rules_path,
        "ip_blocklist": len(block.table.blocklist),
        "ip_blocklist_path": block.blocklist_path,
    }


class ServerView:
    """What the admin API asks of the server (:class:`~stockade.admin.app.ServerControl`).

    ``snapshot`` answers ``{"metrics": families, "status": {...}}``; ``reload`` reloads with
    a trigger and answers what :meth:`~stockade.server.app.StockadeApp.reload` does.
    """

    def __init__(self, snapshot: Snapshot, reload: Reload, has_block: Callable[[], bool]) -> None:
        self.snapshot = snapshot
        self._reload = reload
        self.has_block = has_block

    async def metrics(self) -> bytes:
        return render((await self.snapshot())["metrics"])

    async def status(self) -> dict[str, Any]:
        """``mod_block``: the counters (as ``/metrics`` shows them); ``workers``: this process."""
        answer = await self.snapshot()
        counters = {
            family["name"]: int(family["samples"][0][2])
            for family in answer["metrics"]
            if family["name"].startswith("mod_block_") and family["samples"]
        }
        workers = [{**_this_process(), **answer["status"]}]
        return {"mod_block": counters if self.has_block() else None, "workers": workers}

    async def reload(self) -> dict[str, Any]:
        """Reload; raises :class:`ReloadFailed` with the errors when the site in force stays."""
        answer = await self._reload("api")
        workers = [{**_this_process(), **answer}]
        if answer.get("reload") == "error":
            raise ReloadFailed(list(dict.fromkeys(answer["errors"])), workers)
        changed: dict[str, list[str]] = {"sections": [], "files": []}
        for key, names in answer.get("changed", {}).items():
            changed[key] = sorted(names)
        return {"reload": "ok", "changed": changed, "workers": workers}


def _this_process() -> dict[str, Any]:
    return {"worker": 0, "pid": os.getpid(), "state": "ready"}
