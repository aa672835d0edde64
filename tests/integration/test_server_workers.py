"""``stockade serve`` as a real process: several workers sharing one SQLite file, SIGKILL, and one admin API."""

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
from tests.integration.serve_process import ServeProcess
from tests.integration.test_server_reload import write_rules

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _python_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes and their supervisor are the Python engine's (the native front runs threads)."""
    monkeypatch.setenv("STOCKADE_ENGINE", "python")


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


def test_concurrent_failures_on_two_native_threads_are_counted_exactly(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The native front's ``workers = 2`` are threads of one process: the same exact counts."""
    monkeypatch.setenv("STOCKADE_ENGINE", "native")
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
    failures = [e for e in site.read_events("auth_fail") if e["data"]["user"] == "alice"]  # type: ignore[index]
    assert len(failures) == 50
    assert len(site.read_events("user_block")) == 16
    assert blocked_users(site) == ["alice"]
    assert {int(str(e["pid"])) for e in failures} == {process.pid}  # one process


def test_sigkill_never_loses_an_answered_block(site: Site, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKADE_ENGINE", engine)  # one worker: either engine
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


# -- the admin API of two workers -------------------------------------------------------------

TOKEN = "a-token-of-sixteen-or-more"


def two_workers(site: Site) -> Path:
    (site.base / "mod_block").mkdir()
    write_rules(site.base / "mod_block" / "rules.data", "/blocked")
    (site.base / "mod_block" / "ips.data").write_text("192.0.2.1\n")
    config = site.write_config(workers=2, audit=False)
    config.write_text(
        config.read_text()
        + '\n[block]\nrules = "mod_block/rules.data"\nip_blocklist = "mod_block/ips.data"\n'
        + '[block.hosts]\ndefault_product = "web"\n'
        + f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
    )
    return config


def requests_per_worker(server: ServeProcess) -> dict[int, int]:
    status, body = server.admin("GET", "/status")
    assert status == 200, body
    return {w["pid"]: sum(w["requests"].values()) for w in body["workers"]}


ALLOWED = 'stockade_requests_total{outcome="allowed"}'


def test_metrics_sum_every_worker_and_never_go_backwards(site: Site) -> None:
    with ServeProcess(two_workers(site), token=TOKEN) as server, ThreadPoolExecutor(max_workers=16) as pool:
        server.wait_for_log(r"worker \d \(pid \d+\) ready", count=2)
        sent = refused = 0
        scrapes: list[float] = []
        # Until both workers have served some: the kernel decides which accepts a connection.
        deadline = time.monotonic() + 60
        while not all(served := requests_per_worker(server).values()) or len(scrapes) < 10:
            assert time.monotonic() < deadline, served
            statuses = list(pool.map(server.request, ["/"] * 16 + ["/blocked"] * 4))
            assert statuses == [200] * 16 + [0] * 4
            sent, refused = sent + 16, refused + 4
            scrapes.append(server.metric(ALLOWED))
        assert len(served) == 2
        assert scrapes == sorted(scrapes)  # successive scrapes never go backwards
        assert scrapes[-1] == sent  # and sum both workers
        assert sum(requests_per_worker(server).values()) == sent + refused
        assert server.metric("mod_block_REQ_REFUSE") == refused
        _, status = server.admin("GET", "/status")
        assert status["mod_block"]["mod_block_REQ_REFUSE"] == refused
        assert [w["state"] for w in status["workers"]] == ["ready", "ready"]


def test_a_replaced_worker_never_makes_a_counter_go_down(site: Site) -> None:
    with ServeProcess(two_workers(site), token=TOKEN) as server, ThreadPoolExecutor(max_workers=16) as pool:
        server.wait_for_log(r"worker \d \(pid \d+\) ready", count=2)
        deadline = time.monotonic() + 60
        sent = 0
        while not all((served := requests_per_worker(server)).values()):
            assert time.monotonic() < deadline, served
            assert set(pool.map(server.request, ["/"] * 16)) == {200}
            sent += 16
        before = server.metric(ALLOWED)
        assert before == sent
        victim = next(iter(served))
        mark = server.mark()
        os.kill(victim, signal.SIGKILL)
        (ready,) = server.wait_for_log(r"worker (\d) \(pid (\d+)\) ready", after=mark)
        assert int(ready[2]) not in served
        # The victim's counts stay in the totals; its replacement starts from zero.
        assert server.metric(ALLOWED) == before
        assert set(pool.map(server.request, ["/"] * 16)) == {200}
        assert server.metric(ALLOWED) == before + 16
        _, status = server.admin("GET", "/status")
        assert sorted(w["restarts"] for w in status["workers"]) == [0, 1]
        assert victim not in {w["pid"] for w in status["workers"]}


def test_reloads_reach_every_worker(site: Site) -> None:
    rules = site.base / "mod_block" / "rules.data"
    with ServeProcess(two_workers(site), token=TOKEN) as server:
        ready = server.wait_for_log(r"worker \d \(pid (\d+)\) ready", count=2)
        workers = {int(match[1]) for match in ready}
        server.wait_for_log(r"\[(\d+)\]: watching ", count=2)

        # POST /reload: done in both, each worker's answer listed.
        write_rules(rules, "/blocked", "/also")
        status, answer = server.admin("POST", "/reload")
        assert status == 200, answer
        assert {w["pid"] for w in answer["workers"]} == workers
        assert {w["reload"] for w in answer["workers"]} == {"ok"}
        assert str(rules) in answer["changed"]["files"]

        # SIGHUP to the supervisor: every worker reloads.
        mark = server.mark()
        server.signal(signal.SIGHUP)
        reloaded = server.wait_for_log(r"\[(\d+)\]: reloaded .*stockade\.toml \(signal\)", count=2, after=mark)
        assert {int(match[1]) for match in reloaded} == workers

        # The watcher: every worker applies the edit, after those reloads too.
        mark = server.mark()
        write_rules(rules, "/blocked", "/also", "/third")
        reloaded = server.wait_for_log(r"\[(\d+)\]: reloaded .*rules\.data \(watch\)", count=2, after=mark)
        assert {int(match[1]) for match in reloaded} == workers
        _, status = server.admin("GET", "/status")
        assert [w["block"]["rules"] for w in status["workers"]] == [3, 3]

        # A broken file fails in both workers (the watcher, then the API): counted once each time.
        mark = server.mark()
        write_rules(rules, "/blocked", cond="req_pth_in()")
        server.wait_for_log(r"reload of .*rules\.data refused \(watch\)", count=2, after=mark)
        status, answer = server.admin("POST", "/reload")
        assert status == 409
        assert len(answer["errors"]) == 1
        assert [w["reload"] for w in answer["workers"]] == ["error", "error"]
        assert server.metric("stockade_reload_errors_total") == 2
        assert server.metric("mod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE") == 2
        assert server.stop() == 0
