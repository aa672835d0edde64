"""Charts as server-rendered SVG: stacked bars of counts over time, and a line of readings.

Pure functions from numbers to markup (no JavaScript, no build step). Colours come from
the stylesheet through classes (``c0`` ... ``c7``), so the page's Content-Security-Policy
needs no inline style. Each chart is an image with a title and a text description for
screen readers, and each bar has a tooltip with its numbers; the pages also give the
numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from stockade.console.times import clock_time
from stockade.metrics.timeline import Bucket

WIDTH = 960
HEIGHT = 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 8, 10, 22
COLOURS = 8


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: the bucket key it reads, its legend label and its colour class."""

    key: str
    label: str
    colour: str


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


def _axis(top: float, unit: str, width: int, height: int) -> list[str]:
    plot_h = height - _TOP - _BOTTOM
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{width - _RIGHT}" y2="{y:.1f}"/>')
        label = escape(_number(top * fraction) + (f" {unit}" if unit else ""))
        parts.append(f'<text class="tick" x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def _time_labels(starts: Sequence[float], width: int, height: int) -> list[str]:
    count = len(starts)
    if not count:
        return []
    plot_w = width - _LEFT - _RIGHT
    every = max(1, count // 4)
    parts = []
    for index in range(0, count, every):
        x = _LEFT + plot_w * index / count
        anchor = "start" if index == 0 else "middle"
        label = escape(clock_time(starts[index]))
        parts.append(f'<text class="tick" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">{label}</text>')
    return parts


def _frame(ident: str, title: str, description: str, body: list[str], *, width: int, height: int) -> str:
    ident = escape(ident)
    return "".join(
        [
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" ',
            f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{ident}-title">{escape(title)}</title>',
            f'<desc id="{ident}-desc">{escape(description)}</desc>',
            *body,
            "</svg>",
        ]
    )


def stacked_bars(
    buckets: Sequence[Bucket],
    series: Sequence[Series],
    *,
    ident: str,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Stacked bars, one per bucket, one colour per series; empty buckets draw nothing."""
    totals = [sum(bucket.counts.get(s.key, 0) for s in series) for bucket in buckets]
    peak = max(totals, default=0)
    top = nice_ceiling(peak)
    plot_w = width - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM
    slot = plot_w / max(1, len(buckets))
    bar = max(1.0, slot * 0.8)
    body = _axis(top, "", width, height)
    for index, bucket in enumerate(buckets):
        if not totals[index]:
            continue
        x = _LEFT + slot * index + (slot - bar) / 2
        y = float(_TOP + plot_h)
        words = ", ".join(f"{s.label} {bucket.counts[s.key]}" for s in series if bucket.counts.get(s.key))
        tip = f"{clock_time(bucket.start)} to {clock_time(bucket.start + bucket.length)}: {words}"
        rects = [f"<title>{escape(tip)}</title>"]
        for s in series:
            value = bucket.counts.get(s.key, 0)
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            rects.append(
                f'<rect class="{escape(s.colour)}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"/>'
            )
        body.append(f'<g class="bar">{"".join(rects)}</g>')
    body.extend(_time_labels([bucket.start for bucket in buckets], width, height))
    total = sum(totals)
    if total:
        description = f"{total} in all; at most {peak} in one bar of {_minutes(buckets)}."
    else:
        description = "Nothing counted in this period."
        body.append(
            f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">nothing yet</text>'
        )
    return _frame(ident, title, description, body, width=width, height=height)


def _empty(text: str, width: int, height: int) -> str:
    return f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">{escape(text)}</text>'


def _minutes(buckets: Sequence[Bucket]) -> str:
    length = buckets[0].length if buckets else 60.0
    return f"{length / 60:g} minute" + ("" if length == 60 else "s")


def line(
    readings: Sequence[tuple[float, float]],
    *,
    start: float,
    end: float,
    ident: str,
    title: str,
    unit: str = " ms",
    scale: float = 1000.0,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """A line through the readings (seconds, shown times ``scale``); a gap where a reading is NaN."""
    shown = [(at, value * scale) for at, value in readings if start <= at <= end]
    known = [value for _, value in shown if not math.isnan(value)]
    top = nice_ceiling(max(known, default=0.0))
    plot_w = width - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM
    body = _axis(top, unit.strip(), width, height)
    runs: list[list[str]] = [[]]
    for at, value in shown:
        if math.isnan(value):
            runs.append([])
            continue
        x = _LEFT + plot_w * (at - start) / max(1.0, end - start)
        y = _TOP + plot_h * (1 - value / top)
        runs[-1].append(f"{x:.1f},{y:.1f}")
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            body.append(f'<circle class="reading" cx="{cx}" cy="{cy}" r="2.5"/>')
        elif run:
            body.append(f'<polyline class="reading" points="{" ".join(run)}"/>')
    steps = 4
    body.extend(_time_labels([start + (end - start) * i / steps for i in range(steps)], width, height))
    if known:
        description = (
            f"{len(known)} readings; the highest {_number(max(known))}{unit}, the last {_number(known[-1])}{unit}."
        )
    else:
        description = "No reading yet: the store is read once a minute."
        body.append(
            f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">no reading yet</text>'
        )
    return _frame(ident, title, description, body, width=width, height=height)
