"""Metrics: counters and store gauges of one process, in the Prometheus text format."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stockade import AsyncGuard, ManualClock
from stockade.core.bans import BanPolicy
from stockade.core.events import lockout_event
from stockade.core.lockout import LockoutKey
from stockade.engine import GuardSettings
from stockade.errors import StoreError
from stockade.metrics import Metrics
from stockade.metrics.snapshot import render, snapshot
from stockade.stores import MemoryStore, OffloadedStore
from stockade.stores.records import StoreStatus


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return parsed(metrics.exposition())


def parsed(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = exposition.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_and_events_are_counted_by_label() -> None:
    metrics = Metrics(process=False)
    metrics.count_request("allowed")
    metrics.count_request("allowed")
    metrics.count_request("teapot")
    key = LockoutKey("/secure", "alice", "", None, 80)
    for what in ("auth_fail", "auth_fail", "user_block", "something_new"):
        metrics.sink.submit(lockout_event(what, key, 0.0))
    got = samples(metrics)
    assert got[("stockade_requests_total", (("outcome", "allowed"),))] == 2
    assert got[("stockade_requests_total", (("outcome", "teapot"),))] == 1
    assert got[("stockade_requests_total", (("outcome", "banned"),))] == 0  # bound ahead, shown as 0
    assert got[("stockade_lockout_events_total", (("event", "auth_fail"),))] == 2
    assert got[("stockade_lockout_events_total", (("event", "user_block"),))] == 1
    assert got[("stockade_lockout_events_total", (("event", "something_new"),))] == 1
    assert metrics.sink.flush(1.0)
    metrics.sink.close()


def test_store_gauges_before_the_first_scrape_are_unknown() -> None:
    got = samples(Metrics(process=False))
    assert math.isnan(got[("stockade_store_latency_seconds", ())])
    assert math.isnan(got[("stockade_view_lag_seconds", ())])
    assert got[("stockade_store_errors_total", ())] == 0


def test_status_sets_gauges_and_errors_grow_by_what_is_new() -> None:
    metrics = Metrics(process=False)
    metrics.observe_status(StoreStatus("redis://h", 0.002, view_entries=7, view_trusted=True, view_lag=0.01, errors=3))
    got = samples(metrics)
    assert got[("stockade_store_up", ())] == 1
    assert got[("stockade_store_latency_seconds", ())] == 0.002
    assert got[("stockade_view_lag_seconds", ())] == 0.01
    assert got[("stockade_view_entries", ())] == 7
    assert got[("stockade_store_errors_total", ())] == 3
    metrics.observe_status(StoreStatus("redis://h", 0.003, errors=3))
    assert samples(metrics)[("stockade_store_errors_total", ())] == 3
    metrics.observe_status(None)  # the status call failed
    got = samples(metrics)
    assert got[("stockade_store_up", ())] == 0
    assert math.isnan(got[("stockade_store_latency_seconds", ())])
    assert got[("stockade_store_errors_total", ())] == 4
    metrics.observe_status(StoreStatus("redis://h", 0.003, errors=5))
    assert samples(metrics)[("stockade_store_errors_total", ())] == 6


def test_records_a_full_store_refused_are_counted() -> None:
    metrics = Metrics(process=False)
    assert samples(metrics)[("stockade_store_records_refused_total", ())] == 0
    store = MemoryStore(max_records=1)
    store.ban_ip("192.0.2.1", 2e9, 1e9, BanPolicy())
    for _ in range(2):
        with pytest.raises(StoreError):
            store.record_strike("192.0.2.2", 1e9, BanPolicy())
    metrics.observe_status(store.status())
    assert samples(metrics)[("stockade_store_records_refused_total", ())] == 2
    metrics.observe_status(store.status())
    assert samples(metrics)[("stockade_store_records_refused_total", ())] == 2


def test_scrape_reads_the_guard() -> None:
    class Failing(OffloadedStore):
        async def status(self) -> StoreStatus:
            raise StoreError("memory://", "status", "down")

    async def main() -> tuple[bytes, bytes]:
        good = AsyncGuard(GuardSettings(), OffloadedStore(MemoryStore(), threaded=False), clock=ManualClock(0.0))
        bad = AsyncGuard(GuardSettings(), Failing(MemoryStore(), threaded=False), clock=ManualClock(0.0))
        try:
            return await Metrics().scrape(good), await Metrics().scrape(bad)
        finally:
            await good.aclose()
            await bad.aclose()

    up, down = asyncio.run(main())
    assert b"stockade_store_up 1.0" in up
    assert b"process_cpu_seconds_total" in up  # the process collector, by default
    assert b"stockade_store_up 0.0" in down


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(process=False), Metrics(process=False)
    first.count_request("allowed")
    assert samples(second)[("stockade_requests_total", (("outcome", "allowed"),))] == 0


def test_a_snapshot_renders_every_count_and_gauge_without_creation_times() -> None:
    """What ``GET /metrics`` renders from the admin API's snapshot."""
    metrics = Metrics(process=False)
    for _ in range(5):
        metrics.count_request("allowed")
    metrics.reload_errors.inc(2)
    metrics.pending_writes.set(3)
    metrics.add_counters("mod_block", lambda: {"REQ_TOTAL": 5}, "")
    rendered = parsed(render(snapshot(metrics.registry)))
    assert rendered[("stockade_requests_total", (("outcome", "allowed"),))] == 5
    assert rendered[("stockade_reload_errors_total", ())] == 2
    assert rendered[("mod_block_REQ_TOTAL", ())] == 5
    assert rendered[("stockade_store_pending_writes", ())] == 3
    assert math.isnan(rendered[("stockade_view_lag_seconds", ())])
    assert not any(name.endswith("_created") for name, _labels in rendered)
