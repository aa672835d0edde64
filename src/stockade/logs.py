"""The log of the ``stockade`` command: one line per record on standard error, as text or JSON.

Text (the default) reads ``2026-01-15T08:00:00.123Z INFO stockade.server[4242]: reloaded
/etc/stockade.toml``: the UTC time, the level, the logger and the process (workers share
standard error, so each line names its process). JSON lines carry the same facts as keys
(``time``, ``level``, ``logger``, ``pid``, ``message``) plus whatever the call site passed
with ``extra=`` (a reload adds ``event``, ``changed`` or ``error``), for log collectors.

Stockade's own loggers (``stockade.*``) log at the chosen level; other libraries' only from
WARNING up (watchfiles, for one, says "1 change detected" at INFO). Configuring twice
replaces the handler installed the first time, so a command may refine what its group set.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Final, Literal, TextIO

__all__ = ["FORMATS", "LEVELS", "JsonFormatter", "LogFormat", "LogLevel", "TextFormatter", "configure_logging"]

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
LEVELS: Final = ("debug", "info", "warning", "error")
FORMATS: Final = ("text", "json")

# What a LogRecord holds of its own; anything else came from ``extra=``.
_RECORD_FIELDS: Final = frozenset(
    (*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName")
)


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger>[<pid>]: <message>``, then the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record.created)} {record.levelname} {record.name}[{record.process}]: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the ``extra=`` fields of the call are keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StockadeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs (and finds again to replace it).

    Without a stream of its own it writes to whatever ``sys.stderr`` is when a record
    comes (a test runner may swap it), as logging's last-resort handler does.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self.follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: LogLevel = "info", fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Send every record to ``stream`` (standard error) in ``fmt``; stockade's loggers at ``level``."""
    handler = _StockadeHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StockadeHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING))
    logging.getLogger("stockade").setLevel(numeric)
