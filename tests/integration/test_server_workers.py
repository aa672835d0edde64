"""``stockade serve`` as a real process: the native front's threads sharing one SQLite file, SIGKILL, the admin API.

``workers`` are threads of one process: every count is that process's, and the admin API
answers for all of them at once.
"""

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


def _command(config: Path, workers: int) -> list[str]:
    """The ``stockade`` console script of the interpreter running the tests."""
    return [str(Path(sys.executable).with_name("stockade")), "serve", "-c", str(config), "--workers", str(workers)]


def serving(config: Path, workers: int) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[str], int]]:
    """Run ``stockade serve``; yields the process and its port once it printed its listening line."""
    return running(_command(config, workers))


@contextmanager
def running(command: list[str], **env: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Run a server process (``env`` added to the environment); yields it and its port once it is listening."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **env}
    process = subprocess.Popen(
        command,
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
        # Whatever happened, no process of the test outlives it.
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


def test_concurrent_failures_on_two_threads_are_counted_exactly(site: Site) -> None:
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


def test_a_banned_ip_is_refused_on_every_thread_without_waiting(site: Site) -> None:
    config = site.write_config(audit=False)
    config.write_text(
        config.read_text()
        + "\n[bans]\nmalicious_req_threshold = 3\nblock_duration = 600\n"
        + 'callback = "tests.integration.callbacks:record"\n'
    )
    with serving(config, workers=2) as (process, port):
        client = HttpClient(port)
        wait_until_ready(client)
        for path in ("/.env", "/.git/config", "/wp-login.php"):
            assert client.get(path).status == 404  # probes are answered; they count
        with ThreadPoolExecutor(max_workers=16) as pool:
            # The very next requests, on fresh connections spread over both threads: all refused.
            statuses = list(pool.map(lambda _: client.get("/index.html").status, range(60)))
        assert statuses == [403] * 60
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert len(site.read_events("ip_block")) == 1


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


# -- the admin API of two threads ---------------------------------------------------------------

TOKEN = "a-token-of-sixteen-or-more"
ALLOWED = 'stockade_requests_total{outcome="allowed"}'


def two_threads(site: Site) -> Path:
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


def test_the_admin_api_counts_every_thread_and_never_goes_backwards(site: Site) -> None:
    with ServeProcess(two_threads(site), token=TOKEN) as server, ThreadPoolExecutor(max_workers=16) as pool:
        sent = refused = 0
        scrapes: list[float] = []
        for _ in range(5):
            statuses = list(pool.map(server.request, ["/"] * 16 + ["/blocked"] * 4))
            assert statuses == [200] * 16 + [0] * 4
            sent, refused = sent + 16, refused + 4
            scrapes.append(server.metric(ALLOWED))
        assert scrapes == sorted(scrapes)  # successive scrapes never go backwards
        assert scrapes[-1] == sent  # and count both threads' requests
        assert server.metric("mod_block_REQ_REFUSE") == refused
        status, body = server.admin("GET", "/status")
        assert status == 200, body
        assert body["mod_block"]["mod_block_REQ_REFUSE"] == refused
        (process,) = body["workers"]  # one process, whatever its threads
        assert (process["pid"], process["state"]) == (server.pid, "ready")
        assert sum(process["requests"].values()) == sent + refused


def test_reloads_under_two_threads(site: Site) -> None:
    rules = site.base / "mod_block" / "rules.data"
    with ServeProcess(two_threads(site), token=TOKEN) as server:
        server.wait_for_log(r"\[(\d+)\]: watching ")

        # POST /reload: done, this process's answer listed.
        write_rules(rules, "/blocked", "/also")
        status, answer = server.admin("POST", "/reload")
        assert status == 200, answer
        assert [(w["pid"], w["reload"]) for w in answer["workers"]] == [(server.pid, "ok")]
        assert str(rules) in answer["changed"]["files"]
        assert server.request("/also") == 0

        # SIGHUP: reloaded once.
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_for_log(r"reloaded .*stockade\.toml \(signal\)", after=mark)

        # The watcher applies the edit, after those reloads too.
        mark = server.mark()
        write_rules(rules, "/blocked", "/also", "/third")
        server.wait_for_log(r"reloaded .*rules\.data \(watch\)", after=mark)
        _, status = server.admin("GET", "/status")
        assert [w["block"]["rules"] for w in status["workers"]] == [3]
        assert server.request("/third") == 0

        # A broken file fails (the watcher, then the API): counted once each time, the old rules stay.
        mark = server.mark()
        write_rules(rules, "/blocked", cond="req_pth_in()")
        server.wait_for_log(r"reload of .*rules\.data refused \(watch\)", after=mark)
        status, answer = server.admin("POST", "/reload")
        assert status == 409
        assert len(answer["errors"]) == 1
        assert [w["reload"] for w in answer["workers"]] == ["error"]
        assert server.metric("stockade_reload_errors_total") == 2
        assert server.metric("mod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE") == 2
        assert server.request("/third") == 0
        assert server.stop() == 0
