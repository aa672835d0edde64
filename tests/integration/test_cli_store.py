"""``stockade store migrate`` and ``stockade status``, as real processes on real stores."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from stockade.clock import SystemClock
from stockade.core.bans import BanPolicy
from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.stores import open_store
from stockade.stores.records import Scope, StoredBan, StoredRecord
from tests.redis_servers import ClusterServers, SingleServer, redis_cluster, redis_single, unique_prefix

__all__ = ["redis_cluster", "redis_single"]

REPO = Path(__file__).resolve().parents[2]
POLICY = LockoutPolicy(max_retries=3, block_time=600.0, fail_expire_time=600.0, auth_timeout=600.0)
ALICE = LockoutKey("/secure", "alice")
BOB = LockoutKey("/secure", "bob", "", "127.0.0.1", 8080)
CAROL = LockoutKey("/admin", "carol")
EVE = LockoutKey("/secure", "", "2001:db8::1")
DAVE = LockoutKey("/secure", "dave")
ANY = "memory://, sqlite:///path.db, redis://, rediss://, redis+sentinel:// or redis+cluster://"


def stockade(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stockade", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=cwd,
        timeout=60,
        check=False,
    )


BANS = BanPolicy(threshold=2, window=600.0, block_duration=600.0, escalation_factor=2.0, remember=86_400.0)
SHORT = BanPolicy(threshold=1, window=600.0, block_duration=10.0, remember=86_400.0)


def _fill(url: str, now: float) -> None:
    """Every kind of live state a store holds, and one record that has expired."""
    store = open_store(url, watch=False)
    try:
        store.block(ALICE, math.inf, now, POLICY)
        for _ in range(2):
            store.record_failure(BOB, now, POLICY)
        assert store.record_success((CAROL,), now, POLICY).accepted
        for _ in range(3):
            store.record_failure(EVE, now, POLICY)
        assert store.reserve((DAVE,), now, POLICY).granted
        store.record_failure(LockoutKey("/secure", "expired"), now - 10_000, POLICY)
        # An automatic ban with an offence remembered for escalation, and a warning (one strike).
        for _ in range(2):
            store.record_strike("203.0.113.5", now, BANS)
        store.record_strike("203.0.113.6", now, BANS)
        # An ended ban whose offence is still remembered, an IPv6 prefix, dry-run and response-rule counts.
        store.record_strike("203.0.113.7", now - 100, SHORT)
        store.record_strike("2001:db8:1::/64", now, BANS)
        store.record_strike("dry|203.0.113.8", now, BANS)
        store.record_strike("not_found|203.0.113.9", now, BANS)
        # Bans by hand: an address for ever, an IPv4 and an IPv6 network.
        store.ban_ip("198.51.100.1", math.inf, now, BANS)
        store.ban_ip("192.0.2.0/24", now + 3600, now, BANS, network=True)
        store.ban_ip("2001:db8:ff::/48", math.inf, now, BANS, network=True)
        store.record_strike("203.0.113.99", now - 10_000, BANS)  # forgotten by now
    finally:
        store.close()


def _contents(url: str, now: float) -> tuple[list[StoredRecord], list[StoredBan]]:
    store = open_store(url, watch=False)
    try:
        return store.export_records(now), store.export_bans(now)
    finally:
        store.close()


def _url(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """A fresh store of ``kind``: an SQLite file, or a key prefix of its own on the suite's Redis."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    fixture = "redis_single" if kind == "redis" else "redis_cluster"
    servers: SingleServer | ClusterServers = request.getfixturevalue(fixture)
    return servers.url(unique_prefix(tmp_path / name))


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(str(request.param), request, tmp_path, "target")


KINDS = ["sqlite", "redis", "redis-cluster"]


@pytest.mark.parametrize("target", KINDS)
@pytest.mark.parametrize("source", KINDS)
def test_migrate_copies_all_live_state_between_every_pair_of_stores(
    request: pytest.FixtureRequest, tmp_path: Path, source: str, target: str
) -> None:
    now = SystemClock().now()  # the CLI uses the wall clock, so the records must be current
    source_url, target_url = _url(source, request, tmp_path, "source"), _url(target, request, tmp_path, "target")
    _fill(source_url, now)
    result = stockade("store", "migrate", source_url, target_url, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"copied 5 lockout records and 9 ban records from {source_url} to {target_url}\n"
    records, bans = _contents(source_url, now)
    assert [r.key for r in records] == [CAROL, EVE, ALICE, BOB, DAVE]  # the expired record stays behind
    assert [b.key for b in bans] == [
        "192.0.2.0/24",
        "198.51.100.1",
        "2001:db8:1::/64",
        "2001:db8:ff::/48",
        "203.0.113.5",
        "203.0.113.6",
        "203.0.113.7",
        "dry|203.0.113.8",
        "not_found|203.0.113.9",
    ]
    assert _contents(target_url, now) == (records, bans)
    # The copies behave: alice stays blocked, bob's two failures still count, the bans hold.
    store = open_store(target_url, watch=False)
    try:
        assert [r.key for r in store.list_blocked(Scope(user="alice"), now)] == [ALICE]
        assert store.record_failure(BOB, now + 1, POLICY).blocked
        assert [r.key for r in store.list_auth(Scope(), now)] == [CAROL]
        assert store.find_ban("192.0.2.77", "192.0.2.77", now) == now + 3600
        assert store.find_ban("2001:db8:ff::1", "2001:db8:ff::1", now) == math.inf
        assert store.find_ban("203.0.113.5", "203.0.113.5", now) == pytest.approx(now + 600)
        assert store.record_strike("203.0.113.6", now + 1, BANS).banned  # the warning's strike counted
        # 203.0.113.7's remembered offence doubles its next ban.
        store.record_strike("203.0.113.7", now + 1, BANS)
        outcome = store.record_strike("203.0.113.7", now + 2, BANS)
        assert outcome.until == pytest.approx(now + 2 + 1200)
    finally:
        store.close()


def test_migrate_merges_into_what_the_target_holds(tmp_path: Path, target_url: str) -> None:
    now = SystemClock().now()
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source_url, now)
    store = open_store(target_url, watch=False)
    try:
        store.ban_ip("203.0.113.5", now + 86_400, now, BANS)  # longer than the source's ban
        store.record_failure(BOB, now - 5, POLICY)  # one failure the source does not know
        store.block(LockoutKey("/secure", "frank"), now + 60, now, POLICY)  # only in the target
    finally:
        store.close()
    result = stockade("store", "migrate", source_url, target_url, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    records, bans = _contents(target_url, now)
    by_key = {r.key: r for r in records}
    assert len(by_key[BOB].state.failures) == 3
    assert by_key[LockoutKey("/secure", "frank")].state.blocked_until == now + 60
    assert {b.key: b for b in bans}["203.0.113.5"].state.banned_until == now + 86_400
    # Running it again changes nothing.
    again = stockade("store", "migrate", source_url, target_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _contents(target_url, now) == (records, bans)


def _target_with_state(target: Path, now: float) -> tuple[list[StoredRecord], list[StoredBan]]:
    store = open_store(f"sqlite:///{target}", watch=False)
    try:
        store.ban_ip("203.0.113.5", now + 86_400, now, BANS)
        store.ban_ip("198.51.100.200", math.inf, now, BANS)
        store.record_failure(BOB, now - 5, POLICY)
    finally:
        store.close()
    return _contents(f"sqlite:///{target}", now)


def test_a_migration_to_a_locked_store_fails_in_one_line_and_changes_nothing(tmp_path: Path) -> None:
    now = SystemClock().now()
    _fill(f"sqlite:///{tmp_path / 'source.db'}", now)
    target = tmp_path / "target.db"
    before = _target_with_state(target, now)
    holder = sqlite3.connect(target, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the target's write lock
        result = stockade(
            "store", "migrate", "sqlite:///source.db", "sqlite:///target.db?busy_timeout=50", cwd=tmp_path
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: store sqlite:///{target} failed during open: database is locked\n"
    assert _contents(f"sqlite:///{target}", now) == before


def test_a_migration_that_fails_part_way_loses_nothing_and_can_run_again(tmp_path: Path) -> None:
    now = SystemClock().now()
    _fill(f"sqlite:///{tmp_path / 'source.db'}", now)
    target = tmp_path / "target.db"
    records_before, bans_before = _target_with_state(target, now)
    with closing(sqlite3.connect(target)) as conn:  # the lockout records go in, then writing a ban fails
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON bans BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        conn.commit()
    result = stockade("store", "migrate", "sqlite:///source.db", "sqlite:///target.db", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: store sqlite:///{target} failed during import: database or disk is full"
        f" (what sqlite:///{target} held is kept; run the migration again)\n"
    )
    records, bans = _contents(f"sqlite:///{target}", now)
    assert bans == bans_before
    assert {r.key for r in records_before} <= {r.key for r in records}
    assert (
        len({r.key: r for r in records}[BOB].state.failures) == 3
    )  # merged: the target's failure and the source's two
    with closing(sqlite3.connect(target)) as conn:
        conn.execute("DROP TRIGGER full")
        conn.commit()
    retry = stockade("store", "migrate", "sqlite:///source.db", "sqlite:///target.db", cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    records, bans = _contents(f"sqlite:///{target}", now)
    assert len({r.key: r for r in records}[BOB].state.failures) == 3
    by_key = {b.key: b for b in bans}
    assert by_key["203.0.113.5"].state.banned_until == now + 86_400
    assert by_key["198.51.100.200"].state.banned_until == math.inf
    assert set(by_key) >= {b.key for b in _contents(f"sqlite:///{tmp_path / 'source.db'}", now)[1]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sqlite:///a.db", "sqlite:///a.db"), "error: FROM_URL and TO_URL are the same store"),
        (("sqlite:///a.db", "sqlite:///./a.db?synchronous=normal"), "error: FROM_URL and TO_URL are the same store"),
        (("ftp://x", "sqlite:///a.db"), f"error: invalid store url 'ftp://x': expected {ANY}"),
        (("sqlite:///missing.db", "sqlite:///b.db"), "error: no SQLite data file at {tmp}/missing.db (FROM_URL)"),
        (
            ("memory://", "sqlite:///a.db"),
            "error: memory:// lives inside one process: nothing to migrate from or to",
        ),
        (
            ("sqlite:///a.db", "memory://?max_records=10"),
            "error: memory://?max_records=10 lives inside one process: nothing to migrate from or to",
        ),
        (
            ("sqlite:///a.db", "redis://:hunter2@h:0"),
            "error: invalid redis port '0': expected an integer from 1 to 65535",
        ),
    ],
)
def test_migrate_usage_errors(tmp_path: Path, args: tuple[str, str], message: str) -> None:
    open_store(f"sqlite:///{tmp_path / 'a.db'}").close()
    result = stockade("store", "migrate", *args, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message.format(tmp=tmp_path) + "\n")
    assert "hunter2" not in result.stderr
    assert not (tmp_path / "b.db").exists()


def test_migrate_from_or_to_an_unreachable_store_exits_1(tmp_path: Path) -> None:
    down = "redis://127.0.0.1:1/0?timeout=0.2"
    open_store(f"sqlite:///{tmp_path / 'a.db'}").close()
    result = stockade("store", "migrate", down, "sqlite:///b.db", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: store {down} failed during export")
    result = stockade("store", "migrate", "sqlite:///a.db", down, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: store {down} failed during ping")
    assert len(result.stderr.splitlines()) == 1


def _config(tmp_path: Path, url: str) -> Path:
    (tmp_path / "users.htpasswd").write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    path = tmp_path / "stockade.toml"
    path.write_text(f'[store]\nurl = "{url}"\n[[directory]]\npath = "/secure"\nauth_user_file = "users.htpasswd"\n')
    return path


def test_status_of_a_redis_store(tmp_path: Path, redis_single: SingleServer) -> None:
    redis_single.flush()
    url = redis_single.url(unique_prefix(tmp_path))
    store = open_store(url, watch=False)
    store.block(ALICE, math.inf, 0.0, POLICY)
    store.close()
    result = stockade("status", "-c", str(_config(tmp_path, url)), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["store"] == url
    assert report["blocked"] == 1
    assert report["latency_ms"] > 0
    assert report["view"]["trusted"] is True
    assert report["view"]["lag_ms"] > 0
    text = stockade("status", "-c", str(_config(tmp_path, url)), cwd=tmp_path)
    assert text.returncode == 0
    assert [line.split(":")[0] for line in text.stdout.splitlines()] == [
        "store",
        "latency",
        "view",
        "blocked",
        "errors",
    ]


def test_status_of_a_sqlite_store_and_of_an_unreachable_one(tmp_path: Path) -> None:
    result = stockade("status", "-c", str(_config(tmp_path, "sqlite:///state.db")), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["view"] == {"trusted": True, "lag_ms": 0.0, "entries": 0}
    down = stockade("status", "-c", str(_config(tmp_path, "redis://127.0.0.1:1/0?timeout=0.2")), cwd=tmp_path)
    assert down.returncode == 1
    assert down.stderr.startswith("error: store redis://127.0.0.1:1/0?timeout=0.2 failed during ping")
