"""What the console reads from the metrics layer: the timeline, hits by rule, each address's history, reloads."""

from __future__ import annotations

import ipaddress
from types import MappingProxyType

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stockade.core.events import Event
from stockade.engine._async.ladder import Verdict
from stockade.errors import ConfigError, ConfigIssue
from stockade.metrics import Metrics
from stockade.metrics.history import IpHistory
from stockade.metrics.hits import OTHER, DetectionHits, Hits
from stockade.metrics.reloads import Reloads, problem_lines
from stockade.metrics.timeline import Readings, Timeline

T0 = 1_800_000_000.0  # a whole minute


def event(what: str, at: float = T0, **data: object) -> Event:
    return Event(what, None, 0, "", MappingProxyType(data), at)


# -- the timeline ---------------------------------------------------------------------------


def test_the_first_sample_sets_the_baseline_and_later_ones_count_what_moved() -> None:
    timeline = Timeline()
    timeline.sample(T0, {"a": 100})
    timeline.sample(T0 + 60, {"a": 103, "b": 2})
    timeline.sample(T0 + 120, {"a": 110, "b": 2})
    buckets = timeline.window(T0 + 150, {"a": 111, "b": 2}, span=180, step=60)
    assert [b.start for b in buckets] == [T0, T0 + 60, T0 + 120]
    assert [b.counts for b in buckets] == [{"a": 3, "b": 2}, {"a": 7}, {"a": 1}]


def test_the_minute_in_progress_shows_what_moved_since_the_last_sample() -> None:
    timeline = Timeline()
    timeline.sample(T0, {"a": 0})
    assert timeline.window(T0 + 30, {"a": 4}, span=60, step=60)[-1].counts == {"a": 4}


def test_buckets_of_half_an_hour_sum_their_minutes() -> None:
    timeline = Timeline()
    timeline.sample(T0, {"a": 0})
    for minute in range(1, 61):
        timeline.sample(T0 + 60 * minute, {"a": minute})
    buckets = timeline.window(T0 + 3599, {"a": 60}, span=3600, step=1800)
    assert [b.total() for b in buckets] == [30, 30]


def test_the_ring_keeps_only_the_last_minutes() -> None:
    timeline = Timeline(keep=3)
    timeline.sample(T0, {"a": 0})
    for minute in range(1, 6):
        timeline.sample(T0 + 60 * minute, {"a": minute * 10})
    buckets = timeline.window(T0 + 300, {"a": 50}, span=360, step=60)
    assert [b.counts.get("a", 0) for b in buckets] == [0, 0, 10, 10, 10, 0]  # minutes 0 and 1 are gone


def test_a_counter_reset_counts_from_zero_and_a_clock_going_back_merges() -> None:
    timeline = Timeline()
    timeline.sample(T0, {"a": 50})
    timeline.sample(T0 + 60, {"a": 5})  # reset: 5 new in minute 0, not -45
    timeline.sample(T0 + 70, {"a": 7})  # 2 in minute 1
    timeline.sample(T0 + 30, {"a": 8})  # 1 more in minute 1; the clock went back to minute 0
    timeline.sample(T0 + 90, {"a": 9})  # 1 counted from minute 0, older than the newest: merged into it
    buckets = timeline.window(T0 + 90, {"a": 9}, span=120, step=60)
    assert [b.counts for b in buckets] == [{"a": 5}, {"a": 4}]


def test_a_window_must_be_whole_minutes() -> None:
    with pytest.raises(ValueError, match="whole number of minutes"):
        Timeline().window(T0, {}, span=60, step=30)


def test_readings_are_kept_with_their_time() -> None:
    readings = Readings(keep=2)
    for at, value in ((1.0, 0.1), (2.0, 0.2), (3.0, 0.3)):
        readings.add(at, value)
    assert readings.since(0) == [(2.0, 0.2), (3.0, 0.3)]
    assert readings.last() == (3.0, 0.3)


# -- hits ----------------------------------------------------------------------------------------


def test_hits_are_bounded_and_the_overflow_counts_together() -> None:
    hits = Hits(limit=2)
    for name in ("a", "b", "c", "d", "a"):
        hits.add(name)
    assert hits.snapshot() == {"a": 2, "b": 1, OTHER: 2}


def test_detection_hits_use_the_rules_and_categories_an_event_names() -> None:
    hits = DetectionHits()
    hits.record({"rule": "env_file", "path": "/.env"})
    hits.record({"rule": "sqli-1", "rules": ["sqli-1", "sqli-2", "sqli-1"], "categories": ["sqli", "sqli"]})
    hits.record({"rule": 7})  # not a name: ignored
    assert hits.rules.snapshot() == {"env_file": 1, "sqli-1": 1, "sqli-2": 1}
    assert hits.categories.snapshot() == {"sqli": 1}


def test_verdicts_count_reasons_and_mod_block_rules() -> None:
    metrics = Metrics(process=False)
    metrics.observe_verdict(Verdict("pass", "app"))  # a clean request: nothing
    metrics.observe_verdict(Verdict("close", "block", block_rule="deny-admin"))
    metrics.observe_verdict(Verdict("refuse", "ban"))
    metrics.observe_verdict(Verdict("pass", "app", malicious="env_file"))
    metrics.observe_verdict(Verdict("pass", "app", block_rule="allow-health", allowed=True))
    metrics.observe_verdict(Verdict("refuse", "lockout", malicious="env_file"))
    assert metrics.reasons.snapshot() == {
        "closed|mod_block:deny-admin": 1,
        "refused|ban": 1,
        "allowed|detection:env_file": 1,
        "allowed|mod_block:allow-health": 1,
        "challenged|detection:env_file": 1,
        "challenged|lockout": 1,
    }
    assert metrics.block_rule_hits.snapshot() == {"deny-admin": 1, "allow-health": 1}
    metrics.count_request("allowed")
    totals = metrics.totals()
    assert totals["outcome:allowed"] == 1
    assert totals["reason:refused|ban"] == 1


def test_the_metrics_timeline_follows_outcomes_and_reasons() -> None:
    metrics = Metrics(process=False)
    metrics.sample(T0)
    metrics.count_request("allowed")
    metrics.count_request("banned")
    metrics.observe_verdict(Verdict("refuse", "ban"))
    metrics.sample(T0 + 60)
    metrics.count_request("allowed")
    buckets = metrics.timeline.window(T0 + 70, metrics.totals(), span=120, step=60)
    assert buckets[0].counts == {"outcome:allowed": 1, "outcome:banned": 1, "reason:refused|ban": 1}
    assert buckets[1].counts == {"outcome:allowed": 1}


def test_hits_are_exposed_to_prometheus() -> None:
    metrics = Metrics(process=False)
    metrics.observe_verdict(Verdict("close", "block", block_rule="deny-admin"))
    metrics.sink.submit(event("malicious_request", ip="192.0.2.7", rule="env_file", categories=["secrets"]))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
    }
    assert samples[("stockade_block_rule_hits_total", (("rule", "deny-admin"),))] == 1
    assert samples[("stockade_detection_hits_total", (("rule", "env_file"),))] == 1
    assert samples[("stockade_detection_category_hits_total", (("category", "secrets"),))] == 1


# -- history -----------------------------------------------------------------------------------


def test_the_history_of_an_address_holds_its_strikes_and_bans_newest_first() -> None:
    metrics = Metrics(process=False)
    metrics.sink.submit(event("malicious_request", T0, ip="192.0.2.7", rule="env_file", path="/.env"))
    metrics.sink.submit(event("ip_block", T0 + 1, ip="192.0.2.7", key="192.0.2.7", rule="env_file", until="x"))
    metrics.sink.submit(event("auth_fail", T0 + 2, user="alice"))  # not about an address
    entries = metrics.history.of("192.0.2.7")
    assert [(e.what, e.rule, e.path) for e in entries] == [
        ("ip_block", "env_file", None),
        ("malicious_request", "env_file", "/.env"),
    ]
    assert metrics.history.last_ban("192.0.2.7") == entries[0]


def test_an_ipv6_ban_is_filed_under_its_prefix_too() -> None:
    history = IpHistory()
    history.record(event("ip_block", ip="2001:db8::7", key="2001:db8::/64", rule="r"))
    assert history.of("2001:db8::/64")[0].address == "2001:db8::7"
    assert history.of("2001:db8::7")[0].rule == "r"


def test_the_history_is_bounded_per_address_and_in_addresses() -> None:
    history = IpHistory(addresses=2, per_address=3)
    for index in range(5):
        history.record(event("malicious_request", T0 + index, ip="192.0.2.1", rule=f"r{index}"))
    assert [e.rule for e in history.of("192.0.2.1")] == ["r4", "r3", "r2"]
    history.record(event("malicious_request", ip="192.0.2.2", rule="x"))
    history.record(event("malicious_request", ip="192.0.2.1", rule="again"))  # 192.0.2.1 seen last
    history.record(event("malicious_request", ip="192.0.2.3", rule="y"))  # pushes out 192.0.2.2
    assert sorted(history.names()) == ["192.0.2.1", "192.0.2.3"]


def test_the_history_of_a_network_gathers_its_addresses() -> None:
    history = IpHistory()
    for at, ip in ((1.0, "198.51.100.7"), (2.0, "198.51.100.9"), (3.0, "203.0.113.1")):
        history.record(event("malicious_request", at, ip=ip, rule="r"))
    found = history.within(ipaddress.ip_network("198.51.100.0/24"))
    assert [e.address for e in found] == ["198.51.100.9", "198.51.100.7"]


# -- reloads -------------------------------------------------------------------------------------


def test_reload_errors_are_one_a_line_with_their_file() -> None:
    reloads = Reloads(keep=2)
    issues = [ConfigIssue("server.listen", "bad address", "x", True), ConfigIssue("bans.threshold", "too small")]
    reloads.failed(T0, ConfigError("/etc/stockade.toml", issues))
    reloads.succeeded(T0 + 1)
    reloads.failed(T0 + 2, OSError("first line\nsecond line"))
    assert [r.ok for r in reloads.recent()] == [False, True]
    assert reloads.last is not None
    assert reloads.last.errors == ("first line", "second line")
    assert problem_lines(ConfigError("/etc/stockade.toml", issues)) == (
        "/etc/stockade.toml: server.listen: bad address (got 'x')",
        "/etc/stockade.toml: bans.threshold: too small",
    )
