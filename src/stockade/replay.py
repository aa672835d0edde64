"""Replay recorded traffic through the guard with a simulated clock (backtesting).

``stockade replay -c stockade.toml EVENTS`` feeds each event of a file through the very
checks a running server makes (:mod:`stockade.engine._async.ladder`), on a fresh
in-memory store unless another is named, with the clock set to each event's time, and
prints one JSON line per event (with the client's address, and the path of a request),
then a last line with every mod_block counter. Users try rules on last week's traffic this
way before switching them on; the configured callbacks are not called unless asked.

Inputs, one event per line:

* JSON lines: ``{"at": 12.5, "type": "connection", "peer": "10.1.1.200"}``;
  ``{"at": 13, "type": "request", "peer": "...", "request": {...}, "product": "pn"}``
  where ``request`` follows the request schema of the BFE condition vectors
  (:data:`stockade.conditions.vectors.REQUEST_KEYS`: headers such as ``Authorization``
  included, the body as text in ``body`` or base64 in ``body_base64``, ``response:
  {"code": 404}`` for response rules; an unknown key is refused) and ``product`` overrides
  the host table; detection reads the headers and the body as the servers read them;
  ``{"at": 20, "type": "reload", "target": "block_rules" | "ip_blocklist", "path": "..."}``.
* nginx/Apache combined access logs: each line is a connection and a request from its
  address at its time, with its Referer and User-Agent; its status feeds the response
  rules.

A line that is neither answers ``{"line": n, "error": "..."}`` and the replay goes on.

:meth:`Replay.stream` reads the input as bytes in large pieces and hands them to the
native fast path (:class:`stockade._native.ReplayLog`), which decides the clean lines of a
combined log through the site's native ladder with the log's times and writes their
JSON lines itself; the first line it cannot finish alone (a detection hit, a ban, a
mod_block rule, a lockout directory, a sweep due, a JSON event, anything unusual) comes
back here and is replayed by :meth:`Replay.run`'s own steps, then the fast path goes on.
The driver tells the fast path each client's ban status after every line it replays
itself, so a clean line's ``ip_status`` is the store's. The output is the same either way
(a differential test keeps them equal); the fast path is off with ``--store`` (a store
that may hold bans already), when something listens to the clean requests' events,
when detection samples (``inspect_percentage`` below 100), and when a mod_block rule
reads the response (a log line's status).
"""

from __future__ import annotations

import gc
import itertools
import json
import math
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from stockade import _native
from stockade.clock import ManualClock
from stockade.conditions.vectors import request_problem
from stockade.config import Config
from stockade.core.events import BANS_DIRECTORY, Event
from stockade.core.facts import RequestFacts
from stockade.engine import AsyncGuard
from stockade.engine._async.ladder import AsyncLadder, Incoming
from stockade.engine.events import EventSink
from stockade.engine.settings import NO_LISTENER, GuardSettings
from stockade.errors import BadRequest
from stockade.netaddr import normalize_ip
from stockade.request.hosts import canonical_host
from stockade.request.paths import PathPolicy, canonical_decoded_path, canonical_path
from stockade.rules import COUNTER_NAMES, BlockReloader
from stockade.server.native_ladder import ban_view_of, twin
from stockade.server.protect import DirectoryGate
from stockade.stores import MemoryStore, OffloadedStore, open_async_store

_COMBINED = re.compile(
    r'^(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: (?P<proto>HTTP/[\d.]+))?" '
    r'(?P<status>\d{3}) \S+(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?'
)
_LOG_TIME = "%d/%b/%Y:%H:%M:%S %z"
# One encoder for every output line: ``json.dumps`` with separators builds one per call.
_ENCODER = json.JSONEncoder(separators=(", ", ": "))


class _Collector:
    """An event sink that keeps what one replayed event caused."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def submit(self, event: Event) -> None:
        self.events.append(event)

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        return None

    def take(self) -> list[dict[str, object]]:
        taken = [_event_json(event) for event in self.events]
        self.events.clear()
        return taken


@dataclass
class Replay:
    """One replay: the guard, the checks and the mod_block files of a configuration.

    The configured callbacks are not called unless ``callbacks`` is true: a backtest of last
    week's traffic must not page anybody nor append to a production callback's file.
    """

    config: Config
    store_url: str | None = None
    clock: ManualClock = field(default_factory=lambda: ManualClock(0.0))
    callbacks: bool = False
    # False: every line replayed in Python (the fast path's oracle, ``--no-fast``).
    native: bool = True

    def __post_init__(self) -> None:
        self.collector = _Collector()
        sinks: list[EventSink] = [self.collector]
        store = (
            open_async_store(self.store_url, self.config.base)
            if self.store_url
            else OffloadedStore(MemoryStore(max_records=10_000_000), threaded=False)
        )
        settings = self.config.guard_settings()
        if not self.callbacks:
            settings = _without_callbacks(settings)
        self.guard = AsyncGuard(settings, store, clock=self.clock, sinks=sinks)
        block = self.config.block
        self.block: BlockReloader | None = block.reloader() if block is not None else None
        gates = {d.path: DirectoryGate(d, self.clock) for d in self.config.directories}
        self.ladder = AsyncLadder(
            self.guard, block=self.block, hosts=block.hosts if block is not None else None, gates=gates
        )
        # The site's first listener; a configuration without one (only a decision endpoint,
        # or none at all) is replayed as the decision endpoint's requests are decided.
        listeners = self.guard.listeners
        self.listener = self.config.listen[0].listener if self.config.listen else (listeners or (NO_LISTENER,))[0]
        self._next_sweep = -math.inf
        # The fast path, built on the first access-log line (building it compiles the
        # detection rules: a replay of JSON events alone never pays for it); False: not yet.
        self.fast: _native.ReplayLog | bool | None = False if self.native else None
        self._untold: set[str] = set()

    async def run(self, lines: Iterable[str]) -> AsyncIterator[dict[str, object]]:
        """One JSON object per input line, then the counters (every line replayed here, in Python)."""
        for number, line in enumerate(lines, 1):
            for output in await self._line(number, line):
                yield output
        yield {"counters": self.counters()}

    async def stream(self, chunks: Iterable[bytes]) -> AsyncIterator[str]:
        """:meth:`run`'s output as JSON lines (each piece ends with a newline), from the
        input's bytes in pieces of any size: the fast path's lines in batches, the others
        one by one, in the input's order."""
        number = 0
        rest = b""
        for chunk in itertools.chain(chunks, (None,)):
            last = chunk is None
            data = rest + chunk if chunk else rest
            at = 0
            while at < len(data):
                if self.fast is False and not data.startswith(b"{", at):
                    await self._start_fast_path()
                fast = self.fast
                if isinstance(fast, _native.ReplayLog) and not self.collector.events:
                    out, at, lines, now = fast.run(data, at, self.clock.now(), self._next_sweep, last=last)
                    number += lines
                    self.clock.set(now)
                    if out:
                        yield out
                    if at >= len(data):
                        break
                end = data.find(b"\n", at)
                if end < 0 and not last:
                    break
                stop = len(data) if end < 0 else end + 1
                number += 1
                outputs = await self._line(number, data[at:stop].decode("utf-8", "replace"))
                at = stop
                if outputs:
                    yield "".join(_ENCODER.encode(output) + "\n" for output in outputs)
                    await self._tell(outputs)
            rest = data[at:]
        yield _ENCODER.encode({"counters": self.counters()}) + "\n"

    def counters(self) -> dict[str, int]:
        if self.block is None:
            return {f"mod_block_{name}": 0 for name in COUNTER_NAMES}
        return {f"mod_block_{name}": value for name, value in self.block.table.counters.snapshot().items()}

    async def close(self) -> None:
        await self.guard.aclose()

    async def _line(self, number: int, line: str) -> list[dict[str, object]]:
        text = line.strip()
        if not text or text.startswith("#"):
            return []
        try:
            return await self._event(text)
        except _BadEvent as exc:
            return [{"line": number, "error": str(exc)}]

    def fast_path(self) -> _native.ReplayLog | None:
        """The native fast path (built on first use), or ``None`` when this replay cannot
        have one (see the module docs)."""
        if self.fast is not False:
            return self.fast if isinstance(self.fast, _native.ReplayLog) else None
        self.fast = None
        bans = self.guard.bans
        settings = bans.settings
        if self.store_url or bans.events.has_callbacks(BANS_DIRECTORY) or settings.inspect_percentage < 100:
            return None
        if self._rules_read_responses():
            return None
        ladder = self._native_ladder()
        if ladder is None:
            return None
        watched = sorted({status for rule in settings.response_rules for status in rule.statuses})
        fast = self.fast = _native.ReplayLog(ladder, window=bans.policy.window, watched=watched)
        return fast

    def _rules_read_responses(self) -> bool:
        """Whether a mod_block rule may read the response (``res_code_in``, ...): a log line's
        status is a response here, which the native request does not carry."""
        if self.block is None:
            return False
        products = self.block.table.rules.products.values()
        return any("res_" in rule.condition.text for rules in products for rule in rules.rules)

    def _native_ladder(self) -> _native.NativeLadder | None:
        view = ban_view_of(self.guard.bans.store)
        if view is None:
            return None
        policy = self.config.paths
        canonicalizer = _native.Canonicalizer(
            merge_slashes=policy.merge_slashes, escaped_slashes=policy.escaped_slashes
        )
        blocklist = self.block.table.blocklist if self.block is not None else None
        return twin(self.ladder, view, canonicalizer=canonicalizer, blocklist=blocklist)

    async def _start_fast_path(self) -> None:
        fast = self.fast_path()
        # What start-up built (modules, the configuration, the tables) lives as long as the
        # replay: out of the collector's sight, a full collection no longer walks it.
        gc.freeze()
        if fast is not None:
            for ip in self._untold:
                await self._tell_status(fast, ip)
        self._untold.clear()

    async def _tell(self, outputs: list[dict[str, object]]) -> None:
        """After lines replayed here: the ban status of every client they name, for the fast
        path (kept until it is built), and the ladder in force after a reload."""
        fast = self.fast
        if fast is None:
            return
        named: set[str] = set()
        for output in outputs:
            if output.get("type") == "reload" and isinstance(fast, _native.ReplayLog):
                ladder = None if self._rules_read_responses() else self._native_ladder()
                if ladder is None:
                    self.fast = fast = None
                    return
                fast.set_ladder(ladder)
            ip = output.get("ip")
            if isinstance(ip, str):
                named.add(ip)
            events = output.get("events")
            for event in events if isinstance(events, list) else ():
                data = event.get("data") if isinstance(event, dict) else None
                for name in ("ip", "key"):
                    value = data.get(name) if isinstance(data, dict) else None
                    if isinstance(value, str):
                        named.add(value)
        if isinstance(fast, _native.ReplayLog):
            for ip in named:
                await self._tell_status(fast, ip)
        else:
            self._untold |= named

    async def _tell_status(self, fast: _native.ReplayLog, ip: str) -> None:
        """Tell the fast path the ban status of an IPv4 client (the only kind it replays)."""
        if ":" in ip or normalize_ip(ip) != ip:
            return
        bans = self.guard.bans
        now = self.clock.now()
        until = await bans.store.find_ban(ip, ip, now)
        state = await bans.store.ban_state(ip, now)
        if until is not None or state.banned_until is not None:
            fast.set_status(ip, None)
        else:
            fast.set_status(ip, list(state.strikes))

    async def _event(self, text: str) -> list[dict[str, object]]:
        if text.startswith("{"):
            try:
                event = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _BadEvent(f"not JSON: {exc.msg} at column {exc.colno}") from None
            if not isinstance(event, dict):
                raise _BadEvent("expected a JSON object")
            return [await self._json_event(event)]
        found = _COMBINED.match(text)
        if found is None:
            raise _BadEvent("neither a JSON event nor a combined access-log line")
        return await self._log_line(found)

    async def _json_event(self, event: Mapping[str, Any]) -> dict[str, object]:
        at = event.get("at", self.clock.now())
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise _BadEvent(f"invalid at {at!r}: expected a number of seconds")
        await self._advance(float(at))
        kind = event.get("type")
        if kind == "connection":
            peer = _peer(event.get("peer"))
            return {"at": at, "type": kind, "ip": peer, **self._connection(peer)}
        if kind == "request":
            request = event.get("request", {})
            if not isinstance(request, Mapping):
                raise _BadEvent("invalid request: expected an object")
            problem = request_problem(request)
            if problem is not None:
                raise _BadEvent(f"invalid request: {problem}")
            product = event.get("product")
            if product is not None and not isinstance(product, str):
                raise _BadEvent("invalid product: expected a string")
            peer = _peer(event.get("peer", request.get("client_ip")))
            return {"at": at, "type": kind, **await self._request(peer, request, product)}
        if kind == "reload":
            return {"at": at, "type": kind, **self._reload(event.get("target"), event.get("path"))}
        raise _BadEvent(f"invalid type {kind!r}: expected connection, request or reload")

    async def _advance(self, at: float) -> None:
        """Move the simulated clock (never backwards) and sweep as a server would on its timer."""
        self.clock.set(max(at, self.clock.now()))
        if self.clock.now() >= self._next_sweep:
            self._next_sweep = self.clock.now() + self.guard.settings.sweep_interval
            await self.guard.sweep()

    def _connection(self, peer: str) -> dict[str, object]:
        if self.block is not None and self.block.table.check_connection(peer) == "close":
            return {"decision": "closed_at_connection"}
        return {"decision": "accepted"}

    async def _request(self, peer: str, request: Mapping[str, Any], product: str | None) -> dict[str, object]:
        vector = dict(request)
        vector.setdefault("client_ip", peer)
        vector.setdefault("remote_ip", peer)
        if product is not None:
            vector["product"] = product
        try:
            canonical_vector(vector, self.config.paths)
        except BadRequest as exc:
            exc.client = normalize_ip(str(vector.get("client_ip") or "")) or ""
            malicious = await self.ladder.refused(exc)
            return {
                "ip": exc.client,
                "path": str(vector.get("path") or ""),
                "decision": "denied",
                "status": 400,
                "rule": None,
                "malicious": malicious,
                "reason": str(exc),
                "ip_status": str(await self.guard.ip_address_status(exc.client)) if exc.client else None,
                "events": self.collector.take(),
            }
        facts = RequestFacts.from_vector(vector, now=self.clock.now())
        authorization = [value.encode("latin-1") for name, value in facts.headers if name.lower() == "authorization"]
        incoming = Incoming(
            facts, authorization, self.listener, f"{facts.method} {facts.uri or facts.path} {facts.proto}"
        )
        verdict = await self.ladder.decide(incoming)
        if verdict.action == "close":
            decision, status = "closed_at_request", None
        elif verdict.action == "refuse":
            decision = "denied"
            status = verdict.response.status if verdict.response is not None else None
        else:
            decision, status = ("allowed" if verdict.allowed else "passed_through"), None
            if facts.response_code is not None:
                await self.guard.bans.observe_response(facts.client_ip or "", facts.path, facts.response_code)
        events = self.collector.take()
        if verdict.block_rule is not None:
            action = "close" if verdict.action == "close" else "allow" if verdict.allowed else "matched"
            events.insert(0, {"what": "block_rule", "data": {"rule": verdict.block_rule, "action": action}})
        client = facts.client_ip or ""
        ip_status = str(await self.guard.ip_address_status(client)) if normalize_ip(client) else None
        return {
            "ip": client,
            "path": facts.path,
            "decision": decision,
            "status": status,
            "rule": verdict.block_rule,
            "malicious": verdict.malicious,
            "ip_status": ip_status,
            "events": events,
        }

    def _reload(self, target: object, path: object) -> dict[str, object]:
        if target not in ("block_rules", "ip_blocklist"):
            raise _BadEvent(f"invalid target {target!r}: expected block_rules or ip_blocklist")
        if path is not None and not isinstance(path, str):
            raise _BadEvent("invalid path: expected a string")
        if self.block is None:
            return {"reload": "error", "error": "no [block] section in the configuration"}
        result = self.block.reload("block_rules" if target == "block_rules" else "ip_blocklist", path)
        return {"reload": "ok"} if result.ok else {"reload": "error", "error": result.message}

    async def _log_line(self, found: re.Match[str]) -> list[dict[str, object]]:
        # The native reading of the usual spelling is strptime's, at a tenth of its cost.
        at = _native.replay_log_time(found["time"])
        if at is None:
            try:
                at = datetime.strptime(found["time"], _LOG_TIME).timestamp()
            except ValueError:
                raise _BadEvent(f"invalid time {found['time']!r}: expected 10/Oct/2000:13:55:36 -0700") from None
        await self._advance(at)
        peer = _peer(found["ip"])
        target = found["target"]
        path, _, query = target.partition("?")
        headers = {
            name: value for name, value in (("Referer", found["referer"]), ("User-Agent", found["agent"])) if value
        }
        request = {
            "method": found["method"],
            "path": path,
            "query": query,
            "uri": target,
            "proto": found["proto"] or "HTTP/1.0",
            "headers": headers,
            "response": {"code": int(found["status"])},
        }
        connection = {"at": at, "type": "connection", "ip": peer, **self._connection(peer)}
        if connection["decision"] != "accepted":
            return [connection]
        return [connection, {"at": at, "type": "request", **await self._request(peer, request, None)}]


def _without_callbacks(settings: GuardSettings) -> GuardSettings:
    directories = tuple(replace(d, callbacks=()) for d in settings.directories)
    bans = None if settings.bans is None else replace(settings.bans, callbacks=())
    return replace(settings, directories=directories, bans=bans)


class _BadEvent(ValueError):
    """A line of the replay file that is not an event."""


def _peer(value: object) -> str:
    address = normalize_ip(value) if isinstance(value, str) else None
    if address is None:
        raise _BadEvent(f"invalid peer {value!r}: expected an IP address")
    return address


def canonical_vector(vector: dict[str, Any], policy: PathPolicy) -> None:
    """Make a request vector canonical in place, as a front makes a request: path, target and host.

    The target is read from ``uri`` (as sent, escaped) when there is one, else from the
    decoded ``path``, which is escaped and never decoded again.
    """
    uri = vector.get("uri")
    query = str(vector.get("query") or "")
    if isinstance(uri, str) and uri:
        raw = uri.split("?", 1)[0].split("#", 1)[0]
        canon = canonical_path(raw.encode("utf-8", "surrogateescape"), policy)
    else:
        canon = canonical_decoded_path(str(vector.get("path") or "/"), policy)
    target = canon.target.decode("latin-1")
    vector["path"] = canon.path
    vector["uri"] = target + "?" + query if query else target
    host = vector.get("host")
    if isinstance(host, str):
        vector["host"] = canonical_host(host.encode("latin-1", "replace")).header


def _event_json(event: Event) -> dict[str, object]:
    data = {
        key: (None if isinstance(value, float) and math.isinf(value) else value) for key, value in event.data.items()
    }
    out: dict[str, object] = {"what": event.what, "data": data}
    if event.directory:
        out["directory"] = event.directory
    return out
