"""Real ``redis-server`` processes for the tests, on free loopback ports.

- ``redis_single``: one server; ``redis_cluster``: a three-node cluster (no replicas).
  Both are session fixtures, started on first use and stopped (processes killed, temporary
  directories removed) when the session ends. Every module that needs one imports the
  fixture from here; a shared reference count keeps it to one set of processes.
- :func:`start_redis` starts a further server with options of its own (a password, TLS, a
  Sentinel); the caller stops it.

Without ``redis-server`` or redis-py the tests that need them are skipped, with the reason,
except under ``CI=true``, where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import pytest

if TYPE_CHECKING:
    import redis

T = TypeVar("T")
_READY = "Ready to accept connections"
_STARTUP_SECONDS = 15.0
_POLL = 0.02


def require_redis() -> str:
    """The ``redis-server`` binary; skips (fails under ``CI=true``) when it or redis-py is missing."""
    missing = None
    binary = shutil.which("redis-server")
    if binary is None:
        missing = "redis-server is not installed (apt-get install redis-server; .ci/run installs it)"
    else:
        try:
            import redis  # noqa: F401, PLC0415
        except ImportError:
            missing = "redis-py is not installed (pip install -e '.[redis]')"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: the Redis tests must run under CI=true", pytrace=False)
        pytest.skip(missing)
    return str(binary)


def require_redis_py() -> None:
    """Call at module level before importing the Redis stores: skips the module without redis-py.

    Under ``CI=true`` the module fails to import instead, which pytest reports as an error.
    """
    try:
        import redis  # noqa: F401, PLC0415
    except ImportError:
        message = "redis-py is not installed (pip install -e '.[redis]')"
        if os.environ.get("CI") == "true":
            raise ImportError(f"{message}: the Redis tests must run under CI=true") from None
        pytest.skip(message, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_prefix(seed: object) -> str:
    """A key prefix of its own for each test store (``seed``: its temporary directory)."""
    return f"t{hashlib.sha1(str(seed).encode()).hexdigest()[:16]}:"


@dataclass
class RedisProcess:
    """One running ``redis-server``."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    owns_directory: bool = False

    @property
    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> redis.Redis:
        import redis  # noqa: PLC0415

        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_redis(
    *options: str, config: Path | None = None, port_option: str = "--port", ready: str = _READY
) -> RedisProcess:
    """Start ``redis-server`` on a free loopback port and wait until its log says ``ready``.

    The port is given as ``port_option`` (``--tls-port`` for a TLS server, with ``--port 0``
    among ``options``); ``config`` is a configuration file to load first (a Sentinel's). The
    server runs in a temporary directory, removed by :meth:`RedisProcess.stop`.
    """
    binary = require_redis()
    where = Path(tempfile.mkdtemp(prefix="stockade-redis-"))
    last_log = ""
    for _ in range(3):  # another process may take the free port before the server binds it
        chosen = free_port()
        (where / "redis.log").unlink(missing_ok=True)
        args = [
            binary,
            *([str(config)] if config is not None else []),
            port_option,
            str(chosen),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(where),
            "--logfile",
            str(where / "redis.log"),
            *options,
        ]
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisProcess(chosen, where, process)
        if _wait_ready(server, ready):
            server.owns_directory = True
            return server
        last_log = server.log
        server.stop()
    shutil.rmtree(where, ignore_errors=True)
    pytest.fail(f"redis-server did not start: {' '.join(options)}\n{last_log}", pytrace=False)


def _wait_ready(server: RedisProcess, ready: str) -> bool:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if ready in server.log:
            return True
        time.sleep(_POLL)
    return False


@dataclass
class SingleServer:
    """The session's single server."""

    server: RedisProcess

    def url(self, prefix: str, path: str = "/0") -> str:
        return f"redis://127.0.0.1:{self.server.port}{path}?prefix={prefix}"

    def flush(self) -> None:
        with self.server.client() as client:
            client.flushall()

    def count(self, pattern: str) -> int:
        with self.server.client() as client:
            return sum(1 for _ in client.scan_iter(match=pattern, count=1000))

    def stop(self) -> None:
        self.server.stop()


@dataclass
class ClusterServers:
    """The session's three-node cluster: each node masters a third of the slots."""

    nodes: list[RedisProcess] = field(default_factory=list)

    def url(self, prefix: str) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:2])
        return f"redis+cluster://{hosts}?prefix={prefix}"

    def flush(self) -> None:
        for node in self.nodes:
            with node.client() as client:
                client.flushall()

    def count(self, pattern: str) -> int:
        total = 0
        for node in self.nodes:
            with node.client() as client:
                total += sum(1 for _ in client.scan_iter(match=pattern, count=1000))
        return total

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(size: int = 3) -> ClusterServers:
    cluster = ClusterServers()
    try:
        bus_ports = []
        for _ in range(size):
            bus = free_port()
            bus_ports.append(bus)
            cluster.nodes.append(
                start_redis(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    str(bus),
                    "--cluster-node-timeout",
                    "5000",
                )
            )
        last = 16384
        for i, node in enumerate(cluster.nodes):
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * last // size, (i + 1) * last // size - 1)
                # Meeting every earlier node directly saves waiting for gossip to spread.
                for earlier, bus in zip(cluster.nodes[:i], bus_ports, strict=False):
                    client.execute_command("CLUSTER", "MEET", "127.0.0.1", earlier.port, bus)
        _wait_for(lambda: all(_cluster_ready(node, size) for node in cluster.nodes), "the cluster to form")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _cluster_ready(node: RedisProcess, size: int) -> bool:
    with node.client() as client:
        info = client.execute_command("CLUSTER", "INFO")
        slots = client.execute_command("CLUSTER", "SLOTS")
    text = info if isinstance(info, str) else str(info)
    return "cluster_state:ok" in text and f"cluster_known_nodes:{size}" in text and len(slots) == size


def _wait_for(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


class _Shared(Generic[T]):
    """One instance for the whole session, however many fixtures (modules) use it."""

    def __init__(self, start: Callable[[], T], stop: Callable[[T], None]) -> None:
        self._start = start
        self._stop = stop
        self._value: T | None = None
        self._users = 0

    @contextmanager
    def use(self) -> Iterator[T]:
        if self._value is None:
            self._value = self._start()
        self._users += 1
        try:
            yield self._value
        finally:
            self._users -= 1
            if self._users == 0:
                value, self._value = self._value, None
                self._stop(value)


_SINGLE: _Shared[SingleServer] = _Shared(lambda: SingleServer(start_redis()), SingleServer.stop)
_CLUSTER: _Shared[ClusterServers] = _Shared(start_cluster, ClusterServers.stop)


@pytest.fixture(scope="session")
def redis_single() -> Iterator[SingleServer]:
    require_redis()
    with _SINGLE.use() as single:
        yield single


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterServers]:
    require_redis()
    with _CLUSTER.use() as cluster:
        yield cluster
