"""Several worker processes serving the same listening sockets (``workers = N``), and what joins them.

The parent binds the sockets, then forks the workers before it has started any thread or
event loop: ``fork`` copies only the calling thread, so a parent with threads could leave a
child a lock that is never released. Each worker builds its own app and server (its own
store connection) and runs its own loop; the kernel spreads the connections of the shared
sockets among them. The parent supervises: it forwards SIGTERM, SIGINT and SIGHUP, and
starts a new worker when one dies unexpectedly (at most one a second per slot). A worker
whose app fails to start stops them all.

The parent is also the one place that sees every worker, which the admin API needs (it is
served by whichever worker accepts the connection). Each worker has a socketpair to the
parent (:mod:`.control`). A worker that needs every worker's answer (a scrape, a status, a
reload) sends ``{"id": n, "gather": op, "args": {...}, "timeout": s}``; the parent asks every
ready worker ``{"id": m, "op": op, "args": {...}}``, collects their ``{"id": m, "answer":
...}`` until all answered or ``timeout`` passed, has its :class:`Hub` combine them (the
hub keeps what must outlive a worker, such as its counts), and replies ``{"id": n,
"result": ...}``. A worker sends ``{"ready": {}}`` once its app has started; until then it
is listed as ``starting`` and not asked.

The parent runs no thread and no event loop, so that it can always fork again: it waits on
the workers' sockets and on a signal wakeup pipe with ``selectors``, and reaps children on
SIGCHLD. A worker slot keeps its index across restarts; a restarted worker is told it is one
(``Worker.restarts``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from stockade.clock import monotonic
from stockade.server.http.control import Channel, ControlError, Message
from stockade.server.http.lifespan import StartupFailed
from stockade.server.http.runner import run
from stockade.server.http.server import HttpServer

log = logging.getLogger("stockade.server.http")

STARTUP_FAILED = 3  # a worker's exit status when its app refused to start
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
RESTART_DELAY = 1.0  # a worker that lived shorter than this is replaced only after this long
MAX_GATHER_SECONDS = 300.0

ServerFactory = Callable[["Worker"], HttpServer]


@dataclass(frozen=True, slots=True)
class Worker:
    """What a worker process knows of its place: its slot, its end of the socketpair, how often it was replaced."""

    index: int
    sock: socket.socket | None = None
    restarts: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    """One worker's part of a gather: ``state`` is ``ready`` (then ``value`` is its answer),
    ``starting`` (not asked), ``silent`` (asked, no answer in time) or ``ended`` (died meanwhile)."""

    worker: int
    pid: int
    state: str
    value: Any = None


class Hub(Protocol):
    """Combines the workers' answers to one gather into the result the asking worker gets."""

    def combine(self, op: str, answers: list[Answer]) -> object: ...


@dataclass
class _Child:
    index: int
    pid: int
    started: float
    restarts: int
    channel: Channel | None
    ready: bool = False


@dataclass
class _Gather:
    op: str
    asker: int
    ask_id: object
    deadline: float
    asked: list[_Child]
    waiting: set[int]
    answers: dict[int, object] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)


class Supervisor:
    """Forks ``count`` workers, each running ``factory(worker)``'s server, and watches over them."""

    def __init__(self, factory: ServerFactory, count: int, *, hub: Hub | None = None) -> None:
        self.factory = factory
        self.count = count
        self.hub = hub
        self.children: dict[int, _Child] = {}  # pid -> child
        self.stopping = False
        self.failed = False
        self._restarts: list[tuple[float, int, int]] = []  # (when, index, restarts so far)
        self._gathers: dict[int, _Gather] = {}
        self._ids = itertools.count(1)
        self._selector: selectors.BaseSelector | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until the workers have stopped; 0 after a requested stop, 1 if a worker could not start."""
        wake_read, wake_write = self._wakeup = socket.socketpair()
        for sock in self._wakeup:
            sock.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(wake_read, selectors.EVENT_READ, None)
        previous_wakeup = signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in SIGNALS}
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _wake_only)
        try:
            for index in range(self.count):
                self._spawn(index, 0)
            while self.children or (self._restarts and not self.stopping):
                for key, events in self._selector.select(self._timeout()):
                    if key.data is None:
                        _drain(wake_read)
                    else:
                        self._serve(key.data, events)
                self._reap()
                now = monotonic()
                self._expire(now)
                self._restart_due(now)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._close()
        return 1 if self.failed else 0

    def _timeout(self) -> float | None:
        times = [gather.deadline for gather in self._gathers.values()]
        if not self.stopping:
            times.extend(when for when, _index, _restarts in self._restarts)
        return max(0.0, min(times) - monotonic()) if times else None

    def _close(self) -> None:
        for child in self.children.values():
            if child.channel is not None:
                child.channel.close()
        if self._selector is not None:
            self._selector.close()
        for sock in self._wakeup or ():
            sock.close()

    # -- signals and children ----------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGHUP:
            self.stopping = True
        self._signal_all(signum)

    def _signal_all(self, signum: int) -> None:
        if signum == signal.SIGTERM:
            self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            self._forget(child)
            if self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == STARTUP_FAILED:
                self.failed = True
                self._signal_all(signal.SIGTERM)
                continue
            log.warning("worker %d (pid %d) ended unexpectedly (status %d); starting another", child.index, pid, code)
            # Keep a worker that dies at once from being restarted in a tight loop.
            when = max(monotonic(), child.started + RESTART_DELAY)
            self._restarts.append((when, child.index, child.restarts + 1))

    def _forget(self, child: _Child) -> None:
        if child.channel is not None:
            self._unregister(child)
            child.channel.close()
            child.channel = None
        for gather_id, gather in list(self._gathers.items()):
            if child.pid in gather.waiting:
                gather.waiting.discard(child.pid)
                gather.ended.add(child.pid)
                self._finish_if_done(gather_id, gather)

    def _restart_due(self, now: float) -> None:
        if self.stopping:
            self._restarts.clear()
            return
        due = [entry for entry in self._restarts if entry[0] <= now]
        self._restarts = [entry for entry in self._restarts if entry[0] > now]
        for _when, index, restarts in due:
            self._spawn(index, restarts)

    def _spawn(self, index: int, restarts: int) -> None:
        mine, theirs = socket.socketpair()
        # Signals stay blocked from before the fork until the child's loop handles them.
        signal.pthread_sigmask(signal.SIG_BLOCK, (*SIGNALS, signal.SIGCHLD))
        try:
            pid = os.fork()
            if pid == 0:
                mine.close()
                os._exit(self._child(Worker(index, theirs, restarts)))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, (*SIGNALS, signal.SIGCHLD))
        theirs.close()
        child = _Child(index, pid, monotonic(), restarts, Channel(mine))
        self.children[pid] = child
        if self._selector is not None:
            self._selector.register(mine, selectors.EVENT_READ, child)

    def _child(self, worker: Worker) -> int:
        code = 1
        try:
            self._leave_parent()
            run(self.factory(worker), handle_signals=True, unblock=SIGNALS)
            code = 0
        except StartupFailed as exc:
            print(f"stockade: worker {os.getpid()}: {exc}", file=sys.stderr)
            code = STARTUP_FAILED
        except BaseException:  # the last resort of a forked process: it must reach os._exit
            traceback.print_exc()
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        return code

    def _leave_parent(self) -> None:
        """In a new child: drop what belongs to the parent (its sockets, signal handlers, wakeup pipe)."""
        signal.set_wakeup_fd(-1)
        for signum in (*SIGNALS, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGCHLD,))
        self._close()
        self.children.clear()
        self._gathers.clear()
        self._restarts.clear()

    # -- messages ---------------------------------------------------------------------------

    def _serve(self, child: _Child, events: int) -> None:
        channel = child.channel
        if channel is None:
            return
        if events & selectors.EVENT_WRITE:
            channel.flush()
        if events & selectors.EVENT_READ:
            try:
                messages = channel.receive()
            except ControlError as exc:
                log.error("worker %d (pid %d) sent a bad message: %s", child.index, child.pid, exc)
                messages = None
            if messages is None:  # the worker is ending; it is reaped on SIGCHLD
                self._unregister(child)
                return
            for message in messages:
                self._message(child, message)
        self._interest(child)

    def _message(self, child: _Child, message: Message) -> None:
        if "ready" in message:
            child.ready = True
            log.info("worker %d (pid %d) ready", child.index, child.pid)
        elif "gather" in message:
            self._gather(child, str(message["gather"]), message)
        elif "answer" in message:
            self._answered(child, message.get("id"), message["answer"])

    def _answered(self, child: _Child, gather_id: object, answer: object) -> None:
        gather = self._gathers.get(gather_id) if isinstance(gather_id, int) else None
        if gather is None or child.pid not in gather.waiting or not isinstance(gather_id, int):
            return  # too late: the gather ended without this worker
        gather.waiting.discard(child.pid)
        gather.answers[child.pid] = answer
        self._finish_if_done(gather_id, gather)

    def _gather(self, asker: _Child, op: str, message: Message) -> None:
        gather_id = next(self._ids)
        timeout = min(float(message.get("timeout") or MAX_GATHER_SECONDS), MAX_GATHER_SECONDS)
        asked = [child for child in self._by_index() if child.ready and child.channel is not None]
        gather = _Gather(op, asker.pid, message.get("id"), monotonic() + timeout, asked, {c.pid for c in asked})
        self._gathers[gather_id] = gather
        request = {"id": gather_id, "op": op, "args": message.get("args") or {}}
        for child in asked:
            self._send(child, request)
        self._finish_if_done(gather_id, gather)

    def _finish_if_done(self, gather_id: int, gather: _Gather) -> None:
        if not gather.waiting:
            self._finish(gather_id, gather)

    def _expire(self, now: float) -> None:
        for gather_id, gather in list(self._gathers.items()):
            if gather.deadline <= now:
                self._finish(gather_id, gather)

    def _finish(self, gather_id: int, gather: _Gather) -> None:
        del self._gathers[gather_id]
        answers = [self._answer(gather, child) for child in gather.asked]
        asked = {child.pid for child in gather.asked}
        answers += [Answer(c.index, c.pid, "starting") for c in self._by_index() if c.pid not in asked]
        answers.sort(key=lambda answer: (answer.worker, answer.pid))
        result = self.hub.combine(gather.op, answers) if self.hub is not None else answers
        asker = self.children.get(gather.asker)
        if asker is not None:
            self._send(asker, {"id": gather.ask_id, "result": result})

    @staticmethod
    def _answer(gather: _Gather, child: _Child) -> Answer:
        if child.pid in gather.answers:
            return Answer(child.index, child.pid, "ready", gather.answers[child.pid])
        return Answer(child.index, child.pid, "ended" if child.pid in gather.ended else "silent")

    def _by_index(self) -> Iterator[_Child]:
        return iter(sorted(self.children.values(), key=lambda child: child.index))

    def _send(self, child: _Child, message: dict[str, Any]) -> None:
        if child.channel is not None:
            child.channel.send(message)
            self._interest(child)

    def _interest(self, child: _Child) -> None:
        if self._selector is None or child.channel is None:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if child.channel.pending else 0)
        with contextlib.suppress(KeyError):
            if self._selector.get_key(child.channel.sock).events != events:
                self._selector.modify(child.channel.sock, events, child)

    def _unregister(self, child: _Child) -> None:
        if self._selector is not None and child.channel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(child.channel.sock)


def _wake_only(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD's handler: the wakeup pipe does the work (a handler must exist for it to be written)."""


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError, InterruptedError):
        while sock.recv(4096):
            pass
