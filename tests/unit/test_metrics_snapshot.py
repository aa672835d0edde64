"""The metrics as plain data and back: what ``GET /metrics`` renders from the admin API's snapshot."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from stockade.metrics import Metrics
from stockade.metrics.snapshot import render, snapshot


def values(families: list[dict[str, Any]]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(families).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_snapshot_renders_every_count_and_gauge_without_creation_times() -> None:
    metrics = Metrics(process=False)
    for _ in range(5):
        metrics.count_request("allowed")
    metrics.count_event("auth_fail")
    metrics.reload_errors.inc(2)
    metrics.pending_writes.set(3)
    metrics.add_counters("mod_block", lambda: {"REQ_TOTAL": 5}, "")
    rendered = values(snapshot(metrics.registry))
    assert rendered[("stockade_requests_total", (("outcome", "allowed"),))] == 5
    assert rendered[("stockade_lockout_events_total", (("event", "auth_fail"),))] == 1
    assert rendered[("stockade_reload_errors_total", ())] == 2
    assert rendered[("mod_block_REQ_TOTAL", ())] == 5
    assert rendered[("stockade_store_pending_writes", ())] == 3
    assert math.isnan(rendered[("stockade_view_lag_seconds", ())])
    assert not any(name.endswith("_created") for name, _labels in rendered)
