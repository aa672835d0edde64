"""The fast path's reading of access-log lines is the Python driver's, or it hands the line on.

(The whole output is compared in ``tests/integration/test_replay_fast.py``; here the log
time, which the driver also reads natively for the lines it replays itself, and the
lines the fast path must leave to the driver, with their errors.)
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from stockade import _native
from stockade.config import load_config
from stockade.replay import Replay

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_a_log_time_reads_as_strptime_reads_it(moment: datetime, offset: int) -> None:
    sign = "-" if offset < 0 else "+"
    zone = f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    text = f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year:04d}:{moment:%H:%M:%S} {zone}"
    expected = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp()
    assert _native.replay_log_time(text) == expected
    assert datetime.fromtimestamp(expected, timezone(timedelta(minutes=offset))).second == moment.second


def test_other_spellings_are_left_to_strptime() -> None:
    for text in [
        "1/Jan/2027:00:00:00 +0000",  # strptime reads it; the native reading does not try
        "01/jan/2027:00:00:00 +0000",
        "01/Jan/2027:00:00:00 +00:00",
        "01/Jan/2027:00:00:00 Z",
        "29/Feb/2027:00:00:00 +0000",  # no such day: strptime's error
        "01/Jan/2027:00:00:61 +0000",
        "",
    ]:
        assert _native.replay_log_time(text) is None


def test_lines_the_fast_path_leaves_get_the_driver_s_errors(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text('[store]\nurl = "memory://"\n')
    session = Replay(load_config(tmp_path / "stockade.toml"))
    fast = session.fast_path()
    assert fast is not None
    good = '192.0.2.1 - - [01/Jan/2027:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n'
    bad_time = '192.0.2.1 - - [29/Feb/2027:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n'
    data = (good + "not a log line\n" + bad_time + good).encode()
    # The first line waits for the sweep (never swept yet); after it, a clean line is native.
    out, at, lines, _ = fast.run(data, 0, 0.0, -math.inf)
    assert (out, at, lines) == ("", 0, 0)
    out, at, lines, now = fast.run(data, 0, 0.0, math.inf)
    assert (out.count("\n"), lines, now) == (2, 1, 1798761600.0)
    assert fast.run(data, at, now, math.inf)[1:3] == (at, 0)  # "not a log line": the driver's

    async def replayed() -> list[str]:
        try:
            return [piece async for piece in session.stream([data])]
        finally:
            await session.close()

    text = "".join(asyncio.run(replayed()))
    assert '{"line": 2, "error": "neither a JSON event nor a combined access-log line"}' in text
    assert (
        '{"line": 3, "error": "invalid time \'29/Feb/2027:00:00:00 +0000\': expected 10/Oct/2000:13:55:36 -0700"}'
        in text
    )
    assert text.count('"type": "request"') == 2
