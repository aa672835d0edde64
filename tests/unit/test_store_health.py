"""Store failures: counted always, logged once per incident, and not once per flap."""

from __future__ import annotations

import logging

import pytest

from stockade.engine.health import QUIET_SECONDS, StoreHealth
from stockade.errors import StoreError

FULL = StoreError("memory://?max_records=3", "write", "full: 3 ban records, all bans in force")


def test_an_incident_is_logged_when_it_starts_and_ends(caplog: pytest.LogCaptureFixture) -> None:
    health = StoreHealth(clock=lambda: 100.0)
    caplog.set_level(logging.WARNING, "stockade.store")
    health.failed(FULL, "open")
    health.failed(FULL, "open")
    health.answered()
    assert [r.getMessage() for r in caplog.records] == [
        f"store failing, requests are let through: {FULL}",
        "store answers again after 2 failed calls",
    ]


def test_a_flapping_store_is_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    health = StoreHealth(clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "stockade.store")
    for _ in range(100):  # a refused new record, then a call that succeeds, again and again
        health.failed(FULL, "closed")
        health.answered()
        now[0] += 0.1
    assert health.errors == 100
    assert len(caplog.records) == 2
    now[0] = 1000.0 + QUIET_SECONDS
    health.failed(FULL, "closed")
    assert caplog.records[-1].getMessage() == f"store failing, requests are let refused: {FULL}"
    assert len(caplog.records) == 3
