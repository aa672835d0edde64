"""Benchmark the clean-request check and the failure transition on every store, against Redis PING.

Speed is measured, not asserted. The baseline is one Redis ``PING`` round trip on loopback,
timed by the same harness in the same run; every figure is printed with its ratio to it.
The point to read off: the clean-request check (valid credentials of a user with nothing
counted against them) is answered from the store's local view, so its cost must not grow
when Redis is further away. To show it, Redis is measured twice: directly, and through a
local TCP proxy that delays every reply by 1 ms (``PING`` through it costs about 1 ms more).

Rows, per store (memory, SQLite, Redis, Redis through the proxy, a three-node Redis Cluster):

* ``clean check``: ``Guard.login_succeeded`` for one of 200 users who logged in before
  (their success records fresh: time is frozen), answered by ``peek_login``;
* ``failure``: ``Guard.login_failed`` for a user never seen (one atomic transition);
* ``block seen elsewhere``: Redis stores only; a block made through one store until a second
  store's view refuses the user (the change feed's delay), median and 99th percentile.

Run with ``make bench`` or ``python bench/stores.py --scale 0.2``. Needs ``redis-server``.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import math
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis

from stockade import DirectorySettings, Guard, GuardSettings, LockoutPolicy, ManualClock, open_store
from stockade.core.lockout import LockoutKey
from stockade.stores.records import LoginResult

DIRECTORY = "/secure"
POLICY = LockoutPolicy(max_retries=3, block_time=3600.0, fail_expire_time=1800.0, auth_timeout=30.0)
NOW = 1_800_000_000.0
CLEAN_POOL = 200
DELAY = 0.001
_serial = itertools.count()


def best_ns_per_op(body: Callable[[int], None], n: int, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        gc.disable()
        try:
            start = time.perf_counter_ns()
            body(n)
            elapsed = time.perf_counter_ns() - start
        finally:
            gc.enable()
        best = min(best, elapsed / n)
    return best


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(*options: str) -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench/stores.py needs redis-server (apt-get install redis-server)")
    where = tempfile.mkdtemp(prefix="stockade-bench-")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            where,
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, retry_on_timeout=False, retry=None)
        for _ in range(250):
            if process.poll() is not None:
                sys.exit(f"redis-server {' '.join(options)} exited at start")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def cluster(size: int = 3) -> Iterator[list[int]]:
    with ExitStack() as stack:
        # The bus port is given: the default, port + 10000, may not exist for a high free port.
        buses = [free_port() for _ in range(size)]
        ports = [
            stack.enter_context(redis_server("--cluster-enabled", "yes", "--cluster-port", str(bus))) for bus in buses
        ]
        clients = [redis.Redis(port=port) for port in ports]
        for i, client in enumerate(clients):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * 16384 // size, (i + 1) * 16384 // size - 1)
            for earlier, bus in zip(ports[:i], buses, strict=False):
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", earlier, bus)
        for _ in range(500):
            if all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients):
                break
            time.sleep(0.02)
        time.sleep(0.5)  # let every node learn every slot
        for client in clients:
            client.close()
        yield ports


class DelayProxy:
    """A TCP proxy on loopback that holds every reply chunk for ``delay`` seconds, in order."""

    def __init__(self, upstream: int, delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self.thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        started.set()
        self.loop.run_forever()
        server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
            while chunk := await source.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                sink.write(chunk)
                await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer, 0.0), pump(up_reader, writer, self.delay), return_exceptions=True)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def ping_ns(port: int, n: int, repeats: int) -> float:
    client = redis.Redis(port=port)
    client.ping()

    def body(count: int) -> None:
        for _ in range(count):
            client.ping()

    try:
        return best_ns_per_op(body, n, repeats)
    finally:
        client.close()


def guard_on(url: str) -> Guard:
    guard = Guard(
        GuardSettings(directories=(DirectorySettings(DIRECTORY, POLICY),)), open_store(url), clock=ManualClock(NOW)
    )
    feed = getattr(guard.store, "feed", None)
    if feed is not None and not feed.wait_subscribed(10):
        sys.exit(f"the change feed of {url} never subscribed")
    return guard


def clean_check_ns(url: str, n: int, repeats: int) -> float:
    guard = guard_on(url)
    batch = next(_serial)
    users = [f"clean-{batch}-{i}" for i in range(CLEAN_POOL)]
    try:
        for user in users:
            assert guard.login_succeeded(user, DIRECTORY).accepted

        def body(count: int) -> None:
            login = guard.login_succeeded
            for i in range(count):
                login(users[i % CLEAN_POOL], DIRECTORY)

        return best_ns_per_op(body, n, repeats)
    finally:
        guard.close()


def failure_ns(url: str, n: int, repeats: int) -> float:
    guard = guard_on(url)
    try:

        def body(count: int) -> None:
            batch = next(_serial)
            failed = guard.login_failed
            for i in range(count):
                failed(f"fail-{batch}-{i}", DIRECTORY)

        body(50)  # scripts loaded, connections open
        return best_ns_per_op(body, n, repeats)
    finally:
        guard.close()


def propagation_ms(url: str, trials: int) -> tuple[float, float]:
    first, second = open_store(url), open_store(url)
    pause = threading.Event()
    delays: list[float] = []
    try:
        for store in (first, second):
            store.feed.wait_subscribed(10)  # type: ignore[attr-defined]
        for i in range(trials):
            key = LockoutKey(DIRECTORY, f"seen-{next(_serial)}-{i}")
            assert second.record_success((key,), NOW, POLICY).accepted
            started = time.perf_counter()
            first.block(key, NOW + 60, NOW, POLICY)
            while second.peek_login((key,), NOW, POLICY) != _refused(NOW + 60):
                pause.wait(0.0001)  # a request every 0.1 ms, not a spin that starves the feed thread
            delays.append((time.perf_counter() - started) * 1000)
    finally:
        first.close()
        second.close()
    delays.sort()
    return statistics.median(delays), delays[min(len(delays) - 1, int(len(delays) * 0.99))]


def _refused(until: float) -> LoginResult:
    return LoginResult(accepted=False, until=until)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every iteration count")
    args = parser.parse_args()
    reads, writes, repeats = int(20_000 * args.scale) or 1, int(2_000 * args.scale) or 1, 5
    results: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="stockade-bench-stores-"))
    try:
        with redis_server() as port, cluster() as cluster_ports:
            proxy = DelayProxy(port, DELAY)
            try:
                baseline = ping_ns(port, writes * 2, repeats)
                delayed_ping = ping_ns(proxy.port, max(writes // 4, 1), 3)
                stores = [
                    ("memory", "memory://?max_records=1000000"),
                    ("sqlite", f"sqlite:///{work / 'bench.db'}"),
                    ("redis", f"redis://127.0.0.1:{port}/0"),
                    ("redis +1 ms", f"redis://127.0.0.1:{proxy.port}/0?prefix=delayed:"),
                    ("redis cluster", f"redis+cluster://127.0.0.1:{cluster_ports[0]}"),
                ]
                results.append({"store": "redis", "operation": "PING (baseline)", "ns_per_op": baseline})
                results.append({"store": "redis +1 ms", "operation": "PING", "ns_per_op": delayed_ping})
                for name, url in stores:
                    print(f"measuring {name} ...", file=sys.stderr)
                    results.append(
                        {"store": name, "operation": "clean check", "ns_per_op": clean_check_ns(url, reads, repeats)}
                    )
                    few = max(writes // 4, 1) if "+1 ms" in name else writes
                    results.append({"store": name, "operation": "failure", "ns_per_op": failure_ns(url, few, 3)})
                # The machine's speed drifts: the baseline is the better of a PING before and after.
                baseline = min(baseline, ping_ns(port, writes * 2, repeats))
                results[0]["ns_per_op"] = baseline
                propagation: dict[str, tuple[float, float]] = {}
                for name, url in stores[2:]:
                    if "+1 ms" in name:
                        continue
                    propagation[name] = propagation_ms(url, max(int(100 * args.scale), 10))
            finally:
                proxy.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Python {platform.python_version()} ({sys.executable}), redis-server on loopback")
    print(f"baseline: Redis PING round trip = {baseline:,.0f} ns; through the 1 ms proxy = {delayed_ping:,.0f} ns")
    print()
    print("| store | operation | ns/op | ops/s | x PING |")
    print("|---|---|---:|---:|---:|")
    for row in results:
        ns = row["ns_per_op"]
        row["ratio_to_ping"] = round(ns / baseline, 3)
        row["ns_per_op"] = round(ns, 1)
        print(f"| {row['store']} | {row['operation']} | {ns:,.0f} | {1e9 / ns:,.0f} | {ns / baseline:.3f} |")
    print()
    print("| store | block seen by another store's view: median | p99 |")
    print("|---|---:|---:|")
    for name, (median, p99) in propagation.items():
        print(f"| {name} | {median:.2f} ms | {p99:.2f} ms |")
    print(
        json.dumps(
            {
                "baseline_ping_ns": round(baseline, 1),
                "rows": results,
                "propagation_ms": {
                    name: {"median": round(m, 3), "p99": round(p, 3)} for name, (m, p) in propagation.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
