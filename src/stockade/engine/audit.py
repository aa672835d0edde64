"""The audit log: every security event and every API change, as JSON lines.

Optionally the same facts as text lines in the form of the inets security log
(``[21/Nov/2026:12:55:03 +0000] 127.0.0.1 : Failed authentication : GET /secure/ HTTP/1.1 : alice``),
never with a password. Each line is written with one ``write`` on a file opened for
appending, so several processes can share the files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from stockade.core.events import Event

log = logging.getLogger("stockade.audit")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def iso_utc(ts: float) -> str:
    """``2026-11-21T12:55:03.250Z``: epoch seconds in ISO 8601 UTC, to the millisecond."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}Z"


def inets_date(ts: float) -> str:
    """``21/Nov/2026:12:55:03 +0000`` (the reference prints ``-0000``; RFC 5322 wants ``+0000``)."""
    t = time.gmtime(ts)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def inets_message(event: Event) -> str | None:
    """The security-log sentence of the reference for an event, or ``None`` if it has none."""
    data = event.data
    user = str(data.get("user", ""))
    client = str(data.get("client", "-"))
    request = str(data.get("request", "-"))
    match event.what:
        case "auth_fail":
            return f"{client} : Failed authentication : {request} : {user}"
        case "auth_success":
            return f"{client} : Authentication Succeeded : {request} : {user}"
        case "auth_refused":
            return f"{client} : User Blocked : {request} : {user}"
        case "user_block":
            seconds = data.get("seconds")
            if isinstance(seconds, int | float) and not math.isinf(seconds):
                length = f"{seconds / 60:g} minutes"
            else:
                length = "infinity"
            return f"Blocking user {user} from dir {event.directory} for {length}"
        case "user_unblock":
            how = "by the API" if data.get("by") == "api" else "from the block list"
            return f"User {user} was removed {how} for dir {event.directory}"
    return None


class AuditLog:
    """An event sink that appends JSON lines (and optionally inets-style text lines)."""

    def __init__(self, json_path: str | Path | None, text_path: str | Path | None = None) -> None:
        self.json_path = Path(json_path) if json_path else None
        self.text_path = Path(text_path) if text_path else None
        self._lock = threading.Lock()
        self._json_fd = _open_append(self.json_path)
        self._text_fd = _open_append(self.text_path)
        self.errors = 0

    def submit(self, event: Event) -> None:
        # "at" first, as an ISO 8601 string (the event's own "at" is epoch seconds).
        record: dict[str, object] = {"at": iso_utc(event.at)}
        record.update((k, v) for k, v in event.as_dict().items() if k not in ("at", "data"))
        record.update({k: v for k, v in event.data.items() if k not in record})
        lines: list[tuple[int, bytes]] = []
        if self._json_fd is not None:
            lines.append((self._json_fd, (json.dumps(record, default=str) + "\n").encode()))
        if self._text_fd is not None:
            message = inets_message(event)
            if message is not None:
                lines.append((self._text_fd, f"[{inets_date(event.at)}] {message}\n".encode()))
        self._write(lines)

    def admin_call(self, at: float, by: str, action: str, args: Mapping[str, object], status: int) -> None:
        """One mutating call of the admin API, whatever its outcome (JSON lines only)."""
        if self._json_fd is None:
            return
        record = {
            "at": iso_utc(at),
            "what": "admin_call",
            "by": by,
            "action": action,
            "args": dict(args),
            "status": status,
        }
        self._write([(self._json_fd, (json.dumps(record, default=str) + "\n").encode())])

    def reload(
        self,
        at: float,
        trigger: str,
        target: str,
        *,
        changed: Mapping[str, object] | None = None,
        errors: Sequence[str] | None = None,
    ) -> None:
        """One reload (``trigger``: ``signal``, ``api`` or ``watch``) and how it ended (JSON lines only).

        ``target`` is what was reloaded (the configuration file, or a mod_block file); a
        success says what ``changed``, a failure its ``errors``. Each server process
        reloads on its own and writes its own line (``pid``).
        """
        if self._json_fd is None:
            return
        record: dict[str, object] = {
            "at": iso_utc(at),
            "what": "reload",
            "trigger": trigger,
            "target": target,
            "pid": os.getpid(),
            "outcome": "ok" if errors is None else "error",
        }
        if changed is not None:
            record["changed"] = dict(changed)
        if errors is not None:
            record["errors"] = list(errors)
        self._write([(self._json_fd, (json.dumps(record, default=str) + "\n").encode())])

    def _write(self, lines: list[tuple[int, bytes]]) -> None:
        with self._lock:
            for fd, line in lines:
                try:
                    os.write(fd, line)
                except OSError:
                    self.errors += 1
                    if self.errors == 1:
                        log.exception("cannot write the audit log")

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            for fd in (self._json_fd, self._text_fd):
                if fd is not None:
                    os.close(fd)
            self._json_fd = self._text_fd = None


def _open_append(path: Path | None) -> int | None:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
