"""The metrics as plain data, and back to the Prometheus text format.

:func:`snapshot` turns a registry's families into JSON-able data (the admin API's status
reads counters from it); :func:`render` writes such families in the Prometheus text format
(``GET /metrics``). Counters' ``_created`` samples are left out: a scrape shows counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["Family", "render", "snapshot"]

Family = dict[str, Any]  # {"name", "help", "type", "samples": [[name, {labels}, value], ...]}


def snapshot(registry: CollectorRegistry) -> list[Family]:
    """Every family of ``registry`` as JSON-able data."""
    families: list[Family] = []
    for metric in registry.collect():
        samples = [[s.name, dict(s.labels), s.value] for s in metric.samples if not _created(metric, s.name)]
        families.append({"name": metric.name, "help": metric.documentation, "type": metric.type, "samples": samples})
    return families


def _created(metric: Metric, sample: str) -> bool:
    return metric.type == "counter" and sample.endswith("_created")


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
