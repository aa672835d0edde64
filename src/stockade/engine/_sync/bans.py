# GENERATED from src/stockade/engine/_async/bans.py by scripts/unasync.py; edit the source, not this file.
"""Automatic IP bans: joins a store's ban records to the pure ban core and the detection rules.

The request path asks two questions. :meth:`Bans.refusal` ("is this client banned?")
is answered from the store's local view of every active ban, so a clean request never
waits on the store, and a banned one costs no rule evaluation and no write.
:meth:`Bans.inspect` ("is this request malicious?") runs the detection rules and, for a
malicious request only, counts a strike in the store, which bans at the threshold.
:meth:`Bans.observe_response` feeds the response rules (too many 404s, say).

When the store fails, bans follow ``on_error.bans`` (by default ``open``: an outage lets
requests through rather than turning every visitor away). The administration calls
(``ip_address_status``, ``block_ip_address``, ...) always raise the store's error.

Only this file is written by hand; ``scripts/unasync.py`` generates the synchronous twin.
"""

from __future__ import annotations

import math
import random
import socket
import sys

from stockade.clock import Clock
from stockade.core import bans
from stockade.core.bans import BanPolicy, BanStatus, ban_key, parse_network
from stockade.core.detection import Probe
from stockade.core.events import (
    BANS_DIRECTORY,
    IP_BLOCK,
    IP_UNBLOCK,
    MALICIOUS_REQUEST,
    REQUEST_REJECTED,
    VALID_REQUEST,
    Event,
)
from stockade.core.facts import RequestFacts
from stockade.engine.events import EventBus
from stockade.engine.health import StoreHealth
from stockade.engine.settings import BanSettings, ResponseRule
from stockade.engine.views import BanDetail, Banned, BannedIp, WarnedIp, iso_utc
from stockade.errors import InvalidIpAddress, NotBanned, StoreError
from stockade.netaddr import normalize_ip
from stockade.stores._sync.protocol import LockoutStore

# Keys of records that are not bans of their own: dry-run counts and response-rule counts.
_DRY = "dry|"
# The rule named for a request whose path has no safe canonical form (a climb above the root, ...).
REFUSED_RULE = "refused_path"


class Bans:
    """The ban half of the guard; see the module docstring."""

    def __init__(
        self,
        settings: BanSettings,
        store: LockoutStore,
        clock: Clock,
        events: EventBus,
        health: StoreHealth,
        *,
        on_error: str = "open",
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.events = events
        self.health = health
        self.on_error = on_error
        self.policy = settings.policy
        self._callbacks = events.has_callbacks(BANS_DIRECTORY)
        self._sample = settings.inspect_percentage / 100.0
        self._exemptions = bool(settings.allow or settings.ignore_paths or settings.ignore_patterns)
        detector = settings.detector
        reads = settings.enabled and (bool(detector.rules) or detector.custom is not None)
        limit = detector.engine.settings.body_limit
        # The body bytes detection reads of a request: none when it is off, all for "infinity".
        self.body_limit = 0 if not reads else sys.maxsize if limit is None else limit
        self._detecting = reads
        self._response_policies = {
            rule.name: BanPolicy(threshold=rule.count + 1, window=rule.window, block_duration=rule.window)
            for rule in settings.response_rules
        }

    # -- the request path ----------------------------------------------------------------------

    def exempt(self, ip: str, path: str) -> bool:
        """Allow-listed clients and ignored routes are never inspected nor refused."""
        settings = self.settings
        if not settings.enabled:
            return True
        if not self._exemptions:
            return False
        if ip in settings.allow:
            return True
        for prefix in settings.ignore_paths:
            if path == prefix or path.startswith(prefix + "/") or prefix == "/":
                return True
        return any(pattern.search(path) for pattern in settings.ignore_patterns)

    def body_wanted(self, ip: str, path: str) -> int:
        """How many body bytes detection reads of this request: 0 when it will not inspect it.

        A client the local view knows to be banned is refused before detection: its body is
        not read either.
        """
        limit = self.body_limit
        if not limit or not ip or self.exempt(ip, path):
            return 0
        peek = self.store.peek_ban(ip, ban_key(ip, self.settings.ipv6_prefix), self.clock.now())
        if peek.known and peek.until is not None:
            return 0
        return limit

    def refusal(self, ip: str, path: str = "/") -> Banned | None:
        """The ban that refuses this client, if any (``ip`` already normalised)."""
        if not ip or self.exempt(ip, path):
            return None
        return self.banned(ip)

    def banned(self, ip: str) -> Banned | None:
        """:meth:`refusal` for a client already known not to be exempt."""
        now = self.clock.now()
        key = ban_key(ip, self.settings.ipv6_prefix)
        peek = self.store.peek_ban(ip, key, now)
        until = peek.until
        if not peek.known:
            try:
                until = self.store.find_ban(ip, key, now)
            except StoreError as exc:
                self.health.failed(exc, self.on_error)
                if self.on_error == "closed":
                    raise
                return None
            self.health.answered()
        if until is None:
            return None
        if self._callbacks:
            self._emit(REQUEST_REJECTED, now, ip=ip, key=key, until=iso_utc(until))
        return Banned(until, None if math.isinf(until) else max(1, math.ceil(until - now)))

    def inspect(self, ip: str, facts: Probe, *, known_route: bool = False) -> str | None:
        """Run the detection rules; a malicious request counts a strike. Returns the naming rule's id.

        The ``malicious_request`` event names every rule and category that fired and the score.
        """
        if not ip or self.exempt(ip, facts.path):
            return None
        return self.detect(ip, facts, known_route=known_route)

    def detect(self, ip: str, facts: Probe, *, known_route: bool = False) -> str | None:
        """:meth:`inspect` for a client already known not to be exempt."""
        if self._sample < 1.0 and random.random() >= self._sample:  # noqa: S311 - sampling, not secrecy
            return None
        finding = self.settings.detector.inspect(facts, known_route=known_route)
        now = self.clock.now()
        if finding is None:
            if self._callbacks:
                self._emit(VALID_REQUEST, now, ip=ip, path=facts.path)
            return None
        rule = finding.rule
        self._emit(
            MALICIOUS_REQUEST,
            now,
            ip=ip,
            rule=rule,
            path=facts.path,
            rules=list(finding.rules),
            categories=list(finding.categories),
            score=finding.score or None,
        )
        self._strike(ip, rule, now)
        return rule

    def refused(self, ip: str, reason: str) -> str | None:
        """A request refused before the checks (400) for a reason only an attack gives: it counts
        as a malicious request of :data:`REFUSED_RULE` when detection is on. Returns the rule."""
        if not ip or not self._detecting or self.exempt(ip, "/"):
            return None
        now = self.clock.now()
        self._emit(MALICIOUS_REQUEST, now, ip=ip, rule=REFUSED_RULE, reason=reason, categories=["path_traversal"])
        self._strike(ip, REFUSED_RULE, now)
        return REFUSED_RULE

    def observe_response(self, ip: str, path: str, status: int) -> str | None:
        """Response rules: the answer a client got is evidence too. Returns the rule that struck."""
        if not ip or not self._response_policies or self.exempt(ip, path):
            return None
        for rule in self.settings.response_rules:
            if status in rule.statuses:
                return self._count_response(ip, rule)
        return None

    def _count_response(self, ip: str, rule: ResponseRule) -> str | None:
        now = self.clock.now()
        key = f"{rule.name}|{ban_key(ip, self.settings.ipv6_prefix)}"
        try:
            outcome = self.store.record_strike(key, now, self._response_policies[rule.name])
        except StoreError as exc:
            self.health.failed(exc, self.on_error)
            return None
        if not outcome.banned or outcome.count == 0:
            return None
        self._emit(MALICIOUS_REQUEST, now, ip=ip, rule=rule.name)
        self._strike(ip, rule.name, now)
        return rule.name

    def _strike(self, ip: str, rule: str, now: float) -> None:
        key = ban_key(ip, self.settings.ipv6_prefix)
        dry = self.settings.dry_run
        try:
            outcome = self.store.record_strike(_DRY + key if dry else key, now, self.policy)
        except StoreError as exc:
            self.health.failed(exc, self.on_error)
            return
        self.health.answered()
        if outcome.banned and outcome.count:
            until = math.inf if outcome.until is None else outcome.until
            self._emit(
                IP_BLOCK,
                now,
                ip=ip,
                key=key,
                rule=rule,
                seconds=_seconds(until - now),
                until=iso_utc(until),
                dry_run=dry,
            )

    # -- the administration API ----------------------------------------------------------------

    def ip_address_status(self, subject: str | RequestFacts | None) -> BanStatus:
        """``safe``, ``warning`` with the count, or ``blocked`` with the seconds left.

        ``subject`` is an address or a request (its client address). Raises
        :class:`~stockade.errors.InvalidIpAddress` for a missing or invalid address.
        """
        raw = subject.client_ip if isinstance(subject, RequestFacts) else subject
        ip = normalize_ip(raw) if isinstance(raw, str) else None
        if ip is None:
            raise InvalidIpAddress(raw)
        now = self.clock.now()
        key = ban_key(ip, self.settings.ipv6_prefix)
        until = self.store.find_ban(ip, key, now)
        if until is not None:
            return bans.BanStatus("blocked", seconds_left=None if math.isinf(until) else until - now)
        return bans.status(self.store.ban_state(key, now), now, self.policy)

    def block_ip_address(self, target: str, seconds: float | None = None, *, force: bool = False) -> BannedIp:
        """Ban an address or a network (CIDR) for ``seconds`` (default ``block_duration``; inf: forever).

        A ban in force that ends later is kept unless ``force``: the result then carries
        that ban's end, and nothing is written. A network with host bits set
        (``198.51.100.7/24``) is refused with :class:`~stockade.errors.InvalidIpAddress`
        rather than guessed at.
        """
        key, network = _target(target, self.settings.ipv6_prefix)
        duration = self.policy.block_duration if seconds is None else float(seconds)
        if math.isnan(duration) or duration < 0:
            raise InvalidIpAddress(seconds)
        now = self.clock.now()
        until = now + duration
        end = self.store.ban_ip(key, until, now, self.policy, network=network, keep_longer=not force)
        if end == until:
            self._emit(IP_BLOCK, now, ip=key, key=key, seconds=_seconds(duration), until=iso_utc(until), by="api")
        return BannedIp(key, end, network)

    def unblock_ip_address(self, target: str) -> BannedIp:
        """Lift the ban of an address or network; raises :class:`~stockade.errors.NotBanned` if none."""
        key, network = _target(target, self.settings.ipv6_prefix)
        now = self.clock.now()
        until = self.store.unban_ip(key, now)
        if until is None or not until - now > 0:
            raise NotBanned(key)
        self._emit(IP_UNBLOCK, now, ip=key, key=key, by="api")
        return BannedIp(key, until, network)

    def list_banned_ips(self) -> list[BannedIp]:
        """Every active ban (dry-run counts and response-rule counts left out)."""
        records = self.store.list_bans(self.clock.now())
        return [BannedIp(r.key, r.until, r.network) for r in records if "|" not in r.key]

    def list_warning_ips(self) -> list[WarnedIp]:
        """Every key in the warning state: malicious requests counted inside the window, not banned (yet).

        This reads every ban record of the store, as ``stockade store migrate`` does: an
        administration call, not one for the request path.
        """
        now = self.clock.now()
        warned: list[WarnedIp] = []
        for record in self.store.export_bans(now):
            if "|" in record.key or record.network:
                continue
            status = bans.status(record.state, now, self.policy)
            if status.verdict == "warning":
                warned.append(WarnedIp(record.key, status.count, max(record.state.strikes)))
        return warned

    def list_ban_records(self) -> list[BanDetail]:
        """Every key banned or in the warning state, with its strikes and escalation, sorted by key.

        Like :meth:`list_warning_ips` this reads every ban record of the store: for the
        console and the administration, not for the request path.
        """
        now = self.clock.now()
        found: list[BanDetail] = []
        for record in self.store.export_bans(now):
            if "|" in record.key:
                continue
            state = record.state
            status = bans.status(state, now, self.policy)
            if status.verdict == "safe":
                continue
            until = state.banned_until if status.verdict == "blocked" else None
            offences = state.offences if state.remember_until is None or state.remember_until - now > 0 else 0
            strikes = 0 if status.verdict == "blocked" else status.count
            last = max(state.strikes) if state.strikes else None
            found.append(BanDetail(record.key, record.network, until, strikes, last, offences))
        return sorted(found, key=lambda detail: detail.key)

    def sweep(self) -> int:
        """Lift ended bans; each fires ``ip_unblock`` exactly once. Returns how many."""
        now = self.clock.now()
        ended = [key for key in self.store.sweep_bans(now) if "|" not in key]
        for key in ended:
            self._emit(IP_UNBLOCK, now, ip=key, key=key, expired=True)
        return len(ended)

    def _emit(self, what: str, now: float, **data: object) -> None:
        if self.events.listening:
            payload = {name: value for name, value in data.items() if value is not None and value is not False}
            self.events.emit(Event(what, None, 0, BANS_DIRECTORY, payload, now))


def _seconds(duration: float) -> float | None:
    return None if math.isinf(duration) else duration


def _target(text: str, ipv6_prefix: int) -> tuple[str, bool]:
    """The ban key of an address (aggregated as requests are) or of a network (``a.b.c.d/n``)."""
    if not isinstance(text, str):
        raise InvalidIpAddress(text)
    if "/" in text:
        parsed = parse_network(text.strip())
        if parsed is None:
            raise InvalidIpAddress(text)
        value, prefix, bits = parsed
        given = normalize_ip(text.strip().partition("/")[0])
        if bits == 128 and value >> 32 == _MAPPED_V4 and prefix >= 96:
            value, prefix, bits = value & 0xFFFFFFFF, prefix - 96, 32  # an IPv4 network written as IPv6
        address = _address(value, bits)
        if given != normalize_ip(address):
            # 198.51.100.7/24 may mean the address or the network: refuse rather than guess.
            raise InvalidIpAddress(text, f"has host bits set: the network is {address}/{prefix}")
        if bits == 128 and prefix == ipv6_prefix:
            return ban_key(address, ipv6_prefix), False  # the key requests of that prefix count against
        return f"{address}/{prefix}", True
    ip = normalize_ip(text)
    if ip is None:
        raise InvalidIpAddress(text)
    return ban_key(ip, ipv6_prefix), False


_MAPPED_V4 = 0xFFFF  # ::ffff:0:0/96, IPv4-mapped IPv6 addresses


def _address(value: int, bits: int) -> str:
    family = socket.AF_INET if bits == 32 else socket.AF_INET6
    return socket.inet_ntop(family, value.to_bytes(bits // 8, "big"))
