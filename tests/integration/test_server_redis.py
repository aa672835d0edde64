"""Two ``stockade serve`` processes ("hosts") sharing one Redis, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stockade.stores import open_store
from stockade.stores.records import Scope
from tests.integration.conftest import PASSWORDS, HttpClient, Site
from tests.integration.test_server_workers import serving, wait_until_ready
from tests.redis_servers import SingleServer, free_port, redis_single, unique_prefix

pytestmark = pytest.mark.slow

__all__ = ["redis_single"]

REPO = Path(__file__).resolve().parents[2]
WAIT = 10.0


def _eventually_status(client: HttpClient, auth: tuple[str, str], status: int) -> None:
    deadline = time.monotonic() + WAIT
    while (got := client.get("/secure/", auth=auth).status) != status:
        assert time.monotonic() < deadline, f"still {got}, expected {status}"
        time.sleep(0.01)


def test_two_servers_on_one_redis_share_counts_and_blocks(site: Site, redis_single: SingleServer) -> None:
    redis_single.flush()
    url = redis_single.url(unique_prefix(site.base))
    # Lockout keys include the listener: each server gets its own fixed port, and the command
    # line's configuration names both listeners, so that its block applies on each.
    ports = [free_port(), free_port()]
    configs = [
        site.write_config(audit=False, store_url=url, listen=[f"127.0.0.1:{port}"], name=f"host{i}.toml")
        for i, port in enumerate(ports)
    ]
    both = site.write_config(audit=False, store_url=url, listen=[f"127.0.0.1:{port}" for port in ports])
    alice = ("alice", PASSWORDS["alice"])
    with serving(configs[0], workers=1) as (_, first_port), serving(configs[1], workers=1) as (_, second_port):
        assert [first_port, second_port] == ports
        first, second = HttpClient(first_port), HttpClient(second_port)
        for client in (first, second):
            wait_until_ready(client)
            assert client.get("/secure/", auth=alice).status == 200
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(
                pool.map(
                    lambda i: (first if i % 2 else second).get("/secure/", auth=("bob", "wrong")).status, range(50)
                )
            )
        assert statuses == [401] * 50
        for client in (first, second):
            _eventually_status(client, ("bob", PASSWORDS["bob"]), 403)

        # A block made by the command line (a third process) reaches both servers' views.
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        blocked = subprocess.run(
            [sys.executable, "-m", "stockade", "users", "block", "alice", "-c", str(both), "--dir", "/secure"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert blocked.returncode == 0, blocked.stderr
        for client in (first, second):
            _eventually_status(client, alice, 403)

    failures = [e for e in site.read_events("auth_fail") if e["data"]["user"] == "bob"]  # type: ignore[index]
    assert len(failures) == 50
    assert len([e for e in site.read_events("user_block") if e["data"]["user"] == "bob"]) == 16  # type: ignore[index]
    store = open_store(url, watch=False)
    try:
        listed = sorted((r.key.user, r.key.port) for r in store.list_blocked(Scope(), time.time()))
        assert listed == sorted((user, port) for user in ("alice", "bob") for port in ports)
    finally:
        store.close()
