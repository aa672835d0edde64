"""``stockade serve`` as a real process: several workers sharing one SQLite file, and SIGKILL."""

from __future__ import annotations

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
        _command(config, workers), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
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


def test_concurrent_failures_across_two_workers_are_counted_exactly(site: Site) -> None:
    config = site.write_config(audit=False)
    with serving(config, workers=2) as (process, port):
        client = HttpClient(port)
        wait_until_ready(client)
        with ThreadPoolExecutor(max_workers=25) as pool:
            statuses = list(pool.map(lambda _: client.get("/secure/", auth=("alice", "wrong")).status, range(50)))
        assert statuses == [401] * 50
        assert client.get("/secure/", auth=("alice", "wonderland")).status == 403
        process.send_signal(signal.SIGINT)  # a graceful stop delivers every queued event
        assert process.wait(timeout=20) == 0
    assert len(site.read_events("auth_fail")) == 50
    assert len(site.read_events("user_block")) == 16
    assert blocked_users(site) == ["alice"]


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
