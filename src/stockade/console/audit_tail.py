"""The end of the audit log (its JSON lines), read back for the console's Audit page.

Only the last :data:`TAIL_BYTES` of the file are read, whatever its size; a line cut by
that window, or one that is not a JSON object, is skipped. Every process sharing the
file appends to it, so the page shows what all of them wrote. Blocking I/O: run it in a thread.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

TAIL_BYTES: Final = 512 * 1024
# The fields a search looks through, and the order a line shows them in.
FIELDS: Final = ("ip", "client", "user", "directory", "dir", "rule", "path", "request", "action", "by", "key")


def read_tail(path: Path, limit: int = TAIL_BYTES) -> list[dict[str, object]]:
    """The records at the end of the file, oldest first; none if it does not exist yet."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            start = max(0, size - limit)
            file.seek(start)
            data = file.read(size - start)
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line was cut by the window
    records: list[dict[str, object]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def matches(record: Mapping[str, object], what: str, query: str) -> bool:
    """``what`` is an event name (empty: any); ``query`` a case-insensitive substring of any field."""
    if what and record.get("what") != what:
        return False
    if not query:
        return True
    needle = query.lower()
    return any(needle in str(value).lower() for value in _values(record))


def _values(record: Mapping[str, object]) -> list[object]:
    found: list[object] = []
    for value in record.values():
        if isinstance(value, Mapping):
            found.extend(value.values())
        else:
            found.append(value)
    return found


def summary(record: Mapping[str, object]) -> list[tuple[str, str]]:
    """The fields worth showing on one line, in a fixed order, then the arguments of an API call."""
    shown = [(name, str(record[name])) for name in FIELDS if record.get(name) not in (None, "")]
    args = record.get("args")
    if isinstance(args, Mapping):
        shown.extend((f"{name}", str(value)) for name, value in args.items() if value is not None)
    if "status" in record:
        shown.append(("status", str(record["status"])))
    return shown


def kinds(records: Sequence[Mapping[str, object]]) -> list[str]:
    return sorted({str(record["what"]) for record in records if isinstance(record.get("what"), str)})
