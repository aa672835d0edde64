"""``[logs]`` as the log follower needs it, independent of how it was configured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

LogFormatName = Literal["combined", "json"]
Start = Literal["end", "beginning"]

# What a JSON line's fields are called, by what stockade reads from them (nginx's variable
# names by default). ``request`` (the request line) is read when ``uri`` is absent.
DEFAULT_FIELDS: Final[Mapping[str, str]] = {
    "client": "remote_addr",
    "forwarded_for": "",
    "method": "request_method",
    "uri": "request_uri",
    "request": "request",
    "protocol": "server_protocol",
    "status": "status",
    "host": "host",
    "user_agent": "http_user_agent",
    "referer": "http_referer",
}
FIELD_NAMES: Final = tuple(DEFAULT_FIELDS)


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The access logs to follow and how to read them.

    ``fields`` maps each name of :data:`FIELD_NAMES` to a JSON key (a dotted path into
    nested objects, ``""`` when the log has no such field). ``detect`` runs the detection
    rules on each logged request (off when a decision endpoint already inspects them).
    ``start`` is where a file found at startup is read from. A file renamed away is read
    on for ``rotate_wait`` seconds after it last grew.
    """

    files: tuple[Path, ...]
    format: LogFormatName = "combined"
    fields: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    detect: bool = True
    start: Start = "end"
    poll_interval: float = 1.0
    rotate_wait: float = 30.0
    max_line_bytes: int = 64 * 1024
