"""The recent history of each client address: its strikes (rule and path), bans and unbans.

Fed by the guard's events (``malicious_request``, ``ip_block``, ``ip_unblock``), kept in this
process only and bounded twice: at most ``per_address`` entries an address (the oldest go
first) and at most ``addresses`` addresses (the one least recently seen goes first). An
event about a ban key that differs from the client address (an IPv6 prefix) is filed under
both.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from stockade.core.events import Event

HISTORY_EVENTS: Final = frozenset({"malicious_request", "ip_block", "ip_unblock"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing that happened to an address: ``what`` is the event's name."""

    at: float
    what: str
    address: str
    rule: str | None = None
    path: str | None = None
    until: str | None = None  # ISO 8601, for a ban; None with a ban means for ever
    by: str | None = None  # "api" for a ban or unban by hand
    expired: bool = False  # an unban because the ban ended

    @property
    def strike(self) -> bool:
        return self.what == "malicious_request"


class IpHistory:
    """Recent entries by address, bounded (see the module docstring); safe to use from threads."""

    def __init__(self, *, addresses: int = 4096, per_address: int = 32) -> None:
        self.addresses = addresses
        self.per_address = per_address
        self._entries: OrderedDict[str, deque[Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, event: Event) -> None:
        if event.what not in HISTORY_EVENTS:
            return
        data = event.data
        ip = data.get("ip")
        if not isinstance(ip, str) or not ip:
            return
        entry = Entry(
            at=event.at,
            what=event.what,
            address=ip,
            rule=_text(data.get("rule")),
            path=_text(data.get("path")),
            until=_text(data.get("until")),
            by=_text(data.get("by")),
            expired=data.get("expired") is True,
        )
        key = data.get("key")
        with self._lock:
            self._file(ip, entry)
            if isinstance(key, str) and key and key != ip:
                self._file(key, entry)

    def _file(self, name: str, entry: Entry) -> None:
        entries = self._entries.get(name)
        if entries is None:
            while len(self._entries) >= self.addresses:
                self._entries.popitem(last=False)
            entries = self._entries[name] = deque(maxlen=self.per_address)
        else:
            self._entries.move_to_end(name)
        entries.append(entry)

    def of(self, name: str) -> list[Entry]:
        """The entries filed under an address or ban key, newest first."""
        with self._lock:
            return list(reversed(self._entries.get(name, ())))

    def within(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[Entry]:
        """The entries of every address inside ``network``, newest first."""
        with self._lock:
            names = list(self._entries.items())
        found: list[Entry] = []
        for name, entries in names:
            if _inside(name, network):
                found.extend(entries)
        return sorted(found, key=lambda entry: entry.at, reverse=True)

    def last_ban(self, name: str) -> Entry | None:
        """The latest ``ip_block`` filed under ``name``: what the ban was for."""
        return next((entry for entry in self.of(name) if entry.what == "ip_block"), None)

    def names(self) -> Iterable[str]:
        with self._lock:
            return list(self._entries)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _inside(name: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        if "/" in name:
            other = ipaddress.ip_network(name, strict=False)
            return other.version == network.version and other.subnet_of(network)  # type: ignore[arg-type]
        return ipaddress.ip_address(name) in network
    except ValueError:
        return False
