"""Automatic IP bans, after Phx2Ban: malicious requests count against the client, and ban it.

Every function here is pure: the state of one ban key (a client IP, an IPv6 prefix, or a
network banned by hand), the moment ``now`` and the policy in, the new state and an
outcome out. Stores apply them atomically; the engine turns outcomes into events.

* A strike (a request recognised as malicious) older than ``window`` is forgotten
  (strictly ``now - t > window``, as the lockout's failures).
* The strike that brings the count inside the window to ``threshold`` bans the key for
  ``block_duration``, multiplied by ``escalation_factor`` for each earlier ban still
  remembered (up to ``escalation_max``); the strikes are cleared.
* Earlier bans are remembered for ``remember`` seconds after the last one ends, so a
  repeat offender who comes back within that time is banned for longer.
* A ban by hand sets exactly the requested end and does not count as an offence; lifting
  a ban by hand forgets the key altogether.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass, replace
from typing import Literal

from stockade.core.lockout import union

INFINITY = math.inf
# With a huge threshold no ban happens; keep a bounded tail of strikes anyway.
_MAX_KEPT_STRIKES = 64


@dataclass(frozen=True, slots=True)
class BanPolicy:
    """The ban settings, durations in seconds; ``math.inf`` for a duration means forever."""

    threshold: int = 5
    window: float = 600.0
    block_duration: float = 86_400.0
    escalation_factor: float = 1.0
    escalation_max: float = 30 * 86_400.0
    remember: float = 30 * 86_400.0

    def kept_strikes(self) -> int:
        return max(1, min(self.threshold, _MAX_KEPT_STRIKES))

    def duration(self, earlier_bans: int) -> float:
        """How long the next automatic ban lasts after ``earlier_bans`` remembered ones."""
        if self.escalation_factor == 1.0 or earlier_bans == 0:
            return self.block_duration
        # Grow step by step so that a huge count saturates at the cap instead of overflowing.
        duration = self.block_duration
        for _ in range(earlier_bans):
            duration *= self.escalation_factor
            if duration >= self.escalation_max:
                return max(self.escalation_max, self.block_duration)
        return duration


@dataclass(frozen=True, slots=True)
class BanState:
    """Everything stored for one ban key; the empty state means "no record"."""

    strikes: tuple[float, ...] = ()
    banned_until: float | None = None
    offences: int = 0  # automatic bans remembered for escalation
    remember_until: float | None = None

    def is_empty(self) -> bool:
        return not self.strikes and self.banned_until is None and self.offences == 0

    def is_banned(self, now: float) -> bool:
        return self.banned_until is not None and self.banned_until - now > 0

    def expires_at(self, policy: BanPolicy) -> float:
        """The moment after which nothing in this state matters any more."""
        times = [t + policy.window for t in self.strikes]
        if self.banned_until is not None:
            times.append(self.banned_until)
        if self.remember_until is not None and self.offences:
            times.append(self.remember_until)
        return max(times, default=-INFINITY)


EMPTY = BanState()


@dataclass(frozen=True, slots=True)
class StrikeOutcome:
    """The result of one malicious request: the count inside the window, and the ban it caused."""

    count: int
    banned: bool
    until: float | None = None


Verdict = Literal["safe", "warning", "blocked"]


@dataclass(frozen=True, slots=True)
class BanStatus:
    """``ip_address_status``: safe, a warning with the count, or blocked with the seconds left."""

    verdict: Verdict
    count: int = 0
    seconds_left: float | None = None  # None with "blocked" means forever

    def __str__(self) -> str:
        if self.verdict == "warning":
            return f"warning {self.count}"
        if self.verdict == "blocked":
            return "blocked infinity" if self.seconds_left is None else f"blocked {math.ceil(self.seconds_left)}"
        return "safe"


def _window(strikes: tuple[float, ...], now: float, policy: BanPolicy) -> tuple[float, ...]:
    return tuple(t for t in strikes if not now - t > policy.window)


def _offences(state: BanState, now: float) -> int:
    if state.remember_until is not None and not state.remember_until - now > 0:
        return 0
    return state.offences


def strike(state: BanState, now: float, policy: BanPolicy) -> tuple[BanState, StrikeOutcome]:
    """Count one malicious request, and ban at the threshold."""
    if state.is_banned(now):
        # Banned requests are refused before they are inspected; a strike that raced the ban
        # changes nothing.
        return state, StrikeOutcome(0, True, state.banned_until)
    strikes = (*_window(state.strikes, now, policy), now)[-policy.kept_strikes() :]
    offences = _offences(state, now)
    if len(strikes) < policy.threshold:
        new = replace(state, strikes=strikes, banned_until=None, offences=offences)
        return new, StrikeOutcome(len(strikes), False)
    until = now + policy.duration(offences)
    new = BanState(strikes=(), banned_until=until, offences=offences + 1, remember_until=until + policy.remember)
    return new, StrikeOutcome(len(strikes), True, until)


def ban(state: BanState, until: float, *, now: float = 0.0, keep_longer: bool = False) -> BanState:
    """A ban by hand: exactly the requested end; not an offence for escalation.

    With ``keep_longer``, a ban in force at ``now`` that ends later stays as it is, so that
    a ban by hand never shortens a longer one by accident.
    """
    if keep_longer and state.banned_until is not None and state.is_banned(now) and state.banned_until >= until:
        return state
    return replace(state, strikes=(), banned_until=until)


def merge(ours: BanState, theirs: BanState) -> BanState:
    """Two records of one ban key joined into one (``stockade store migrate`` into a store that has one).

    Every strike of either, the later ban, the larger count of remembered offences and the
    later end of that memory: no ban is shortened, no offence forgotten, and joining a
    record with itself changes nothing.
    """
    return BanState(
        strikes=union(ours.strikes, theirs.strikes),
        banned_until=_later(ours.banned_until, theirs.banned_until),
        offences=max(ours.offences, theirs.offences),
        remember_until=_later(ours.remember_until, theirs.remember_until),
    )


def _later(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def lift(state: BanState, now: float) -> tuple[BanState, bool]:
    """The sweep found the ban over: keep only what escalation needs; True when a ban ended."""
    if state.banned_until is None or state.is_banned(now):
        return state, False
    return replace(state, banned_until=None), True


def status(state: BanState, now: float, policy: BanPolicy) -> BanStatus:
    until = state.banned_until
    if until is not None and until - now > 0:
        return BanStatus("blocked", seconds_left=None if math.isinf(until) else until - now)
    count = len(_window(state.strikes, now, policy))
    return BanStatus("warning", count=count) if count else BanStatus("safe")


def ban_key(ip: str, ipv6_prefix: int = 128) -> str:
    """What strikes and bans count against: the address, or its IPv6 prefix (``2001:db8::/64``).

    ``ip`` is a normalised address (IPv4-mapped IPv6 already folded to IPv4); a peer that is
    no address (a Unix socket's name, such as ``unix:/run/app.sock``) counts as given.
    """
    if ":" not in ip or ipv6_prefix >= 128:
        return ip
    try:
        packed = socket.inet_pton(socket.AF_INET6, ip)
    except OSError:
        return ip
    value = int.from_bytes(packed, "big")
    value &= ~((1 << (128 - ipv6_prefix)) - 1)
    return f"{socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, 'big'))}/{ipv6_prefix}"


def _parse(ip: str) -> tuple[int, int] | None:
    """(value, bits) of an address; None for anything else."""
    try:
        if ":" in ip:
            return int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big"), 128
        return int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big"), 32
    except OSError:
        return None


def parse_network(text: str) -> tuple[int, int, int] | None:
    """(network value, prefix length, bits) of ``a.b.c.d/n`` or ``v6/n``, host bits masked; None if invalid."""
    address, slash, length = text.partition("/")
    parsed = _parse(address)
    if parsed is None or not slash or not length.isdigit():
        return None
    value, bits = parsed
    prefix = int(length)
    if prefix > bits:
        return None
    return value & ~((1 << (bits - prefix)) - 1) & ((1 << bits) - 1), prefix, bits


class NetworkBans:
    """Bans of whole networks, looked up by address: one dict probe per prefix length in use."""

    __slots__ = ("_by_length",)

    def __init__(self) -> None:
        # (bits, prefix length) -> {network value: (until, key)}
        self._by_length: dict[tuple[int, int], dict[int, tuple[float, str]]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_length)

    def set(self, key: str, until: float | None) -> None:
        """Ban the network ``key`` until ``until``, or drop it (``None``); invalid keys are ignored."""
        parsed = parse_network(key)
        if parsed is None:
            return
        value, prefix, bits = parsed
        table = self._by_length.setdefault((bits, prefix), {})
        if until is None:
            table.pop(value, None)
            if not table:
                del self._by_length[(bits, prefix)]
        else:
            table[value] = (until, key)

    def lookup(self, ip: str, now: float) -> float | None:
        """The latest end among the active network bans that contain ``ip``."""
        parsed = _parse(ip)
        if parsed is None:
            return None
        value, bits = parsed
        best: float | None = None
        for (family_bits, prefix), table in self._by_length.items():
            if family_bits != bits:
                continue
            found = table.get(value & ~((1 << (bits - prefix)) - 1))
            if found is not None and found[0] - now > 0 and (best is None or found[0] > best):
                best = found[0]
        return best
