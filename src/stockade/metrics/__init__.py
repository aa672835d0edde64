"""Prometheus metrics of the protecting server and the admin API."""

from stockade.metrics.counters import LOCKOUT_EVENTS, REQUEST_OUTCOMES, Metrics, MetricsSink

__all__ = ["LOCKOUT_EVENTS", "REQUEST_OUTCOMES", "Metrics", "MetricsSink"]
