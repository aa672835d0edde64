"""The metrics of several worker processes as one server's: summed, and never going backwards.

Each worker counts in its own process (:class:`~stockade.metrics.Metrics`) and, when asked,
hands over a :func:`snapshot`: its families as plain JSON-able data. :class:`MetricTotals`
merges the snapshots of every worker into one set of families, which :func:`render`
writes in the Prometheus text format.

How each kind merges:

- **Counters** (and mod_block's untyped counters) are summed over the workers. A worker that
  ended takes its counts along; its last reported values are kept (retired) and added to
  the sum from then on, so a worker restarted from zero never makes a total go down. The
  counts a worker made after its last report and before it ended are lost, never doubled.
- **Counters of events every worker sees** (the failed reloads: every worker reloads the
  same files) are the most any worker counted, not the sum: one bad file is one failure.
- On top of that each merged counter keeps its high-water mark: whatever a worker reports,
  a scrape never shows less than the one before.
- **Gauges** are summed (pending writes, memory, open files), except those that describe
  what the workers share: the store's health (the lowest ``up``, the highest latency and
  view lag, the largest view), the oldest start time and the lowest file limit. A gauge
  comes from the workers that answered this time only.

Counters' ``_created`` samples are left out: a sum has no creation time. This module does
no I/O; the supervisor (or a lone worker) owns a :class:`MetricTotals`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["MetricTotals", "render", "snapshot"]

Family = dict[str, Any]  # {"name", "help", "type", "samples": [[name, {labels}, value], ...]}
_Key = tuple[str, str, tuple[tuple[str, str], ...]]  # family, sample name, labels

_COUNTERS: Final = frozenset({"counter", "unknown"})
# Counted by every worker for the same event: the merge takes the most any worker saw.
SHARED_COUNTERS: Final = frozenset(
    {
        "stockade_reload_errors",
        "mod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE",
        "mod_block_RELOAD_ERROR_GLOBAL_IP_TABLE",
    }
)
_LOWEST: Final = frozenset({"stockade_store_up", "process_start_time_seconds", "process_max_fds"})
_HIGHEST: Final = frozenset({"stockade_store_latency_seconds", "stockade_view_lag_seconds", "stockade_view_entries"})


def snapshot(registry: CollectorRegistry) -> list[Family]:
    """Every family of ``registry`` as JSON-able data (for the supervisor's pipe)."""
    families: list[Family] = []
    for metric in registry.collect():
        samples = [[s.name, dict(s.labels), s.value] for s in metric.samples if not _created(metric, s.name)]
        families.append({"name": metric.name, "help": metric.documentation, "type": metric.type, "samples": samples})
    return families


def _created(metric: Metric, sample: str) -> bool:
    return metric.type == "counter" and sample.endswith("_created")


def _key(family: str, sample: list[Any]) -> _Key:
    return family, str(sample[0]), tuple(sorted((str(k), str(v)) for k, v in dict(sample[1]).items()))


def _values(families: Iterable[Family], kinds: frozenset[str], *, counters: bool) -> dict[_Key, float]:
    found: dict[_Key, float] = {}
    for family in families:
        if (family["type"] in kinds) == counters:
            for sample in family["samples"]:
                found[_key(family["name"], sample)] = float(sample[2])
    return found


class MetricTotals:
    """Merges workers' snapshots, remembering what it needs to never go backwards (see the module docstring)."""

    def __init__(self) -> None:
        self._last: dict[int, dict[_Key, float]] = {}  # a live worker's last reported counters
        self._retired: dict[_Key, float] = {}  # the last counters of workers that ended
        self._high: dict[_Key, float] = {}  # every merged counter's highest value shown
        self._layout: dict[str, tuple[str, str]] = {}  # family -> (help, type), in first-seen order
        self._samples: dict[str, list[_Key]] = {}  # family -> its samples, in first-seen order

    def merge(self, answers: Mapping[int, list[Family] | None]) -> list[Family]:
        """One set of families from the snapshots of the live workers (``None``: no answer this time).

        A worker missing from ``answers`` has ended: its counts are retired.
        """
        for pid in [pid for pid in self._last if pid not in answers]:
            for key, value in self._last.pop(pid).items():
                self._retired[key] = self._retired.get(key, 0.0) + value
        gauges: dict[_Key, list[float]] = {}
        for pid, families in answers.items():
            if families is None:
                continue
            self._learn(families)
            self._last[pid] = _values(families, _COUNTERS, counters=True)
            for key, value in _values(families, _COUNTERS, counters=False).items():
                gauges.setdefault(key, []).append(value)
        merged = {**self._counters(), **{key: _gauge(key[0], values) for key, values in gauges.items()}}
        return [
            {
                "name": name,
                "help": help_,
                "type": kind,
                "samples": [[key[1], dict(key[2]), merged[key]] for key in self._samples[name] if key in merged],
            }
            for name, (help_, kind) in self._layout.items()
        ]

    def _learn(self, families: Iterable[Family]) -> None:
        for family in families:
            name = family["name"]
            self._layout.setdefault(name, (family["help"], family["type"]))
            known = self._samples.setdefault(name, [])
            for sample in family["samples"]:
                key = _key(name, sample)
                if key not in known:
                    known.append(key)

    def _counters(self) -> dict[_Key, float]:
        keys = set(self._retired).union(*self._last.values())
        merged: dict[_Key, float] = {}
        for key in keys:
            values = [last[key] for last in self._last.values() if key in last]
            shared = key[0] in SHARED_COUNTERS
            value = max(values, default=0.0) if shared else self._retired.get(key, 0.0) + sum(values)
            merged[key] = self._high[key] = max(value, self._high.get(key, 0.0))
        return merged


def _gauge(family: str, values: list[float]) -> float:
    known = [value for value in values if not math.isnan(value)]
    if not known:
        return math.nan
    if family in _LOWEST:
        return min(known)
    if family in _HIGHEST:
        return max(known)
    return sum(known)


class _Families(Collector):
    def __init__(self, families: Iterable[Family]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            metric = Metric(family["name"], family["help"], family["type"])
            for name, labels, value in family["samples"]:
                metric.add_sample(name, labels, value)
            yield metric


def render(families: Iterable[Family]) -> bytes:
    """The families in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)
