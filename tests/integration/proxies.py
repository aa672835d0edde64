"""The proxies a site already runs, for real, in front of a test upstream: nginx and Caddy from Debian.

- :class:`Upstream`: a threaded HTTP server that answers ``/missing...`` with 404 and every
  other path with 200 and the request's headers as JSON (what the upstream was told).
- :class:`Nginx`: nginx as the test user on a loopback port with a temporary configuration
  (its own pid file, logs and temporary directories). ``nginx`` returns once the master
  has bound its listening sockets, so the proxy is ready when :meth:`Nginx.start` returns.
- :class:`Caddy`: ``caddy run`` with a temporary Caddyfile, ready once it logs that it
  serves its configuration.
- :class:`Haproxy`: ``haproxy -D`` with a temporary configuration; like nginx, it returns
  once its listeners are bound and it has daemonised.
- :func:`ask`: one request from a chosen loopback source address (``127.0.0.2``...), so that
  the end clients and the proxy (``127.0.0.1``) are different addresses, as in real life.

On a machine without nginx, Caddy or HAProxy the tests that need them are skipped, except
under ``CI=true``, where ``.ci/run`` installs all three and a missing one is a failure.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import watchfiles

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
CADDY = shutil.which("caddy")
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
WAIT = 30.0


def need(binary: str | None, name: str) -> str:
    """The path of ``name``; skipped without it, except under CI, where it is a failure."""
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed: .ci/run installs it (apt-get install {name})")
        pytest.skip(f"{name} is not installed")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/missing"):
            body, status = b"not found\n", 404
        else:
            body, status = json.dumps({"path": path, "headers": dict(self.headers.items())}).encode(), 200
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_activate(self) -> None:
        super().server_activate()
        # A connection reset between the selector's "readable" and accept() would leave a
        # blocking accept() waiting forever, and shutdown() with it: accept without blocking.
        self.socket.setblocking(False)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        connection.setblocking(True)
        return connection, address

    def handle_error(self, request: object, client_address: object) -> None:
        # A proxy that stops resets its idle keep-alive connections: not an error of the test.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Upstream:
    """The application behind the proxy, on a thread."""

    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Nginx:
    """nginx with ``http`` (the body of its ``http`` block) on a temporary prefix."""

    def __init__(self, base: Path, http: str, *, modules: str = "") -> None:
        self.binary = need(NGINX, "nginx")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.conf = base / "nginx.conf"
        self.error_log = base / "error.log"
        self.access_log = base / "access.log"
        # Run as root, the master would hand its workers to "nobody", who cannot read a test's files.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"  {kind}_temp_path {base / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf.write_text(
            f"{modules}{user}worker_processes 1;\npid {base / 'nginx.pid'};\nerror_log {self.error_log} info;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n  access_log {self.access_log} combined;\n{temp}\n{http}\n}}\n"
        )

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [self.binary, "-p", str(self.base), "-c", str(self.conf), "-e", str(self.error_log), *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"nginx {' '.join(args)} failed: {done.stderr}")

    def start(self) -> Nginx:
        self._run()  # returns once the master has bound its sockets, and daemonised
        return self

    @property
    def pid(self) -> int:
        return int((self.base / "nginx.pid").read_text().strip())

    def reopen(self) -> None:
        """``nginx -s reopen`` (SIGUSR1), and wait until the master and its worker reopened their logs."""
        before = self.error_log.read_text().count("reopening logs")
        self._run("-s", "reopen")
        wait_for_text(self.error_log, "reopening logs", before + 2)

    def stop(self) -> None:
        pid = self.pid
        self._run("-s", "quit")
        _wait_gone(pid)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if (self.base / "nginx.pid").exists():
            self.stop()


class Caddy:
    """``caddy run`` with ``sites`` (the Caddyfile after its global options)."""

    def __init__(self, base: Path, sites: str) -> None:
        self.binary = need(CADDY, "caddy")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.caddyfile = base / "Caddyfile"
        self.caddyfile.write_text("{\n  admin off\n  auto_https off\n}\n" + sites)
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Caddy:
        env = {**os.environ, "HOME": str(self.base), "XDG_DATA_HOME": str(self.base), "XDG_CONFIG_HOME": str(self.base)}
        self.process = subprocess.Popen(
            [self.binary, "run", "--config", str(self.caddyfile), "--adapter", "caddyfile"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        with self._seen:
            ready = self._seen.wait_for(
                lambda: any("serving initial configuration" in line for line in self.lines) or self._ended(), WAIT
            )
        if not ready or self._ended():
            self.__exit__(None, None, None)
            raise RuntimeError("caddy did not start:\n" + "\n".join(self.lines))
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def _ended(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # The reader ends at the end of caddy's output; closing the pipe under it would fail it.
        if self._reader is not None:
            self._reader.join(WAIT)
        if self.process.stderr is not None:
            self.process.stderr.close()


class Haproxy:
    """HAProxy with the configuration ``text`` (which has a ``global`` section) on a temporary directory."""

    def __init__(self, base: Path, text: str) -> None:
        self.binary = need(HAPROXY, "haproxy")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.conf = base / "haproxy.cfg"
        self.pidfile = base / "haproxy.pid"
        head, sep, rest = text.partition("global\n")
        if not sep:
            raise ValueError("an HAProxy configuration without a global section")
        self.conf.write_text(f"{head}global\n    pidfile {self.pidfile}\n{rest}")

    def __enter__(self) -> Haproxy:
        # -D: the parent binds the listeners, forks the daemon and exits; -q: no startup notices.
        done = subprocess.run(
            [self.binary, "-D", "-q", "-f", str(self.conf)], capture_output=True, text=True, timeout=WAIT, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"haproxy did not start: {done.stderr}")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        _wait_gone(pid)


def ask(
    port: int,
    path: str,
    *,
    source: str = "127.0.0.2",
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    """One request from ``source``; the status, the headers (lower-case names) and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT, source_address=(source, 0))
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def wait_for_text(path: Path, text: str, count: int = 1) -> None:
    """Wait until ``path`` holds ``text`` ``count`` times, woken by the file's changes (watchfiles)."""
    stop = threading.Event()
    timer = threading.Timer(WAIT, stop.set)
    timer.start()
    try:
        if _count(path, text) >= count:
            return
        for _changes in watchfiles.watch(path.parent, stop_event=stop, debounce=10, step=10, yield_on_timeout=True):
            if _count(path, text) >= count:
                return
            if stop.is_set():
                break
    finally:
        timer.cancel()
    raise AssertionError(f"{path} holds {text!r} {_count(path, text)} times, not {count}")


def _count(path: Path, text: str) -> int:
    try:
        return path.read_text(errors="replace").count(text)
    except FileNotFoundError:
        return 0


def _wait_gone(pid: int) -> None:
    """Wait until the process ``pid`` (not a child of ours) has ended: a pidfd is readable then."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], WAIT)
    finally:
        os.close(fd)
