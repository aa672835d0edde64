"""``stockade serve`` as a real process: several workers sharing one SQLite file, and SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from stockade.stores import open_store
from stockade.stores.records import Scope
from tests.integration.conftest import HttpClient, Site

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _command(config: Path, workers: int) -> list[str]:
    """The ``stockade`` console script of the interpreter running the tests."""
    return [str(Path(sys.executable).with_name("stockade")), "serve", "-c", str(config), "--workers", str(workers)]


@contextmanager
def serving(config: Path, workers: int) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Run the server process; yields it and its port once it printed its listening line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        _command(config, workers),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("stockade: listening on http://127.0.0.1:"), (line, process.stderr)
        yield process, int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # Whatever happened, no worker process outlives the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def wait_until_ready(client: HttpClient) -> None:
    # The socket is listening before the workers start: the first request simply waits in the backlog.
    assert client.get("/").status == 200


def blocked_users(site: Site) -> list[str]:
    store = open_store(f"sqlite:///{site.store}")
    try:
        return [r.key.user for r in store.list_blocked(Scope(directory="/secure"), time.time())]
    finally:
        store.close()


def failure_pids(site: Site, *, probe: bool) -> set[int]:
    """The processes whose callbacks reported ``auth_fail`` for the probe users, or for the others."""
    events = site.read_events("auth_fail")
    return {int(str(e["pid"])) for e in events if str(e["data"]["user"]).startswith("probe") == probe}  # type: ignore[index]


def wait_for_workers(site: Site, client: HttpClient, pool: ThreadPoolExecutor, count: int) -> set[int]:
    """Send one-off failures for throwaway users until ``count`` worker processes have answered.

    The listening socket exists before the workers do, so a burst sent as soon as the first
    worker answers may all land on it; once every worker is accepting, they share the load.
    Each probe user fails once, far below ``max_retries``, so no probe blocks anybody.
    """
    deadline = time.monotonic() + 60
    sent = 0
    while len(pids := failure_pids(site, probe=True)) < count:
        assert time.monotonic() < deadline, f"only workers {pids} answered {sent} probes"
        batch = range(sent, sent + 8)
        assert set(pool.map(lambda i: client.get("/secure/", auth=(f"probe{i}", "wrong")).status, batch)) == {401}
        sent += len(batch)
        time.sleep(0.05)  # the workers write events from a background thread
    return pids


def test_concurrent_failures_across_two_workers_are_counted_exactly(site: Site) -> None:
    config = site.write_config(audit=False)
    with serving(config, workers=2) as (process, port):
        client = HttpClient(port)
        wait_until_ready(client)
        with ThreadPoolExecutor(max_workers=25) as pool:
            workers = wait_for_workers(site, client, pool, 2)
            statuses = list(pool.map(lambda _: client.get("/secure/", auth=("alice", "wrong")).status, range(50)))
        assert statuses == [401] * 50
        assert client.get("/secure/", auth=("alice", "wonderland")).status == 403
        process.send_signal(signal.SIGINT)  # a graceful stop delivers every queued event
        assert process.wait(timeout=20) == 0
    failures = [e for e in site.read_events("auth_fail") if e["data"]["user"] == "alice"]  # type: ignore[index]
    assert len(failures) == 50
    assert len(site.read_events("user_block")) == 16
    assert blocked_users(site) == ["alice"]
    # Both worker processes (not the supervisor) answered part of the burst.
    assert failure_pids(site, probe=False) == workers
    assert len(workers) == 2
    assert process.pid not in workers


def test_sigkill_never_loses_an_answered_block(site: Site) -> None:
    config = site.write_config(audit=False, callback=[])
    users = [f"user{i:03d}" for i in range(300)]
    answered: list[str] = []
    lock = threading.Condition()

    def attack(user: str, client: HttpClient) -> None:
        try:
            for _ in range(3):
                if client.get("/secure/", auth=(user, "wrong")).status != 401:
                    return
        except OSError:
            return  # the server was killed under this request
        with lock:
            answered.append(user)
            lock.notify_all()

    with serving(config, workers=1) as (process, port):
        client = HttpClient(port)
        wait_until_ready(client)
        with ThreadPoolExecutor(max_workers=16) as pool:
            for user in users:
                pool.submit(attack, user, client)
            with lock:
                assert lock.wait_for(lambda: len(answered) >= 40, timeout=60)
                process.send_signal(signal.SIGKILL)
                done = set(answered)
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert len(done) < len(users)  # the kill really happened mid-burst
    assert done <= set(blocked_users(site))
    with sqlite3.connect(site.store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
