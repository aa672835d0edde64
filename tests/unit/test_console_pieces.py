"""The console's pure pieces: form fields, durations, times, charts, the audit tail, filters, reload errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stockade.console import charts, times
from stockade.console.audit_tail import matches, read_tail, summary
from stockade.console.bans import Filters, Row, keep, search_network
from stockade.console.charts import Series
from stockade.console.forms import FormError, cookies, duration, listener, parse_fields
from stockade.console.overview import reason_label, reason_series
from stockade.console.reload import error_lines
from stockade.engine.views import BanDetail
from stockade.metrics.timeline import Bucket

T0 = 1_800_000_000.0


def test_fields_refuse_repeats_bad_encoding_and_nul() -> None:
    assert parse_fields(b"ip=192.0.2.7&force=on&empty=") == {"ip": "192.0.2.7", "force": "on", "empty": ""}
    with pytest.raises(FormError, match="ip: given more than once"):
        parse_fields(b"ip=1&ip=2")
    with pytest.raises(FormError, match="not valid percent-encoded UTF-8"):
        parse_fields(b"ip=%ff")
    with pytest.raises(FormError, match="without NUL"):
        parse_fields(b"ip=%00")


def test_cookies_are_read_and_a_malformed_header_ignored() -> None:
    headers = [(b"cookie", b"a=1; b=2"), (b"Cookie", b'bad="'), (b"cookie", b"a=3")]
    assert cookies(headers) == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("600", 600.0),
        ("10m", 600.0),
        ("10 min", 600.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1.5h", 5400.0),
        ("forever", math.inf),
        ("Infinity", math.inf),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert duration("duration", text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "-5", "5y", "1e3", "999999999999d"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(FormError) as caught:
        duration("duration", text)
    assert caught.value.field == "duration"


def test_listeners() -> None:
    assert listener("listener", "").every
    assert listener("listener", "127.0.0.1:8080").api_fields() == {"address": "127.0.0.1", "port": 8080}
    assert listener("listener", "[::1]:8080").api_fields() == {"address": "::1", "port": 8080}
    assert listener("listener", "*:80").api_fields() == {"address": "*", "port": 80}
    with pytest.raises(FormError, match="not a listener"):
        listener("listener", "nowhere")


def test_times() -> None:
    assert times.iso(T0) == "2027-01-15T08:00:00Z"
    assert times.iso(math.inf) == "forever"
    assert times.parse_iso("2027-01-15T08:00:00Z") == T0
    assert times.parse_iso("2027-01-15T08:00:00.250Z") == T0 + 0.25
    assert times.parse_iso("yesterday") is None
    assert [times.span(s) for s in (0, 45, 598, 3600, 7500, 97200, math.inf)] == [
        "0 s",
        "45 s",
        "9 min 58 s",
        "1 h",
        "2 h 5 min",
        "1 d 3 h",
        "forever",
    ]
    assert times.remaining(T0 + 598, T0) == "10 min"  # lists change once a minute, not every second
    assert times.remaining(T0 + 45.2, T0) == "46 s"
    assert times.local(T0).startswith("2027-01-1")  # the server's zone, with its offset
    assert times.local(T0)[-5] in "+-"


def test_nice_ceilings() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 12, 240, 251)] == [1, 1, 5, 10, 20, 250, 500]


def test_a_chart_escapes_its_labels_and_says_what_it_shows() -> None:
    series = [Series("a", "<script>", "c0"), Series("b", "b", "c1")]
    buckets = [Bucket(T0, 60, {"a": 3, "b": 1}), Bucket(T0 + 60, 60, {})]
    svg = charts.stacked_bars(buckets, series, ident="x", title='A "title"')
    assert "<script>" not in svg
    assert "&lt;script&gt; 3" in svg
    assert 'aria-labelledby="x-title x-desc"' in svg
    assert "4 in all; at most 4 in one bar of 1 minute." in svg
    assert svg.count("<rect") == 2
    empty = charts.stacked_bars([Bucket(T0, 60, {})], series, ident="y", title="t")
    assert "nothing yet" in empty


def test_a_line_breaks_where_a_reading_is_missing() -> None:
    svg = charts.line(
        [(T0, 0.001), (T0 + 60, 0.002), (T0 + 120, math.nan), (T0 + 180, 0.004)],
        start=T0,
        end=T0 + 180,
        ident="l",
        title="t",
    )
    assert svg.count("<polyline") == 1
    assert svg.count("<circle") == 1
    assert "the highest 4 ms, the last 4 ms" in svg


def test_the_audit_tail_skips_a_cut_line_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = [json.dumps({"what": "ip_block", "ip": f"192.0.2.{i}", "n": "x" * 50}) for i in range(40)]
    path.write_text("\n".join([*lines, "not json", "[1]"]) + "\n")
    records = read_tail(path, limit=700)
    assert records
    assert all(record["what"] == "ip_block" for record in records)
    assert records[-1]["ip"] == "192.0.2.39"
    assert len(records) < 40
    assert read_tail(tmp_path / "missing.jsonl") == []


def test_audit_filters_and_summary() -> None:
    call = {
        "at": "x",
        "what": "admin_call",
        "by": "console",
        "action": "block_ip",
        "args": {"ip": "192.0.2.7"},
        "status": 200,
    }
    assert matches(call, "admin_call", "192.0.2")
    assert not matches(call, "ip_block", "")
    assert not matches(call, "", "10.0.0.1")
    assert summary(call) == [("action", "block_ip"), ("by", "console"), ("ip", "192.0.2.7"), ("status", "200")]


def row(key: str, until: float | None, strikes: int = 0, offences: int = 0, reason: str = "") -> Row:
    return Row(BanDetail(key, "/" in key, until, strikes, None, offences), reason, strikes)


def test_ban_filters() -> None:
    rows = [
        row("192.0.2.7", T0 + 300, offences=2, reason="env_file"),
        row("198.51.100.0/24", math.inf, reason="by hand"),
        row("2001:db8::/64", None, strikes=3),
    ]

    def shown(**given: str) -> list[str]:
        filters = Filters.of(given)
        return [r.detail.key for r in rows if keep(r, filters, search_network(filters.q), T0)]

    assert shown() == ["192.0.2.7", "198.51.100.0/24", "2001:db8::/64"]
    assert shown(q="192.0.2.0/24") == ["192.0.2.7"]
    assert shown(q="198.51.100.9") == ["198.51.100.0/24"]  # the address is inside a banned network
    assert shown(q="2001:db8::1") == ["2001:db8::/64"]
    assert shown(q="db8") == ["2001:db8::/64"]  # not an address: a substring
    assert shown(state="warning") == ["2001:db8::/64"]
    assert shown(remaining="lt10m") == ["192.0.2.7"]
    assert shown(remaining="forever") == ["198.51.100.0/24"]
    assert shown(strikes="2") == ["2001:db8::/64"]
    assert shown(level="1") == ["192.0.2.7"]
    assert shown(reason="by hand") == ["198.51.100.0/24"]
    with pytest.raises(FormError, match="state"):
        Filters.of({"state": "gone"})
    with pytest.raises(FormError, match="strikes"):
        Filters.of({"strikes": "-1"})


def test_reasons_are_labelled_by_category_and_the_rest_grouped() -> None:
    assert reason_label("allowed|detection:env_file", {"env_file": "env_files"}) == "allowed · detection env_files"
    assert reason_label("closed|mod_block:deny", {}) == "closed · mod_block deny"
    assert reason_label("refused|ban", {}) == "refused · ban"
    counts = {f"reason:closed|mod_block:r{i}": 10 - i for i in range(9)}
    grouped, series = reason_series([Bucket(T0, 60, {**counts, "outcome:allowed": 5})], {})
    assert [s.label for s in series][-1] == "other"
    assert len(series) == 8
    assert grouped[0].counts["other"] == 2 + 3  # r7 and r8


def test_reload_errors_one_a_line_whatever_the_answer() -> None:
    assert error_lines({"error": "reload_failed", "message": "m", "errors": ["a:1: x", "b:2: y"]}) == [
        "a:1: x",
        "b:2: y",
    ]
    text = "/etc/s.toml: 2 problems:\n  - server.listen: bad\n  - bans.x: worse"
    assert error_lines({"reload": "error", "error": text}) == [
        "/etc/s.toml: server.listen: bad",
        "/etc/s.toml: bans.x: worse",
    ]
    assert error_lines({"reload": "error", "error": "/etc/s.toml: server.listen: bad"}) == [
        "/etc/s.toml: server.listen: bad"
    ]
    assert error_lines(None) == ["the reload failed"]
