"""A ban made in one worker process of ``stockade serve`` applies in every other at once (SQLite)."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import HttpClient, Site
from tests.integration.test_server_workers import serving, wait_for_workers, wait_until_ready

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _python_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes are the Python engine's (the native front runs threads in one process)."""
    monkeypatch.setenv("STOCKADE_ENGINE", "python")


def test_a_banned_ip_is_refused_by_every_worker_without_waiting(site: Site) -> None:
    config = site.write_config(audit=False)
    config.write_text(
        config.read_text()
        + "\n[bans]\nmalicious_req_threshold = 3\nblock_duration = 600\n"
        + 'callback = "tests.integration.callbacks:record"\n'
    )
    with serving(config, workers=2) as (process, port):
        client = HttpClient(port)
        wait_until_ready(client)
        with ThreadPoolExecutor(max_workers=16) as pool:
            workers = wait_for_workers(site, client, pool, 2)
            for path in ("/.env", "/.git/config", "/wp-login.php"):
                assert client.get(path).status == 404  # probes are answered; they count
            # The very next requests, on fresh connections spread over both workers: all refused.
            statuses = list(pool.map(lambda _: client.get("/index.html").status, range(60)))
        assert statuses == [403] * 60
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    blocks = site.read_events("ip_block")
    assert len(blocks) == 1
    refusing = {int(str(e["pid"])) for e in site.read_events("request_rejected")}
    assert refusing == workers
