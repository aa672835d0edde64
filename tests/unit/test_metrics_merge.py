"""Several workers' metrics as one server's: counters summed and never going backwards, gauges by kind."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from stockade.metrics import Metrics
from stockade.metrics.merge import MetricTotals, render, snapshot


def worker(allowed: int, *, reload_errors: int = 0, pending: int = 0, up: int = 1) -> list[dict[str, Any]]:
    metrics = Metrics(process=False)
    for _ in range(allowed):
        metrics.count_request("allowed")
    metrics.count_event("auth_fail")
    metrics.reload_errors.inc(reload_errors)
    metrics.pending_writes.set(pending)
    metrics.store_up.set(up)
    metrics.add_counters("mod_block", lambda: {"REQ_TOTAL": allowed, "RELOAD_ERROR_GLOBAL_IP_TABLE": reload_errors}, "")
    return snapshot(metrics.registry)


def values(families: list[dict[str, Any]]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(families).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


ALLOWED = ("stockade_requests_total", (("outcome", "allowed"),))


def test_counters_are_summed_gauges_merged_by_kind() -> None:
    merged = values(MetricTotals().merge({1: worker(5, pending=2), 2: worker(7, pending=3, up=0)}))
    assert merged[ALLOWED] == 12
    assert merged[("stockade_lockout_events_total", (("event", "auth_fail"),))] == 2
    assert merged[("mod_block_REQ_TOTAL", ())] == 12
    assert merged[("stockade_store_pending_writes", ())] == 5
    assert merged[("stockade_store_up", ())] == 0  # one worker cannot reach the store
    assert math.isnan(merged[("stockade_view_lag_seconds", ())])
    assert not any(name.endswith("_created") for name, _labels in merged)


def test_failed_reloads_count_once_however_many_workers_saw_them() -> None:
    merged = values(MetricTotals().merge({1: worker(1, reload_errors=2), 2: worker(1, reload_errors=2)}))
    assert merged[("stockade_reload_errors_total", ())] == 2
    assert merged[("mod_block_RELOAD_ERROR_GLOBAL_IP_TABLE", ())] == 2


def test_a_replaced_worker_never_makes_a_total_go_down() -> None:
    totals = MetricTotals()
    assert values(totals.merge({1: worker(5), 2: worker(7)}))[ALLOWED] == 12
    # Worker 2 ended; its replacement (pid 3) starts from zero and has counted 1.
    assert values(totals.merge({1: worker(6), 3: worker(1)}))[ALLOWED] == 14
    assert values(totals.merge({1: worker(6), 3: worker(2, reload_errors=1)}))[ALLOWED] == 15
    # The reloads every worker counts: the replacement's 0 does not undo the count seen before.
    totals = MetricTotals()
    totals.merge({1: worker(1, reload_errors=3)})
    assert values(totals.merge({2: worker(1)}))[("stockade_reload_errors_total", ())] == 3


def test_a_worker_that_does_not_answer_keeps_its_last_counts() -> None:
    totals = MetricTotals()
    totals.merge({1: worker(5), 2: worker(7)})
    merged = values(totals.merge({1: worker(6), 2: None}))
    assert merged[ALLOWED] == 13
    assert merged[("stockade_store_pending_writes", ())] == 0  # gauges: from those who answered


def test_successive_merges_never_go_backwards() -> None:
    # Each round: the live workers (pid -> its count so far). Pids 3 and 4 replace 2 and 3.
    rounds = [{1: 1, 2: 1}, {1: 3, 2: 4}, {1: 3, 3: 0}, {1: 3, 3: None}, {4: 0}, {4: 2, 5: 5}]
    totals = MetricTotals()
    seen = [
        values(totals.merge({pid: None if n is None else worker(n) for pid, n in live.items()}))[ALLOWED]
        for live in rounds
    ]
    assert seen == [2, 7, 7, 7, 7, 14]
