"""The only module that reads the time.

Everything else receives ``now`` (seconds since the epoch, UTC) as an argument, or a
:class:`Clock` one layer up, so tests drive time with :class:`ManualClock` and never sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    """Wall-clock time from the operating system."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = float(when)


# Seconds on a monotonic clock: for timing and pacing background work, never for decisions
# (the C function itself: the request path paces its catch-up with it).
monotonic: Callable[[], float] = time.perf_counter
