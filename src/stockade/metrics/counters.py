"""Counters and gauges of one process, exposed in the Prometheus text format.

Each :class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry` (not the
library's global one), so two servers in one test process never share numbers.

What costs what on the request path: the server counts each request once, by outcome, and
nothing else there; that count is a plain integer in a dict, read at each scrape (a
prometheus-client counter takes a lock, about 0.3 µs an increment, and the event loop is
the only writer). Lockout events
are counted by an event sink (:attr:`Metrics.sink`), which runs only for logins. The store
gauges and the store error counter cost nothing until a scrape: :meth:`Metrics.refresh`
reads ``guard.store_status()`` then.

``stockade serve`` is one process (the native front's threads serve its requests), so one
registry holds the whole server's numbers; the native front's own counters are brought
into it at each scrape. The admin API renders them from a snapshot
(:mod:`stockade.metrics.snapshot`).

For the console: :meth:`Metrics.observe_verdict` counts, for each request the ladder did
not simply pass, its outcome by reason (``closed|mod_block:<rule>``, ``refused|ban``,
``allowed|detection:<rule>``, ``challenged|lockout``) and mod_block's hits by rule; the
sink counts detection hits by rule and category and keeps each address's recent history
(:mod:`stockade.metrics.history`); :meth:`Metrics.keep_timeline` samples the running
totals once a minute into a day of per-minute buckets (:mod:`stockade.metrics.timeline`)
and reads the store's latency then; :attr:`Metrics.reloads` remembers the last reloads.
A clean request costs one more method call and nothing else.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, UnknownMetricFamily
from prometheus_client.registry import Collector

from stockade.errors import StoreError
from stockade.metrics.history import IpHistory
from stockade.metrics.hits import DetectionHits, Hits
from stockade.metrics.reloads import Reloads
from stockade.metrics.timeline import MINUTE, Readings, Timeline

if TYPE_CHECKING:
    from prometheus_client.metrics import Counter as CounterChild

    from stockade.clock import Clock
    from stockade.core.events import Event
    from stockade.engine import AsyncGuard
    from stockade.engine._async.ladder import Verdict
    from stockade.stores.records import StoreStatus

# Outcomes of a request as the protecting server counts them; others are counted as given.
REQUEST_OUTCOMES: Final = ("allowed", "challenged", "refused", "blocked", "banned", "closed", "error")
# Outcomes of a proxy's check request at the decision endpoint (:mod:`stockade.decision`).
DECISION_OUTCOMES: Final = ("allowed", "challenged", "refused", "banned", "closed", "bad_check", "caller_refused")
# Lines of the access logs stockade follows (:mod:`stockade.accesslogs`), by what became of them.
LOG_LINE_OUTCOMES: Final = ("counted", "unparsed", "too_long")
# The ladder's stages, as the request outcomes of the console's charts.
_VERDICT_OUTCOMES: Final = {"ban": "refused", "lockout": "challenged", "block": "closed", "app": "allowed"}
# Events of the engine (lockout and bans), bound ahead so that they show as 0 before the first.
LOCKOUT_EVENTS: Final = (
    "auth_fail",
    "auth_success",
    "auth_refused",
    "user_block",
    "user_unblock",
    "ip_block",
    "ip_unblock",
)


class Metrics:
    """The numbers of one process, and their exposition for ``GET /metrics``."""

    content_type: Final = CONTENT_TYPE_LATEST

    def __init__(self, *, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._request_counts: dict[str, int] = dict.fromkeys(REQUEST_OUTCOMES, 0)
        r.register(_OutcomeCounter("stockade_requests", "Requests decided, by outcome.", self._request_counts))
        self._decision_counts: dict[str, int] = dict.fromkeys(DECISION_OUTCOMES, 0)
        r.register(
            _OutcomeCounter(
                "stockade_decisions",
                "Check requests of the proxies at the decision endpoint, by outcome.",
                self._decision_counts,
            )
        )
        self.log_lines: dict[str, int] = dict.fromkeys(LOG_LINE_OUTCOMES, 0)
        r.register(
            _OutcomeCounter(
                "stockade_access_log_lines", "Lines of the followed access logs, by outcome.", self.log_lines
            )
        )
        self.reasons = Hits()  # "outcome|reason" of the requests the ladder did not simply pass
        self.block_rule_hits = Hits()
        self.detections = DetectionHits()
        self.history = IpHistory()
        self.timeline = Timeline()
        self.latency = Readings()
        self.reloads = Reloads()
        self.last_status: StoreStatus | None = None
        r.register(
            _OutcomeCounter(
                "stockade_block_rule_hits",
                "Requests a mod_block rule matched, by rule.",
                self.block_rule_hits.counts,
                "rule",
            )
        )
        r.register(
            _OutcomeCounter(
                "stockade_detection_hits",
                "Malicious requests, by detection rule.",
                self.detections.rules.counts,
                "rule",
            )
        )
        r.register(
            _OutcomeCounter(
                "stockade_detection_category_hits",
                "Malicious requests, by detection category (when the detection names them).",
                self.detections.categories.counts,
                "category",
            )
        )
        self.lockout_events = Counter(
            "stockade_lockout_events", "Security events (login lockout and IP bans), by event.", ["event"], registry=r
        )
        self.store_errors = Counter(
            "stockade_store_errors", "Store calls that failed, as the store status counts them.", registry=r
        )
        self.store_refused = Counter(
            "stockade_store_records_refused",
            "New records a full store refused rather than evict a block or ban in force.",
            registry=r,
        )
        self.store_up = Gauge("stockade_store_up", "1 if the store answered the last scrape, else 0.", registry=r)
        self.store_latency = Gauge(
            "stockade_store_latency_seconds", "One round trip to the store, measured at the last scrape.", registry=r
        )
        self.view_lag = Gauge(
            "stockade_view_lag_seconds",
            "Last measured delay of a change notification to the local view (NaN when unknown).",
            registry=r,
        )
        self.view_entries = Gauge(
            "stockade_view_entries", "Entries in the local view of the store (NaN when it has none).", registry=r
        )
        self.reload_errors = Counter(
            "stockade_reload_errors", "Reloads refused (the configuration in force stayed).", registry=r
        )
        self.proxy_refused = Counter(
            "stockade_proxy_protocol_refused",
            "Connections closed before a byte was read: the peer may not send this listener a PROXY header.",
            ["listener"],
            registry=r,
        )
        self.pending_writes = Gauge(
            "stockade_store_pending_writes", "Writes queued for the store off the request path.", registry=r
        )
        if process:
            ProcessCollector(registry=r)
        self._events: dict[str, CounterChild] = {e: self.lockout_events.labels(e) for e in LOCKOUT_EVENTS}
        self._errors_seen = 0
        self._refused_seen = 0
        self.sink = MetricsSink(self)
        for gauge in (self.store_latency, self.view_lag, self.view_entries):
            gauge.set(math.nan)

    def add_counters(self, name: str, read: Callable[[], Mapping[str, int]], description: str) -> None:
        """Expose counters kept elsewhere (mod_block's), read at each scrape: ``<name>_<KEY>``."""
        self.registry.register(_CountersCollector(name, read, description))

    def count_request(self, outcome: str, count: int = 1) -> None:
        """One request (or ``count``) decided with ``outcome`` (one of :data:`REQUEST_OUTCOMES`)."""
        counts = self._request_counts
        counts[outcome] = counts.get(outcome, 0) + count

    def count_decision(self, outcome: str, n: int = 1) -> None:
        """``n`` check requests answered at the decision endpoint; a decided one is a request decided too."""
        counts = self._decision_counts
        counts[outcome] = counts.get(outcome, 0) + n
        if outcome in self._request_counts:
            self.count_request(outcome, n)

    def observe_verdict(self, verdict: Verdict) -> None:
        """The ladder's verdict on a request: its reasons, and mod_block's rule hit (a clean pass costs nothing)."""
        rule, malicious, stage = verdict.block_rule, verdict.malicious, verdict.stage
        if rule is None and malicious is None and stage == "app":
            return
        outcome = _VERDICT_OUTCOMES.get(stage, "allowed") if verdict.action != "close" else "closed"
        reasons = self.reasons
        if stage == "ban":
            reasons.add("refused|ban")
            return
        if rule is not None:
            self.block_rule_hits.add(rule)
            reasons.add(f"{outcome}|mod_block:{rule}")
        if malicious is not None:
            reasons.add(f"{outcome}|detection:{malicious}")
        if stage == "lockout":
            reasons.add("challenged|lockout")

    def totals(self) -> dict[str, int]:
        """Every running total the timeline follows: ``outcome:<outcome>`` and ``reason:<outcome>|<reason>``."""
        found = {f"outcome:{name}": value for name, value in list(self._request_counts.items())}
        found.update((f"reason:{name}", value) for name, value in list(self.reasons.counts.items()))
        return found

    def sample(self, now: float) -> None:
        """Take the timeline's sample now (:meth:`keep_timeline` does it once a minute)."""
        self.timeline.sample(now, self.totals())

    async def keep_timeline(self, clock: Clock, guard: Callable[[], AsyncGuard | None]) -> None:
        """Sample the totals and read the store's latency just after each minute starts, for ever."""
        self.sample(clock.now())
        while True:
            now = clock.now()
            await asyncio.sleep(MINUTE - now % MINUTE + 0.05)
            now = clock.now()
            self.sample(now)
            current = guard()
            if current is not None:
                await self.refresh(current)
                status = self.last_status
                self.latency.add(now, math.nan if status is None else status.latency)

    def request_counts(self) -> dict[str, int]:
        """The requests decided so far, by outcome."""
        return dict(self._request_counts)

    def count_event(self, what: str) -> None:
        """One lockout event (``auth_fail``, ``user_block``...)."""
        child = self._events.get(what)
        if child is None:
            child = self._events[what] = self.lockout_events.labels(what)
        child.inc()

    def observe_status(self, status: StoreStatus | None) -> None:
        """Set the store gauges from a status, or mark the store down (``None``)."""
        self.last_status = status
        if status is None:
            self.store_up.set(0)
            self.store_latency.set(math.nan)
            self.store_errors.inc()  # the status call itself failed; the store does not count that
            return
        self.store_up.set(1)
        self.store_latency.set(status.latency)
        self.view_lag.set(math.nan if status.view_lag is None else status.view_lag)
        self.view_entries.set(math.nan if status.view_entries is None else status.view_entries)
        self.pending_writes.set(status.pending_writes)
        # The status carries a running total; the counter grows by what is new since.
        if status.errors > self._errors_seen:
            self.store_errors.inc(status.errors - self._errors_seen)
            self._errors_seen = status.errors
        if status.refused > self._refused_seen:
            self.store_refused.inc(status.refused - self._refused_seen)
            self._refused_seen = status.refused

    async def refresh(self, guard: AsyncGuard) -> None:
        """Read the store status now, for the gauges; a failing store is reported as down."""
        try:
            status = await guard.store_status()
        except StoreError:
            status = None
        self.observe_status(status)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (:attr:`content_type`)."""
        return generate_latest(self.registry)

    async def scrape(self, guard: AsyncGuard) -> bytes:
        """:meth:`refresh`, then :meth:`exposition`: what ``GET /metrics`` answers."""
        await self.refresh(guard)
        return self.exposition()


class _CountersCollector(Collector):
    """A collector over a mapping of running totals, such as BFE's ``mod_block`` counters."""

    def __init__(self, name: str, read: Callable[[], Mapping[str, int]], description: str) -> None:
        self.name = name
        self.read = read
        self.description = description

    def collect(self) -> Iterator[UnknownMetricFamily]:
        # Untyped, so that the names stay exactly BFE's (a counter family would add "_total").
        for key, value in self.read().items():
            yield UnknownMetricFamily(f"{self.name}_{key}", self.description, value=value)

    def describe(self) -> Iterator[UnknownMetricFamily]:
        return iter(())


class _OutcomeCounter(Collector):
    """A counter family ``<name>_total{<label>=...}`` over a dict of running totals."""

    def __init__(self, name: str, description: str, counts: Mapping[str, int], label: str = "outcome") -> None:
        self.name = name
        self.description = description
        self.counts = counts
        self.label = label

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.description, labels=[self.label])
        for outcome, value in list(self.counts.items()):
            family.add_metric([outcome], value)
        yield family

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.description, labels=[self.label])


class MetricsSink:
    """An event sink for the guard (``sinks=[metrics.sink]``) that counts lockout events."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def submit(self, event: Event) -> None:
        metrics = self.metrics
        metrics.count_event(event.what)
        if event.what == "malicious_request":
            metrics.detections.record(event.data)
        metrics.history.record(event)

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        return None
