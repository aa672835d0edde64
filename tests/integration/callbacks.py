"""An event callback for tests: appends each event as a JSON line to $STOCKADE_TEST_EVENTS.

Configured as ``callback = "tests.integration.callbacks:record"``; it works in server
worker processes too (they inherit the environment; PYTHONPATH must include the repo root).
Each line carries the ``pid`` of the process that fired it, so a test can tell workers apart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path


def record(what: str, address: str | None, port: int, directory: str, data: Mapping[str, object]) -> None:
    target = os.environ.get("STOCKADE_TEST_EVENTS")
    if not target:
        return
    event = {"what": what, "address": address, "port": port, "directory": directory, "data": dict(data)}
    line = json.dumps({**event, "pid": os.getpid()})
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read(path: str | Path) -> list[dict[str, object]]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
