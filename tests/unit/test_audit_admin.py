"""AuditLog.admin_call: one JSON line per mutating admin API call."""

from __future__ import annotations

import json
from pathlib import Path

from stockade.engine.audit import AuditLog


def test_admin_calls_are_json_lines(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", tmp_path / "security.log")
    audit.admin_call(1_800_000_000.25, "admin", "block_user", {"user": "alice", "dir": "/secure"}, 200)
    audit.admin_call(1_800_000_001.0, "admin", "reload", {}, 409)
    audit.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert lines == [
        {
            "at": "2027-01-15T08:00:00.250Z",
            "what": "admin_call",
            "by": "admin",
            "action": "block_user",
            "args": {"user": "alice", "dir": "/secure"},
            "status": 200,
        },
        {
            "at": "2027-01-15T08:00:01.000Z",
            "what": "admin_call",
            "by": "admin",
            "action": "reload",
            "args": {},
            "status": 409,
        },
    ]
    assert (tmp_path / "security.log").read_text() == ""  # the inets format has no such line


def test_admin_calls_without_a_json_log_are_skipped(tmp_path: Path) -> None:
    audit = AuditLog(None, tmp_path / "security.log")
    audit.admin_call(0.0, "admin", "reload", {}, 200)
    audit.close()
    assert (tmp_path / "security.log").read_text() == ""
