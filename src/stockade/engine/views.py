"""What the lockout and ban APIs return: flat, immutable, printable as JSON.

Plain types, written once here and shared by the asynchronous engine and its generated
synchronous twin, so that a value from one equals the same value from the other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from stockade.core.lockout import LockoutKey
from stockade.stores.records import AuthRecord, BlockRecord


def iso_utc(ts: float | None) -> str | None:
    """ISO 8601 UTC with seconds, or ``None`` for infinity."""
    if ts is None or math.isinf(ts):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(frozen=True, slots=True)
class BlockedUser:
    user: str
    directory: str
    address: str | None
    port: int
    until: float
    client: str = ""

    @classmethod
    def from_record(cls, record: BlockRecord) -> BlockedUser:
        k = record.key
        return cls(k.user, k.directory, k.address, k.port, record.until, k.client)

    @property
    def infinite(self) -> bool:
        return math.isinf(self.until)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "user": self.user,
            "dir": self.directory,
            "address": self.address,
            "port": self.port,
            "until": iso_utc(self.until),
        }
        if self.client:
            out["client"] = self.client
        return out


@dataclass(frozen=True, slots=True)
class AuthUser:
    user: str
    directory: str
    address: str | None
    port: int
    until: float

    @classmethod
    def from_record(cls, record: AuthRecord) -> AuthUser:
        k = record.key
        return cls(k.user, k.directory, k.address, k.port, record.until)

    def as_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "dir": self.directory,
            "address": self.address,
            "port": self.port,
            "until": iso_utc(self.until),
        }


@dataclass(frozen=True, slots=True)
class WarnedIp:
    """A client in the warning state: ``count`` malicious requests inside the window, the last at ``last``."""

    ip: str  # an address or an IPv6 prefix (``2001:db8::/64``)
    count: int
    last: float

    def as_dict(self) -> dict[str, object]:
        return {"ip": self.ip, "count": self.count, "last": iso_utc(self.last)}


@dataclass(slots=True)
class Attempt:
    """A reserved password check; report its outcome with ``report_attempt``, exactly once."""

    granted: bool
    directory: str
    user: str
    keys: tuple[LockoutKey, ...]
    blocked: bool = False
    until: float | None = None
    request: str | None = None
    settled: bool = False


@dataclass(frozen=True, slots=True)
class BanDetail:
    """One ban record as the console lists it: banned or in the warning state, with its escalation.

    ``until`` is the ban's end (``math.inf`` for ever), ``None`` when not banned; ``strikes``
    the malicious requests counted inside the window, the last at ``last_strike``;
    ``offences`` the automatic bans remembered for escalation (the next ban lasts longer).
    """

    key: str  # an address, an IPv6 prefix (``2001:db8::/64``) or a network banned by hand
    network: bool
    until: float | None
    strikes: int
    last_strike: float | None
    offences: int

    @property
    def banned(self) -> bool:
        return self.until is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "ip": self.key,
            "network": self.network,
            "banned": self.banned,
            "until": iso_utc(self.until) if self.until is not None else None,
            "strikes": self.strikes,
            "last_strike": iso_utc(self.last_strike),
            "offences": self.offences,
        }


@dataclass(frozen=True, slots=True)
class Banned:
    """A refused request: the ban's end (``math.inf`` for ever) and the seconds to retry after."""

    until: float
    retry_after: int | None


@dataclass(frozen=True, slots=True)
class BannedIp:
    """One active ban, as ``list_banned_ips``, ``block_ip_address`` and ``unblock_ip_address`` return it."""

    ip: str  # an address, an IPv6 prefix (``2001:db8::/64``) or a network banned by hand
    until: float
    network: bool

    @property
    def until_iso(self) -> str | None:
        return iso_utc(self.until)

    def as_dict(self) -> dict[str, object]:
        return {"ip": self.ip, "until": self.until_iso, "network": self.network}
