"""The Bans page: bans and warnings with filters, a manual ban, unban, and the history of an address."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from stockade.console.forms import FormError, choice, count, duration, required
from stockade.console.times import parse_iso
from stockade.console.web import Parts, Reply, Request, api_message, back, render
from stockade.core.bans import ban_key
from stockade.engine.views import BanDetail
from stockade.errors import InvalidIpAddress, StoreError
from stockade.metrics.history import Entry, IpHistory
from stockade.netaddr import normalize_ip

STATES = ("any", "banned", "warning")
REMAINING = ("any", "lt10m", "lt1h", "gt1h", "forever")
MAX_ROWS = 500
MANUAL = "by hand"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Row:
    detail: BanDetail
    reason: str
    strikes: int  # in the store's window, or (banned) the strikes this process saw before the ban


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    state: str = "any"
    reason: str = ""
    remaining: str = "any"
    strikes: int | None = None
    level: int | None = None

    @classmethod
    def of(cls, fields: dict[str, str]) -> Filters:
        return cls(
            q=fields.get("q", "").strip(),
            state=choice(fields, "state", STATES, "any"),
            reason=fields.get("reason", "").strip(),
            remaining=choice(fields, "remaining", REMAINING, "any"),
            strikes=count(fields, "strikes"),
            level=count(fields, "level"),
        )

    def active(self) -> bool:
        return self != Filters()


def search_network(text: str) -> Network | None:
    """An address or network the search names (``10.0.0.0/8``, ``2001:db8::/32``, ``192.0.2.7``)."""
    if not text:
        return None
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False)
        normal = normalize_ip(text)
        return ipaddress.ip_network(normal) if normal is not None else None
    except ValueError:
        return None


def _covers(key: str, network: Network) -> bool:
    """Whether a ban key (an address or a network) and the searched network overlap."""
    try:
        found = ipaddress.ip_network(key, strict=False)
    except ValueError:
        return False
    return found.version == network.version and found.overlaps(network)


def _reason(history: IpHistory, detail: BanDetail) -> str:
    if detail.banned:
        entry = history.last_ban(detail.key)
        if entry is None:
            return ""
        return MANUAL if entry.by == "api" else (entry.rule or "")
    strike = next((entry for entry in history.of(detail.key) if entry.strike), None)
    return strike.rule or "" if strike is not None else ""


def _strikes(history: IpHistory, detail: BanDetail) -> int:
    if not detail.banned:
        return detail.strikes
    before = 0
    seen_ban = False
    for entry in history.of(detail.key):  # newest first: the strikes just before the latest ban
        if entry.what == "ip_block":
            if seen_ban:
                break
            seen_ban = True
        elif entry.strike and seen_ban:
            before += 1
    return before


def keep(row: Row, filters: Filters, network: Network | None, now: float) -> bool:
    """Whether a row passes the filters (a pure function of the row and the moment)."""
    detail = row.detail
    if filters.q:
        if network is not None:
            if not _covers(detail.key, network):
                return False
        elif filters.q.lower() not in detail.key.lower():
            return False
    if filters.state == "banned" and not detail.banned:
        return False
    if filters.state == "warning" and detail.banned:
        return False
    if filters.reason and filters.reason != row.reason:
        return False
    if filters.strikes is not None and row.strikes < filters.strikes:
        return False
    if filters.level is not None and detail.offences < filters.level:
        return False
    if filters.remaining != "any":
        if detail.until is None:
            return False
        left = detail.until - now
        wanted = {
            "lt10m": left < 600,
            "lt1h": left < 3600,
            "gt1h": left >= 3600 and not math.isinf(left),
            "forever": math.isinf(left),
        }
        return wanted[filters.remaining]
    return True


async def bans_page(
    parts: Parts,
    request: Request,
    *,
    status: int = 200,
    form_error: str | None = None,
    form: dict[str, str] | None = None,
) -> Reply:
    try:
        filters = Filters.of(request.query)
        filter_error = None
    except FormError as exc:
        filters, filter_error, status = Filters(), str(exc), 400
    history = parts.metrics.history
    store_error = None
    details: list[BanDetail] = []
    try:
        details = await parts.guard.bans.list_ban_records()
    except StoreError as exc:
        store_error, status = str(exc), 503
    rows = [Row(d, _reason(history, d), _strikes(history, d)) for d in details]
    network = search_network(filters.q)
    shown = [row for row in rows if keep(row, filters, network, request.now)]
    reasons = sorted({row.reason for row in rows if row.reason})
    banned = sum(1 for row in rows if row.detail.banned)
    return render(
        parts,
        request,
        "bans.html",
        status,
        filters=filters,
        filter_error=filter_error,
        rows=shown[:MAX_ROWS],
        hidden=max(0, len(shown) - MAX_ROWS),
        total=len(rows),
        banned=banned,
        warning=len(rows) - banned,
        reasons=reasons,
        store_error=store_error,
        form_error=form_error,
        form=form or {},
        default_duration=parts.guard.bans.policy.block_duration,
        enabled=parts.guard.settings.bans is not None,
    )


async def ban(parts: Parts, request: Request) -> Reply:
    form = request.form
    try:
        target = required(form, "ip")
        text = form.get("duration", "").strip()
        seconds = duration("duration", text) if text else None
    except FormError as exc:
        return await bans_page(parts, request, status=400, form_error=str(exc), form=form)
    body: dict[str, object] = {"ip": target, "force": form.get("force") == "on"}
    if seconds is not None:
        body["seconds"] = "infinity" if math.isinf(seconds) else seconds
    status, answer = await parts.admin.call("POST", "/ips/block", body, by=request.by)
    if status != 200 or not isinstance(answer, dict):
        return await bans_page(parts, request, status=status, form_error=api_message(answer), form=form)
    banned = answer["banned"]
    key = str(banned["ip"])
    wanted = request.now + (parts.guard.bans.policy.block_duration if seconds is None else seconds)
    end = parse_iso(banned.get("until"))
    kept = (end is None and not math.isinf(wanted)) or (end is not None and end > wanted + 1)
    return back("/bans", "kept" if kept else "banned", key)


async def unban(parts: Parts, request: Request) -> Reply:
    form = request.form
    try:
        target = required(form, "ip")
    except FormError as exc:
        return await bans_page(parts, request, status=400, form_error=str(exc))
    status, answer = await parts.admin.call("POST", "/ips/unblock", {"ip": target}, by=request.by)
    if status != 200 or not isinstance(answer, dict):
        return await bans_page(parts, request, status=status, form_error=api_message(answer))
    key = str(answer["unbanned"]["ip"])
    if form.get("from") == "history":
        return back("/bans/history", "unbanned", key, {"ip": target})
    return back("/bans", "unbanned", key)


async def history_page(parts: Parts, request: Request) -> Reply:
    target = request.query.get("ip", "").strip()
    history = parts.metrics.history
    entries: list[Entry] = []
    error = None
    status_text = None
    detail: BanDetail | None = None
    code = 200
    network = search_network(target) if target else None
    if target and network is None:
        error, code = f"{target!r} is not an IP address or network", 400
    elif network is not None:
        single = network.num_addresses == 1
        key = str(network.network_address) if single else str(network)
        entries = history.of(key) if single else history.within(network)
        try:
            if single:
                status_text = str(await parts.guard.ip_address_status(key))
            ban = ban_key(key, parts.guard.bans.settings.ipv6_prefix) if single else key
            detail = _detail_of(await parts.guard.bans.list_ban_records(), ban)
        except InvalidIpAddress as exc:
            error, code = str(exc), 400
        except StoreError as exc:
            error, code = str(exc), 503
        target = key
    return render(
        parts,
        request,
        "history.html",
        code,
        target=target,
        entries=entries,
        error=error,
        ban_status=status_text,
        detail=detail,
        per_address=history.per_address,
    )


def _detail_of(details: Sequence[BanDetail], key: str) -> BanDetail | None:
    return next((detail for detail in details if detail.key == key), None)
