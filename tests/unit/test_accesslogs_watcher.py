"""What a followed access log counts against its clients: response rules, detection, the real client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from stockade.accesslogs.watcher import LogWatcher
from stockade.clock import ManualClock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.stores import open_async_store

CONFIG = """
[server]
listen = []
[store]
url = "memory://"
[proxy]
trusted = ["10.0.0.0/8"]
[bans]
malicious_req_threshold = 2
block_duration = 600
response_rules = [{ name = "not_found_flood", status = [404], count = 3, window = 60 }]
[logs]
files = ["access.log"]
start = "beginning"
"""


def line(client: str, target: str, status: int, agent: str = "Mozilla/5.0") -> str:
    return f'{client} - - [10/Oct/2026:13:55:36 +0000] "GET {target} HTTP/1.1" {status} 10 "-" "{agent}"\n'


def run(
    tmp_path: Path, body: Callable[[LogWatcher, AsyncGuard, Path], Awaitable[None]], extra: str = "", **changes: object
) -> None:
    path = tmp_path / "stockade.toml"
    path.write_text(CONFIG + extra)
    config: Config = load_config(path)
    assert config.logs is not None
    settings = dataclasses.replace(config.logs, **changes)  # type: ignore[arg-type]
    log = tmp_path / "access.log"
    log.touch()

    async def main() -> None:
        clock = ManualClock(1_800_000_000.0)
        guard = AsyncGuard(config.guard_settings(), open_async_store(config.store_url), clock=clock)
        watcher = LogWatcher(settings, lambda: guard, clock=clock, trusted=config.trusted.networks)
        try:
            await body(watcher, guard, log)
        finally:
            for followed in watcher.files:
                followed.close()
            await guard.aclose()

    asyncio.run(main())


def append(log: Path, *lines: str) -> None:
    with log.open("a") as out:
        out.writelines(lines)


def test_a_404_flood_in_the_log_bans_the_client(tmp_path: Path) -> None:
    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        await watcher.poll()
        # Each time the rule's count is passed is a strike; the second strike bans.
        append(log, *(line("203.0.113.7", f"/missing/{i}", 404) for i in range(4)))
        append(log, line("203.0.113.8", "/missing", 404), line("203.0.113.7", "/index.html", 200))
        assert await watcher.poll() == 6
        assert await guard.bans.banned("203.0.113.7") is None
        assert isinstance(watcher.clock, ManualClock)
        watcher.clock.advance(61)  # a rule strikes once a window
        append(log, *(line("203.0.113.7", f"/missing/{i}", 404) for i in range(4)))
        await watcher.poll()
        assert await guard.bans.banned("203.0.113.7") is not None
        assert await guard.bans.banned("203.0.113.8") is None
        assert watcher.counts == {"counted": 10}

    run(tmp_path, body, detect=False)


def test_detection_inspects_the_logged_request_line(tmp_path: Path) -> None:
    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        append(log, line("203.0.113.9", "/.env", 200), line("203.0.113.9", "/x", 200, agent="sqlmap/1.7"))
        await watcher.poll()
        assert await guard.bans.banned("203.0.113.9") is not None

    run(tmp_path, body, detect=True)


def test_without_detection_probes_are_not_counted_twice(tmp_path: Path) -> None:
    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        append(log, *(line("203.0.113.9", "/.env", 200) for _ in range(5)))
        await watcher.poll()
        assert await guard.bans.banned("203.0.113.9") is None
        assert str(await guard.bans.ip_address_status("203.0.113.9")) == "safe"

    run(tmp_path, body, detect=False)


def test_a_path_with_no_canonical_form_still_counts_its_status(tmp_path: Path) -> None:
    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        append(log, *(line("203.0.113.7", "/a/%2e%2e/%2e%2e/etc/passwd", 404) for _ in range(4)))
        await watcher.poll()
        assert str(await guard.bans.ip_address_status("203.0.113.7")) == "warning 1"

    run(tmp_path, body, detect=False)


def test_a_path_only_an_attack_sends_counts_as_one_with_detection(tmp_path: Path) -> None:
    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        append(log, *(line("203.0.113.7", "/a/%2e%2e/%2e%2e/etc/passwd", 404) for _ in range(4)))
        append(log, *(line("203.0.113.8", "/a/%2fb", 404) for _ in range(4)))  # malformed, not hostile
        await watcher.poll()
        assert await guard.bans.banned("203.0.113.7") is not None
        assert str(await guard.bans.ip_address_status("203.0.113.8")) == "warning 1"

    run(tmp_path, body, detect=True)


def test_the_logged_forwarded_for_is_believed_from_trusted_proxies_only(tmp_path: Path) -> None:
    fields = {"client": "remote_addr", "forwarded_for": "xff", "uri": "uri", "method": "method", "status": "status"}

    def entry(remote: str, xff: str) -> str:
        record = {"remote_addr": remote, "xff": xff, "uri": "/.git/config", "method": "GET", "status": 404}
        return json.dumps(record) + "\n"

    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        append(log, entry("10.1.1.1", "6.6.6.6, 203.0.113.7"), entry("10.1.1.1", "203.0.113.7"))
        append(log, entry("198.51.100.9", "203.0.113.50"), entry("198.51.100.9", "203.0.113.50"))
        await watcher.poll()
        assert await guard.bans.banned("203.0.113.7") is not None  # named by the trusted proxy
        assert await guard.bans.banned("6.6.6.6") is None  # the client's own entry
        assert await guard.bans.banned("198.51.100.9") is not None  # an untrusted peer is the client
        assert await guard.bans.banned("203.0.113.50") is None

    run(tmp_path, body, format="json", fields=fields, detect=True)


def test_lines_that_are_not_entries_are_counted_apart(tmp_path: Path) -> None:
    async def body(watcher: LogWatcher, guard: AsyncGuard, log: Path) -> None:
        append(log, "garbage\n", line("unix:", "/", 200), line("203.0.113.7", "/", 200))
        await watcher.poll()
        assert watcher.counts == {"unparsed": 2, "counted": 1}

    run(tmp_path, body)
