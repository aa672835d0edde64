"""The Audit page: the end of the audit log, newest first, filtered by event and by text; live by polling."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from stockade.console.audit_tail import kinds, matches, read_tail, summary
from stockade.console.times import parse_iso
from stockade.console.web import Parts, Reply, Request, render

SHOWN = 200
# Listed in the filter even before the log holds one.
KNOWN = (
    "admin_call",
    "auth_fail",
    "auth_refused",
    "auth_success",
    "ip_block",
    "ip_unblock",
    "malicious_request",
    "user_block",
    "user_unblock",
)


@dataclass(frozen=True, slots=True)
class Line:
    at: float | None
    at_text: str
    what: str
    fields: list[tuple[str, str]]


async def audit_page(parts: Parts, request: Request) -> Reply:
    audit = parts.admin.audit_log()
    path = audit.json_path if audit is not None else None
    what = request.query.get("what", "").strip()
    text = request.query.get("q", "").strip()
    records = await asyncio.to_thread(read_tail, path) if path is not None else []
    found = [record for record in reversed(records) if matches(record, what, text)]
    lines = [
        Line(parse_iso(record.get("at")), str(record.get("at", "")), str(record.get("what", "")), summary(record))
        for record in found[:SHOWN]
    ]
    return render(
        parts,
        request,
        "audit.html",
        path=str(path) if path is not None else None,
        lines=lines,
        matched=len(found),
        read=len(records),
        kinds=sorted({*KNOWN, *kinds(records)}),
        what=what,
        q=text,
    )
