"""Several worker processes serving the same listening sockets (``workers = N``).

The parent binds the sockets, then forks the workers before it has started any thread or
event loop: ``fork`` copies only the calling thread, so a parent with threads could leave a
child a lock that is never released. Each worker builds its own app and server (its own
store connection) and runs its own loop; the kernel spreads the connections of the shared
sockets among them. The parent only supervises: it forwards SIGTERM, SIGINT and SIGHUP,
waits for the workers, and starts a new one when one dies unexpectedly. A worker whose
app fails to start stops them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType

from stockade.clock import monotonic
from stockade.server.http.lifespan import StartupFailed
from stockade.server.http.runner import run
from stockade.server.http.server import HttpServer

log = logging.getLogger("stockade.server.http")

STARTUP_FAILED = 3  # a worker's exit status when its app refused to start
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
RESTART_DELAY = 1.0  # a worker that lived shorter than this is replaced only after this long

ServerFactory = Callable[[], HttpServer]


class Supervisor:
    """Forks ``count`` workers, each running ``factory()``'s server, and watches over them."""

    def __init__(self, factory: ServerFactory, count: int) -> None:
        self.factory = factory
        self.count = count
        self.workers: dict[int, float] = {}  # pid -> when it started
        self.stopping = False
        self.failed = False

    def run(self) -> int:
        """Supervise until the workers have stopped; 0 after a requested stop, 1 if a worker could not start."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in SIGNALS}
        try:
            for _ in range(self.count):
                self._spawn()
            while self.workers:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                started = self.workers.pop(pid, None)
                if started is None or self.stopping:
                    continue
                code = os.waitstatus_to_exitcode(status)
                if code == STARTUP_FAILED:
                    self.failed = True
                    self._signal_all(signal.SIGTERM)
                    continue
                log.warning("worker %d ended unexpectedly (status %d); starting another", pid, code)
                self._pause_if_young(started)
                if not self.stopping:
                    self._spawn()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 1 if self.failed else 0

    def _pause_if_young(self, started: float) -> None:
        """Keep a worker that dies at once from being restarted in a tight loop."""
        while not self.stopping and monotonic() - started < RESTART_DELAY:
            time.sleep(0.05)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGHUP:
            self.stopping = True
        self._signal_all(signum)

    def _signal_all(self, signum: int) -> None:
        if signum == signal.SIGTERM:
            self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _spawn(self) -> None:
        # Signals stay blocked from before the fork until the child's loop handles them.
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(self._child())
            self.workers[pid] = monotonic()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def _child(self) -> int:
        code = 1
        try:
            self.workers.clear()
            for signum in SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            run(self.factory(), handle_signals=True, unblock=SIGNALS)
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
