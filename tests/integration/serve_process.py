"""``stockade serve`` as a real process, for tests: its addresses, its log lines as events, its admin API.

The process prints its listening lines on stdout before serving; its log goes to stderr,
which a thread reads line by line, so that a test waits for a log line (an event) instead
of sleeping, and the pipe never fills.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0
_LISTENING = re.compile(
    r"^stockade: (?P<what>listening|admin API|decision endpoint) on http://127\.0\.0\.1:(?P<port>\d+)/$"
)


class ServeProcess:
    """``stockade serve -c CONFIG [ARGS]``; a context manager that stops it (SIGINT, then SIGKILL)."""

    def __init__(self, config: Path, *args: str, token: str = "") -> None:
        self.config = config
        self.token = token
        self.args = args
        self.port = 0
        self.admin_port = 0
        self.decision_port = 0
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader: threading.Thread | None = None
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServeProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        command = [str(Path(sys.executable).with_name("stockade")), "serve", "-c", str(self.config), *self.args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        assert self.process.stdout is not None
        while not (self.port or self.decision_port) or (self.token and not self.admin_port):
            line = self.process.stdout.readline()
            assert line, f"the server ended before listening: {self.lines}"
            match = _LISTENING.match(line.rstrip())
            if match is not None and match["what"] == "listening":
                self.port = int(match["port"])
            elif match is not None and match["what"] == "decision endpoint":
                self.decision_port = int(match["port"])
            elif match is not None:
                self.admin_port = int(match["port"])
        return self

    def _read_log(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_for_log(self, pattern: str, *, count: int = 1, after: int = 0) -> list[re.Match[str]]:
        """The first ``count`` log lines from line ``after`` on that match ``pattern``, once they are there."""
        regex = re.compile(pattern)

        def found() -> list[re.Match[str]]:
            return [m for line in self.lines[after:] if (m := regex.search(line)) is not None]

        with self._seen:
            ok = self._seen.wait_for(lambda: len(found()) >= count or self._ended(), WAIT)
            matches = found()
        assert ok, f"no {count} lines matching {pattern!r} in:\n" + "\n".join(self.lines)
        assert len(matches) >= count, f"the server ended before {count} lines matched {pattern!r}"
        return matches[:count]

    def _ended(self) -> bool:
        return self.process is not None and self.process.poll() is not None and not self._reader_alive()

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def mark(self) -> int:
        """The number of log lines so far: pass it as ``after`` to wait only for what comes next."""
        with self._seen:
            return len(self.lines)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def request(self, path: str, *, port: int | None = None) -> int:
        """A GET on the server; its status, or 0 when the connection was closed without an answer."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return 0
        finally:
            conn.close()

    def admin(self, method: str, path: str) -> tuple[int, Any]:
        """An admin API call; JSON answers decoded, others as text."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=30)
        try:
            body = b"{}" if method == "POST" else None
            conn.request(method, path, body=body, headers={"Authorization": f"Bearer {self.token}"})
            response = conn.getresponse()
            data = response.read()
            if response.getheader("content-type", "").startswith("application/json"):
                return response.status, json.loads(data)
            return response.status, data.decode()
        finally:
            conn.close()

    def metric(self, name: str) -> float:
        status, text = self.admin("GET", "/metrics")
        assert status == 200, text
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))

    def stop(self) -> int:
        """SIGINT, and the exit status (SIGKILL to the whole group if it does not end)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        self.stop()
        # Whatever happened, no process of the test outlives it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
