"""Per-minute counts of the last day, taken from running totals sampled about once a minute.

The request path only increments plain totals (what it already does for Prometheus); a
background task calls :meth:`Timeline.sample` near each minute boundary with those totals,
and the difference since the previous sample is added to the minute in which that
interval began. Nothing here reads a clock: ``now`` is an argument.

A reader (the console) asks for :meth:`Timeline.window` with the totals of the moment, so
the minute in progress shows what has happened so far without waiting for the next sample.
Memory is bounded: at most ``keep`` minutes, each a dict of the keys that moved in it
(the caller bounds the number of distinct keys).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

MINUTE = 60.0
DAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Bucket:
    """What moved in ``[start, start + length)``: counts by key, only the keys that moved."""

    start: float
    length: float
    counts: dict[str, int] = field(default_factory=dict)

    def total(self, prefix: str = "") -> int:
        return sum(value for key, value in self.counts.items() if key.startswith(prefix))


class Timeline:
    """A ring of per-minute deltas of running totals (see the module docstring)."""

    def __init__(self, *, keep: int = DAY_MINUTES) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1 minute (got {keep})")
        self.keep = keep
        self._minutes: deque[tuple[int, dict[str, int]]] = deque(maxlen=keep)
        self._last: dict[str, int] = {}
        self._since: int | None = None  # the minute in which the interval since the last sample began

    def sample(self, now: float, totals: Mapping[str, int]) -> None:
        """Record what moved since the previous sample; the first sample only sets the baseline."""
        if self._since is not None:
            moved = _delta(self._last, totals)
            if moved:
                self._add(self._since, moved)
        self._last = dict(totals)
        self._since = _minute(now)

    def _add(self, minute: int, moved: dict[str, int]) -> None:
        minutes = self._minutes
        if minutes and minutes[-1][0] >= minute:
            # The same minute (or a clock that went back): merge into the newest entry.
            newest = minutes[-1][1]
            for key, value in moved.items():
                newest[key] = newest.get(key, 0) + value
            return
        minutes.append((minute, moved))

    def window(self, now: float, totals: Mapping[str, int], *, span: float, step: float) -> list[Bucket]:
        """Buckets of ``step`` seconds (a whole number of minutes) covering the last ``span`` seconds.

        The last bucket holds ``now`` and includes what moved since the last sample.
        """
        if step < MINUTE or step % MINUTE or span < step:
            raise ValueError(f"step must be a whole number of minutes and at most span (got {step}, {span})")
        count = math.ceil(span / step)
        last = math.floor(now / step)
        first = last - count + 1
        buckets = [Bucket((first + i) * step, step) for i in range(count)]
        entries = list(self._minutes)
        if self._since is not None:
            pending = _delta(self._last, totals)
            if pending:
                entries.append((self._since, pending))
        for minute, counts in entries:
            index = math.floor(minute * MINUTE / step) - first
            if 0 <= index < count:
                into = buckets[index].counts
                for key, value in counts.items():
                    into[key] = into.get(key, 0) + value
        return buckets


def _minute(now: float) -> int:
    return math.floor(now / MINUTE)


def _delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What grew; a total that went down (a counter reset) counts from zero."""
    moved: dict[str, int] = {}
    for key, value in after.items():
        old = before.get(key, 0)
        grown = value - old if value >= old else value
        if grown:
            moved[key] = grown
    return moved


class Readings:
    """The last ``keep`` readings of a gauge (the store's latency), each with its time."""

    def __init__(self, *, keep: int = DAY_MINUTES) -> None:
        self._readings: deque[tuple[float, float]] = deque(maxlen=keep)

    def add(self, at: float, value: float) -> None:
        self._readings.append((at, value))

    def since(self, start: float) -> list[tuple[float, float]]:
        """Readings taken at or after ``start``, oldest first."""
        return [(at, value) for at, value in self._readings if at >= start]

    def last(self) -> tuple[float, float] | None:
        return self._readings[-1] if self._readings else None
