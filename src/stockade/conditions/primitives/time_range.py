"""Primitives on the time: an absolute range and a daily window.

The time is ``facts.now``, unless the request carries ``X-Bfe-Debug-Time`` (BFE's way to
test time rules): then its ``yyyymmddhhmmssZ`` value counts, and an unparsable one makes
the primitive false. It is read once per request and kept in ``facts.memo``.
"""

from __future__ import annotations

import math

from stockade.conditions.primitives._base import bool_matcher
from stockade.conditions.registry import Matcher, primitive
from stockade.conditions.timespec import TimeFormatError, parse_time, periodic_range, seconds_of_day, time_range
from stockade.core.facts import RequestFacts

_MEMO_KEY = "bfe_time"


def request_time(facts: RequestFacts) -> float | None:
    """The instant the time primitives see, in epoch seconds; ``None`` if ``X-Bfe-Debug-Time`` is invalid."""
    memo = facts.memo
    if _MEMO_KEY in memo:
        cached = memo[_MEMO_KEY]
        return cached if isinstance(cached, float | int) else None
    debug = facts.header_map.get("x-bfe-debug-time")
    value: float | None
    if debug is None:
        value = facts.now if math.isfinite(facts.now) else None
    else:
        try:
            value = parse_time(debug)
        except TimeFormatError:
            value = None
    memo[_MEMO_KEY] = value
    return value


@primitive(
    "bfe_time_range",
    ("STRING", "STRING"),
    "True if the time is between `start` and `end` inclusive, each `yyyymmddhhmmss` plus a military zone letter "
    "(`Z` is UTC, `H` is UTC+8; `20240101000000Z`).",
)
def bfe_time_range(start: str, end: str) -> Matcher:
    first, last = time_range(start, end)

    def test(facts: RequestFacts) -> bool:
        now = request_time(facts)
        return now is not None and first <= now <= last

    return bool_matcher(test, lowered=("time_range", first, last))


@primitive(
    "bfe_periodic_time_range",
    ("STRING", "STRING", "STRING"),
    "True if the time of day is between `start` and `end` inclusive, each `hhmmss` plus a zone letter "
    "(`090000H`; both in the same zone, no wrap past midnight); `period` must be empty (every day).",
)
def bfe_periodic_time_range(start: str, end: str, period: str) -> Matcher:
    first, last, offset = periodic_range(start, end, period)

    def test(facts: RequestFacts) -> bool:
        now = request_time(facts)
        return now is not None and first <= seconds_of_day(now, offset) <= last

    return bool_matcher(test, lowered=("periodic_time_range", first, last, offset))
