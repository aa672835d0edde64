"""The Overview page: requests over time by outcome and by reason, the state in numbers, the store, the config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stockade.console import charts
from stockade.console.charts import Series
from stockade.console.detection import categories
from stockade.console.forms import choice
from stockade.console.web import Parts, Reply, Request, render
from stockade.errors import StoreError
from stockade.metrics.timeline import Bucket
from stockade.stores.records import StoreStatus
from stockade.stores.redis import redact

RANGES = {"hour": (3600.0, 60.0), "day": (86400.0, 1800.0)}
# The outcomes the server counts, as the chart groups them.
OUTCOMES = {
    "allowed": "allowed",
    "banned": "refused",
    "refused": "refused",
    "blocked": "refused",
    "challenged": "challenged",
    "closed": "closed",
    "error": "error",
}
OUTCOME_SERIES = (
    Series("allowed", "allowed", "c0"),
    Series("refused", "refused", "c1"),
    Series("challenged", "challenged", "c2"),
    Series("closed", "closed", "c3"),
    Series("error", "error", "c4"),
)
TOP_REASONS = 7


@dataclass(frozen=True, slots=True)
class Numbers:
    bans: int | None
    blocked_users: int | None
    warning: int | None


def regroup(buckets: Sequence[Bucket], group: Mapping[str, str | None]) -> list[Bucket]:
    """The same buckets with their keys renamed by ``group`` and summed (a key mapped to None is dropped)."""
    result = []
    for bucket in buckets:
        counts: dict[str, int] = {}
        for key, value in bucket.counts.items():
            name = group.get(key)
            if name is not None:
                counts[name] = counts.get(name, 0) + value
        result.append(Bucket(bucket.start, bucket.length, counts))
    return result


def reason_label(key: str, known: Mapping[str, str]) -> str:
    """``closed|mod_block:deny-admin`` -> ``closed · mod_block deny-admin``; detection by category."""
    outcome, _, reason = key.partition("|")
    kind, _, name = reason.partition(":")
    if kind == "detection":
        return f"{outcome} · detection {known.get(name, name)}"
    if kind == "mod_block":
        return f"{outcome} · mod_block {name}"
    return f"{outcome} · {reason}"


def reason_series(buckets: Sequence[Bucket], known: Mapping[str, str]) -> tuple[list[Bucket], list[Series]]:
    """The reasons of the period, the busiest first; beyond :data:`TOP_REASONS` they count as ``other``."""
    labels = {
        key: reason_label(key.removeprefix("reason:"), known)
        for bucket in buckets
        for key in bucket.counts
        if key.startswith("reason:")
    }
    grouped = regroup(buckets, labels)
    totals: dict[str, int] = {}
    for bucket in grouped:
        for key, value in bucket.counts.items():
            totals[key] = totals.get(key, 0) + value
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    kept = ranked[:TOP_REASONS]
    if len(ranked) > TOP_REASONS:
        grouped = regroup(grouped, {name: (name if name in kept else "other") for name in ranked})
        kept.append("other")
    series = [Series(name, name, f"c{index % charts.COLOURS}") for index, name in enumerate(kept)]
    return grouped, series


async def overview(parts: Parts, request: Request) -> Reply:
    range_name = choice(request.query, "range", tuple(RANGES), "hour")
    span, step = RANGES[range_name]
    metrics = parts.metrics
    guard = parts.guard
    now = request.now
    buckets = metrics.timeline.window(now, metrics.totals(), span=span, step=step)
    outcomes = regroup(buckets, {f"outcome:{name}": group for name, group in OUTCOMES.items()})
    known = categories(guard.settings.bans)
    reasons, reason_kinds = reason_series(buckets, known)
    status: StoreStatus | None = None
    store_error = None
    try:
        status = await guard.store_status()
    except StoreError as exc:
        store_error = str(exc)
    numbers = await _numbers(parts)
    readings = metrics.latency.since(now - span)
    if status is not None:
        readings.append((now, status.latency))
    outcome_chart = charts.stacked_bars(
        outcomes, OUTCOME_SERIES, ident="outcomes", title=f"Requests by outcome, the last {range_name}"
    )
    reason_chart = charts.stacked_bars(
        reasons, reason_kinds, ident="reasons", title=f"Requests by reason, the last {range_name}"
    )
    latency_chart = charts.line(
        readings, start=now - span, end=now, ident="latency", title=f"Store latency, the last {range_name}"
    )
    return render(
        parts,
        request,
        "overview.html",
        range_name=range_name,
        outcome_chart=outcome_chart,
        reason_chart=reason_chart,
        latency_chart=latency_chart,
        outcome_series=OUTCOME_SERIES,
        reason_series=reason_kinds,
        outcomes=outcomes,
        reasons=reasons,
        totals=_period_totals(outcomes, OUTCOME_SERIES),
        since_start=_since_start(metrics.totals()),
        numbers=numbers,
        store=status,
        store_url=redact(status.url) if status is not None else "",
        store_error=store_error,
        failing=guard.health.failing,
        digest=parts.digest,
        loaded_at=parts.loaded_at,
        config_path=str(parts.config.path),
        last_reload=metrics.reloads.last,
    )


async def _numbers(parts: Parts) -> Numbers:
    guard = parts.guard
    try:
        bans = len(await guard.list_banned_ips())
        warning = len(await guard.list_warning_ips())
        blocked = len(await guard.list_blocked_users())
    except StoreError:
        return Numbers(None, None, None)
    return Numbers(bans, blocked, warning)


def _period_totals(buckets: Sequence[Bucket], series: Sequence[Series]) -> dict[str, int]:
    return {s.key: sum(bucket.counts.get(s.key, 0) for bucket in buckets) for s in series}


def _since_start(totals: Mapping[str, int]) -> dict[str, int]:
    grouped: dict[str, int] = {}
    for name, group in OUTCOMES.items():
        grouped[group] = grouped.get(group, 0) + totals.get(f"outcome:{name}", 0)
    return grouped
