"""Workers sharing a SQLite file read each other's changes at most once per catch-up interval.

``PRAGMA data_version`` costs four system calls, more than the rest of a clean request, so
the local views ask it at most once every ``catch_up_seconds``; a change is seen once that
interval has passed, never lost. The interval is paced by an injected clock: the tests move
it by hand and never sleep.
"""

from __future__ import annotations

from pathlib import Path

from stockade.clock import ManualClock
from stockade.core.bans import BanPolicy
from stockade.stores import SQLiteStore
from stockade.stores.records import BanPeek
from stockade.stores.sqlite import CATCH_UP_SECONDS

T0 = 1_800_000_000.0
POLICY = BanPolicy(threshold=1, window=60.0, block_duration=100.0)
IP = "192.0.2.10"


def test_a_change_waits_for_the_interval_then_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    pace = ManualClock(0.0)
    writer, reader = SQLiteStore(path), SQLiteStore(path, catch_up_seconds=0.5, catch_up_clock=pace.now)
    try:
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, None)  # asks the file now
        writer.ban_ip(IP, T0 + 100, T0, POLICY)
        pace.advance(0.49)
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, None)  # within the interval: not asked again
        pace.advance(0.01)
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, T0 + 100)
    finally:
        writer.close()
        reader.close()


def test_an_interval_of_zero_asks_on_every_read(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    pace = ManualClock(0.0)
    writer, reader = SQLiteStore(path), SQLiteStore(path, catch_up_seconds=0.0, catch_up_clock=pace.now)
    try:
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, None)
        writer.ban_ip(IP, T0 + 100, T0, POLICY)
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, T0 + 100)  # the clock has not moved
    finally:
        writer.close()
        reader.close()


def test_the_default_interval_is_one_millisecond(tmp_path: Path) -> None:
    assert CATCH_UP_SECONDS == 0.001
    path = tmp_path / "state.db"
    pace = ManualClock(0.0)
    writer, reader = SQLiteStore(path), SQLiteStore(path, catch_up_clock=pace.now)
    try:
        reader.peek_ban(IP, IP, T0)
        writer.ban_ip(IP, T0 + 100, T0, POLICY)
        pace.advance(0.0009)
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, None)
        pace.advance(0.0001)
        assert reader.peek_ban(IP, IP, T0) == BanPeek(True, T0 + 100)
    finally:
        writer.close()
        reader.close()
