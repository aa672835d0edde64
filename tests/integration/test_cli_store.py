"""``stockade store migrate`` and ``stockade status``, as real processes on real stores."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.clock import SystemClock
from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.stores import open_store
from stockade.stores.records import Scope
from tests.redis_servers import ClusterServers, SingleServer, redis_cluster, redis_single, unique_prefix

__all__ = ["redis_cluster", "redis_single"]

REPO = Path(__file__).resolve().parents[2]
POLICY = LockoutPolicy(max_retries=3, block_time=600.0, fail_expire_time=600.0, auth_timeout=600.0)
ALICE = LockoutKey("/secure", "alice")
BOB = LockoutKey("/secure", "bob", "", "127.0.0.1", 8080)
CAROL = LockoutKey("/admin", "carol")
EVE = LockoutKey("/secure", "", "2001:db8::1")
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


def _fill(url: str, now: float) -> None:
    store = open_store(url, watch=False)
    try:
        store.block(ALICE, math.inf, now, POLICY)
        for _ in range(2):
            store.record_failure(BOB, now, POLICY)
        assert store.record_success((CAROL,), now, POLICY).accepted
        for _ in range(3):
            store.record_failure(EVE, now, POLICY)
        store.record_failure(LockoutKey("/secure", "expired"), now - 10_000, POLICY)
    finally:
        store.close()


def _contents(url: str, now: float) -> list[tuple[LockoutKey, object, float]]:
    store = open_store(url, watch=False)
    try:
        return [(r.key, r.state, r.expires_at) for r in store.export_records(now)]
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    fixture = "redis_single" if request.param == "redis" else "redis_cluster"
    servers: SingleServer | ClusterServers = request.getfixturevalue(fixture)
    servers.flush()
    return servers.url(unique_prefix(tmp_path))


def test_migrate_copies_every_live_record(tmp_path: Path, target_url: str) -> None:
    now = SystemClock().now()  # the CLI uses the wall clock, so the records must be current
    _fill(f"sqlite:///{tmp_path / 'source.db'}", now)
    result = stockade("store", "migrate", "sqlite:///source.db", target_url, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("copied 4 records from sqlite:///")
    source = _contents(f"sqlite:///{tmp_path / 'source.db'}", now)
    assert [key for key, _, _ in source] == [CAROL, EVE, ALICE, BOB]  # the expired record stays behind
    assert _contents(target_url, now) == source
    # The copies behave: alice stays blocked, bob's two failures still count.
    store = open_store(target_url, watch=False)
    try:
        assert [r.key for r in store.list_blocked(Scope(user="alice"), now)] == [ALICE]
        assert store.record_failure(BOB, now + 1, POLICY).blocked
        assert [r.key for r in store.list_auth(Scope(), now)] == [CAROL]
    finally:
        store.close()


def test_migrate_back_from_redis_to_a_new_sqlite_file(tmp_path: Path, redis_single: SingleServer) -> None:
    now = SystemClock().now()
    redis_single.flush()
    url = redis_single.url(unique_prefix(tmp_path))
    _fill(url, now)
    result = stockade("store", "migrate", url, "sqlite:///back.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _contents(f"sqlite:///{tmp_path / 'back.db'}", now) == _contents(url, now)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sqlite:///a.db", "sqlite:///a.db"), "error: FROM_URL and TO_URL are the same store"),
        (("ftp://x", "sqlite:///a.db"), f"error: invalid store url 'ftp://x': expected {ANY}"),
        (
            ("sqlite:///a.db", "redis://:hunter2@h:0"),
            "error: invalid redis port '0': expected an integer from 1 to 65535",
        ),
    ],
)
def test_migrate_usage_errors(tmp_path: Path, args: tuple[str, str], message: str) -> None:
    result = stockade("store", "migrate", *args, cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert "hunter2" not in result.stderr


def test_migrate_from_an_unreachable_store_exits_1(tmp_path: Path) -> None:
    result = stockade("store", "migrate", "redis://127.0.0.1:1/0?timeout=0.2", "sqlite:///a.db", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: store redis://127.0.0.1:1/0?timeout=0.2 failed during export")


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
