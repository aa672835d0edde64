"""BFE's time strings: ``yyyymmddhhmmssZ`` instants and ``hhmmssZ`` times of day.

The trailing letter is a military time zone (``Z`` is UTC, ``A``..``M`` without ``J`` are
+1..+12, ``N``..``Y`` are -1..-12), case-insensitive. BFE reads these strings with Go's
``fmt.Sscanf("%14s%s")`` and ``time.Parse`` (``bfe_util/time.go``), and a rule file that
BFE accepts must mean the same here, so both are reproduced rather than approximated with
``strptime``: leading spaces are skipped, a space may separate the zone, text after the
zone is ignored, a newline is an error, the year may carry a sign, days are checked against
the month (``20190230...`` is rejected) and messages follow Go's. Instants become integer
epoch seconds computed arithmetically, so no ``datetime`` year limits apply.
"""

from __future__ import annotations

from stockade.conditions.errors import BuildFailure
from stockade.conditions.hashing import go_quote
from stockade.core.facts import GO_SPACE

__all__ = [
    "ZONES",
    "TimeFormatError",
    "parse_time",
    "parse_time_of_day",
    "periodic_range",
    "seconds_of_day",
    "time_range",
]

ZONES: dict[str, int] = {
    **{letter: -3600 * hours for hours, letter in enumerate("NOPQRSTUVWXY", start=1)},
    "Z": 0,
    **{letter: 3600 * hours for hours, letter in enumerate("ABCDEFGHIKLM", start=1)},
}
_SPACE = frozenset(GO_SPACE)
_DAY_SECONDS = 86400


class TimeFormatError(ValueError):
    """A time string that BFE's parser rejects; the message is BFE's (Go's) text."""


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        if text[pos] == "\n":
            raise TimeFormatError("unexpected newline")
        pos += 1
    return pos


def _scan_two(text: str, width: int) -> tuple[str, str]:
    """Go's ``fmt.Sscanf(text, "%<width>s%s")``: two space-separated words, the first at most ``width`` long."""
    words = []
    pos = 0
    for limit in (width, len(text)):
        pos = _skip_space(text, pos)
        if pos == len(text):
            raise TimeFormatError("EOF")
        start = pos
        while pos < len(text) and pos - start < limit and text[pos] not in _SPACE:
            pos += 1
        words.append(text[start:pos])
    return words[0], words[1]


def _is_digit(value: str, pos: int) -> bool:
    return "0" <= value[pos : pos + 1] <= "9"


def _number(value: str, pos: int, fixed: bool) -> tuple[int, int] | None:
    """Go's ``getnum``: one or two digits (exactly two when ``fixed``); the value and the next position."""
    if not _is_digit(value, pos):
        return None
    if not _is_digit(value, pos + 1):
        return None if fixed else (int(value[pos]), pos + 1)
    return int(value[pos : pos + 2]), pos + 2


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


# The elements of Go's layout "20060102150405" after the year: text, fixed width, range, name.
_ELEMENTS = (
    ("01", True, range(1, 13), "month"),
    ("02", True, range(100), "day"),  # checked against the month once the year is known
    ("15", False, range(24), "hour"),
    ("04", True, range(60), "minute"),
    ("05", True, range(60), "second"),
)


def _parse_layout(value: str) -> list[int]:
    """Go's ``time.Parse("20060102150405", value)``: [year, month, day, hour, minute, second]."""
    layout = "20060102150405"

    def cannot_parse(rest: str, element: str) -> TimeFormatError:
        quoted = f"{go_quote(value)} as {go_quote(layout)}: cannot parse {go_quote(rest)} as {go_quote(element)}"
        return TimeFormatError(f"parsing time {quoted}")

    year_text = value[:4]
    digits = year_text[1:] if year_text[:1] in ("+", "-") else year_text
    if len(year_text) < 4 or not all("0" <= char <= "9" for char in digits):
        raise cannot_parse(value, "2006")
    fields = [int(year_text) if digits else 0]
    pos = 4
    for element, fixed, allowed, name in _ELEMENTS:
        parsed = _number(value, pos, fixed)
        if parsed is None:
            raise cannot_parse(value[pos:], element)
        number, pos = parsed
        if number not in allowed:
            raise TimeFormatError(f"parsing time {go_quote(value)}: {name} out of range")
        fields.append(number)
    if pos < len(value):
        raise TimeFormatError(f"parsing time {go_quote(value)}: extra text: {go_quote(value[pos:])}")
    if not 1 <= fields[2] <= _days_in_month(fields[0], fields[1]):
        raise TimeFormatError(f"parsing time {go_quote(value)}: day out of range")
    return fields


def _zone(zone: str) -> int:
    offset = ZONES.get(zone.upper()) if zone.isascii() else None
    if offset is None:
        raise TimeFormatError(f"invalid zone:{zone}")
    return offset


def _epoch_days(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's ``days_from_civil``)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468


def parse_time(text: str) -> int:
    """A ``yyyymmddhhmmssZ`` instant as epoch seconds (BFE ``ParseTime``); :class:`TimeFormatError` if invalid."""
    try:
        stamp, zone = _scan_two(text, 14)
        year, month, day, hour, minute, second = _parse_layout(stamp)
    except TimeFormatError as exc:
        raise TimeFormatError(f"invalid time string:{text}, err:{exc}") from None
    seconds = _epoch_days(year, month, day) * _DAY_SECONDS + hour * 3600 + minute * 60 + second
    return seconds - _zone(zone)


def parse_time_of_day(text: str) -> tuple[int, int]:
    """An ``hhmmssZ`` time as (seconds of the day, zone offset in seconds) (BFE ``ParseTimeOfDay``)."""
    try:
        _, zone = _scan_two(text, 6)
    except TimeFormatError as exc:
        raise TimeFormatError(f"invalid time string:{text}, err:{exc}") from None
    # Go re-reads the first six bytes of the original text, whatever the scanner found.
    clock = text[:6]
    if len(clock) < 6 or not (clock.isascii() and clock.isdigit()):
        value = f"{text[0:2]}:{text[2:4]}:{text[4:6]}"
        raise TimeFormatError(f'time format invalid, err:parsing time {go_quote(value)} as "15:04:05": cannot parse')
    for number, name, limit in ((clock[0:2], "hour", 23), (clock[2:4], "minute", 59), (clock[4:6], "second", 59)):
        if int(number) > limit:
            value = f"{clock[0:2]}:{clock[2:4]}:{clock[4:6]}"
            raise TimeFormatError(f"time format invalid, err:parsing time {go_quote(value)}: {name} out of range")
    return int(clock[0:2]) * 3600 + int(clock[2:4]) * 60 + int(clock[4:6]), _zone(zone)


def time_range(start: str, end: str) -> tuple[int, int]:
    """Validate ``bfe_time_range`` arguments; the inclusive range in epoch seconds."""
    try:
        first = parse_time(start)
    except TimeFormatError as exc:
        raise BuildFailure(f"startTime format invalid, err:{exc}") from None
    try:
        last = parse_time(end)
    except TimeFormatError as exc:
        raise BuildFailure(f"endTime format invalid, err:{exc}") from None
    if first > last:
        raise BuildFailure(f"startTime[{start}] must <= endTime[{end}]")
    return first, last


def periodic_range(start: str, end: str, period: str) -> tuple[int, int, int]:
    """Validate ``bfe_periodic_time_range`` arguments; (first second, last second, zone offset) of each day."""
    if period != "":
        raise BuildFailure("periodStr is not supported, should not be set!")
    try:
        first, offset = parse_time_of_day(start)
    except TimeFormatError as exc:
        raise BuildFailure(f"startTime format invalid, err:{exc}") from None
    try:
        last, end_offset = parse_time_of_day(end)
    except TimeFormatError as exc:
        raise BuildFailure(f"endTime format invalid, err:{exc}") from None
    if first > last:
        raise BuildFailure(f"startTime[{start}] must <= endTime[{end}]")
    if offset != end_offset:
        raise BuildFailure("timezone of startime and endtime should be same!")
    return first, last, offset


def seconds_of_day(now: float, offset: int) -> int:
    """The second of the day of the instant ``now`` in a zone ``offset`` seconds east of UTC."""
    return (int(now // 1) + offset) % _DAY_SECONDS
