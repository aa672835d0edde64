"""How the console writes times: ISO 8601 in UTC, the server's local time, and what is left.

Pure functions of the moments given (nothing here reads the clock).
"""

from __future__ import annotations

import calendar
import math
import time


def iso(ts: float | None) -> str:
    """``2026-11-21T12:55:03Z``; ``forever`` for infinity, ``""`` for none."""
    if ts is None:
        return ""
    if math.isinf(ts):
        return "forever"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def local(ts: float | None) -> str:
    """``2026-11-21 13:55:03 +0100`` in the server's time zone; ``forever``, or ``""`` for none."""
    if ts is None:
        return ""
    if math.isinf(ts):
        return "forever"
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(ts))


def clock_time(ts: float) -> str:
    """``13:55`` in the server's time zone (chart axes)."""
    return time.strftime("%H:%M", time.localtime(ts))


def span(seconds: float, *, coarse: bool = False) -> str:
    """``45 s``, ``9 min 58 s``, ``2 h 5 min``, ``3 d 4 h``; ``forever`` for infinity.

    ``coarse`` leaves the seconds out past the first minute (``9 min``), so that a list of
    what is left changes once a minute rather than every second.
    """
    if math.isinf(seconds):
        return "forever"
    left = max(0, math.ceil(seconds))
    if coarse and left >= 60:
        left = math.ceil(left / 60) * 60
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def remaining(until: float | None, now: float) -> str:
    """What is left of a block or ban ending at ``until``."""
    if until is None:
        return ""
    return span(until - now, coarse=True)


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    return f"{span(now - ts)} ago"


def parse_iso(text: object) -> float | None:
    """The moment of an ISO 8601 UTC string the engine wrote (``...Z``), or ``None``."""
    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    head, _, fraction = text[:-1].partition(".")
    try:
        parsed = time.strptime(head, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    extra = float(f"0.{fraction}") if fraction.isdigit() else 0.0
    return calendar.timegm(parsed) + extra
