"""The whole server behind the admin API, however many worker processes serve it.

With ``workers = N`` every worker accepts on the admin listener, so whichever worker takes a
scrape must answer for all of them. It does not guess: it asks the supervisor, which asks
every worker and combines their answers (:mod:`stockade.server.http.workers`). Two
questions (``op``) exist:

- ``snapshot``: the worker's metrics (:func:`stockade.metrics.merge.snapshot`) and status.
  The :class:`ClusterHub` merges the metrics with a :class:`~stockade.metrics.merge.MetricTotals`
  that lives in the supervisor, so that it outlives any worker: a total never goes down,
  not even when a worker is replaced.
- ``reload``: reload the configuration and answer the outcome. A reload is done only when
  every worker reloaded; each worker's errors are reported with it.

SIGHUP reaches every worker as a signal (the supervisor forwards it) and each watches the
mod_block files itself, so those reloads need no gathering; the metrics take the most any
worker counted for failed reloads (every worker fails on the same bad file).

Why the supervisor and not shared memory: a reload must run in every worker and report
back anyway, and the same path then serves the counters, exactly and with no cost on the
request path (a worker counts in plain integers and is only asked at a scrape). A single
process (``workers = 1``) answers itself through the same :class:`ClusterHub`, so both
give the same answers.

:class:`Peers` is a worker's end; :class:`ServerView` is what the admin API calls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from stockade.errors import ReloadFailed, StockadeError
from stockade.metrics.merge import MetricTotals, render
from stockade.rules import BlockReloader
from stockade.server.http.control import Link, Message
from stockade.server.http.workers import Answer

__all__ = ["ClusterHub", "Peers", "ServerView", "Unanswered", "block_files"]

log = logging.getLogger("stockade.server")

Gather = Callable[[str, Mapping[str, object], float], Awaitable[Any]]
Respond = Callable[[str, Mapping[str, object]], Awaitable[object]]

SNAPSHOT_SECONDS: Final = 10.0
RELOAD_SECONDS: Final = 120.0


class Unanswered(StockadeError):
    """The supervisor did not answer a worker's question (it is gone, or overwhelmed)."""

    def __str__(self) -> str:
        return f"the workers did not answer: {self.args[0]}"


class ClusterHub:
    """Combines the workers' answers (see the module docstring); lives where the gathering happens."""

    def __init__(self) -> None:
        self.totals = MetricTotals()

    def combine(self, op: str, answers: list[Answer]) -> object:
        if op == "snapshot":
            return self._snapshot(answers)
        if op == "reload":
            return {"workers": [_reload_entry(answer) for answer in answers]}
        return {"workers": [_entry(answer) for answer in answers]}

    def _snapshot(self, answers: list[Answer]) -> dict[str, Any]:
        families = {
            answer.pid: answer.value["metrics"] if answer.state == "ready" else None
            for answer in answers
            if answer.state != "ended"
        }
        workers = [
            {**_entry(answer), **answer.value["status"]} if answer.state == "ready" else _entry(answer)
            for answer in answers
        ]
        return {"metrics": self.totals.merge(families), "workers": workers}


def _entry(answer: Answer) -> dict[str, Any]:
    return {"worker": answer.worker, "pid": answer.pid, "state": answer.state}


def _reload_entry(answer: Answer) -> dict[str, Any]:
    entry = _entry(answer)
    if answer.state == "ready":
        return {**entry, **answer.value}
    if answer.state == "starting":  # it reads the configuration as it starts
        return {**entry, "reload": "starting"}
    why = "did not answer in time" if answer.state == "silent" else "ended during the reload"
    return {**entry, "reload": "error", "errors": [f"worker {answer.worker} (pid {answer.pid}) {why}"]}


def block_files(block: BlockReloader | None) -> dict[str, Any] | None:
    """The mod_block files in force in a worker, for its status: the paths and how many rules and entries."""
    if block is None:
        return None
    return {
        "rules": len(block.table.rules),
        "rules_path": block.rules_path,
        "ip_blocklist": len(block.table.blocklist),
        "ip_blocklist_path": block.blocklist_path,
    }


class Peers:
    """A worker's end of the supervisor: answers its questions, and asks it to gather."""

    def __init__(self, sock: socket.socket) -> None:
        self.link = Link(sock)
        self._open = asyncio.Event()
        self._gone = False
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._replies: set[asyncio.Task[None]] = set()

    async def serve(self, respond: Respond) -> None:
        """Say this worker is ready, then answer the supervisor's questions until it is gone."""
        await self.link.open()
        self._open.set()
        self.link.send({"ready": {}})
        try:
            while (message := await self.link.receive()) is not None:
                if "op" in message:
                    task = asyncio.create_task(self._reply(respond, message))
                    self._replies.add(task)
                    task.add_done_callback(self._replies.discard)
                elif "result" in message:
                    future = self._waiting.pop(message.get("id"), None)  # type: ignore[arg-type]
                    if future is not None and not future.done():
                        future.set_result(message["result"])
        finally:
            self._gone = True
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(Unanswered("the supervisor is gone"))
            self._waiting.clear()
            self.link.close()

    async def _reply(self, respond: Respond, message: Message) -> None:
        op = str(message.get("op"))
        try:
            answer = await respond(op, message.get("args") or {})
        except Exception:  # an answer must go back, or the supervisor waits for it until its deadline
            log.exception("answering the supervisor's %r failed", op)
            answer = {"error": f"answering {op} failed"}
        self.link.send({"id": message.get("id"), "answer": answer})

    async def gather(self, op: str, args: Mapping[str, object], timeout: float) -> Any:
        """Every worker's answer to ``op``, combined by the supervisor's hub."""
        try:
            await asyncio.wait_for(self._open.wait(), timeout)
        except TimeoutError:
            raise Unanswered(op) from None
        if self._gone:
            raise Unanswered("the supervisor is gone")
        ask_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ask_id] = future
        self.link.send({"id": ask_id, "gather": op, "args": dict(args), "timeout": timeout})
        try:
            # The supervisor answers by its deadline; a little more for the way back.
            return await asyncio.wait_for(future, timeout + 5.0)
        except TimeoutError:
            raise Unanswered(op) from None
        finally:
            self._waiting.pop(ask_id, None)


class ServerView:
    """What the admin API asks of the whole server: metrics, status and reload over every worker."""

    def __init__(self, gather: Gather, has_block: Callable[[], bool]) -> None:
        self.gather = gather
        self.has_block = has_block

    async def metrics(self) -> bytes:
        result = await self.gather("snapshot", {}, SNAPSHOT_SECONDS)
        return render(result["metrics"])

    async def status(self) -> dict[str, Any]:
        """``mod_block``: the counters summed over the workers (as ``/metrics`` shows them); ``workers``: each one."""
        result = await self.gather("snapshot", {}, SNAPSHOT_SECONDS)
        counters = {
            family["name"]: int(family["samples"][0][2])
            for family in result["metrics"]
            if family["name"].startswith("mod_block_") and family["samples"]
        }
        return {"mod_block": counters if self.has_block() else None, "workers": result["workers"]}

    async def reload(self) -> dict[str, Any]:
        """Reload in every worker; raises :class:`ReloadFailed` unless every worker reloaded."""
        result = await self.gather("reload", {"trigger": "api"}, RELOAD_SECONDS)
        workers: list[dict[str, Any]] = result["workers"]
        errors = list(dict.fromkeys(line for w in workers if w.get("reload") == "error" for line in w["errors"]))
        if errors:
            raise ReloadFailed(errors, workers)
        changed: dict[str, list[str]] = {"sections": [], "files": []}
        for worker in workers:
            for key, names in worker.get("changed", {}).items():
                changed[key] = sorted({*changed.get(key, ()), *names})
        return {"reload": "ok", "changed": changed, "workers": workers}
