"""The ban view in pure Python: the test oracle of :class:`stockade._native.BanTable`.

:class:`stockade.stores.view.BanView` keeps its bans in the native module; this is the
Python version it replaced, kept so that the differential tests hold the two equal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from stockade.core.bans import NetworkBans
from stockade.stores.records import BanPeek

_ASK = BanPeek(False)
_NOT_BANNED = BanPeek(True, None)


class OracleBanView:
    """Every active ban of a shared store, held by each process so that no request waits on it.

    Unlike :class:`LocalView`, which may answer only for keys it knows, this view answers for
    every client: it holds all bans (loaded whole, then kept current by the same change
    notifications), so a key it does not hold is not banned. Past ``capacity`` bans, or
    while notifications are lost, it is not ``complete`` and every answer says "ask the store".
    """

    def __init__(self, capacity: int = 1_000_000, *, trusted: bool = True) -> None:
        self.capacity = capacity
        self.trusted = trusted
        self._bans: dict[str, float] = {}
        self._networks = NetworkBans()
        self._network_keys: set[str] = set()
        self._lock = threading.Lock()
        self._overflow = False

    def __len__(self) -> int:
        return len(self._bans) + len(self._network_keys)

    @property
    def complete(self) -> bool:
        return self.trusted and not self._overflow

    def peek(self, ip: str, key: str, now: float) -> BanPeek:
        if not self.trusted or self._overflow:
            return _ASK
        until = self._bans.get(key)
        best = until if until is not None and until - now > 0 else None
        if self._networks:
            covering = self._networks.lookup(ip, now)
            if covering is not None and (best is None or covering > best):
                best = covering
        return _NOT_BANNED if best is None else BanPeek(True, best)

    def set(self, key: str, until: float | None, *, network: bool | None) -> None:
        """A ban's new end (``None``: no ban); ``network`` None when not known (both kinds tried)."""
        with self._lock:
            if network or (network is None and key in self._network_keys):
                self._networks.set(key, until)
                if until is None:
                    self._network_keys.discard(key)
                else:
                    self._network_keys.add(key)
                return
            if until is None:
                self._bans.pop(key, None)
            elif key in self._bans or len(self._bans) < self.capacity:
                self._bans[key] = until
            else:
                self._overflow = True

    def replace_all(self, records: Iterable[tuple[str, float, bool]]) -> None:
        """Load every ban at once (start-up, a new subscription); the view is complete again.

        The new tables are built aside and swapped in whole: a lookup meanwhile sees the old
        ones, never a half-loaded view that would miss a ban in force.
        """
        bans: dict[str, float] = {}
        networks = NetworkBans()
        network_keys: set[str] = set()
        overflow = False
        for key, until, network in records:
            if network:
                networks.set(key, until)
                network_keys.add(key)
            elif len(bans) < self.capacity:
                bans[key] = until
            else:
                overflow = True
        with self._lock:
            self._bans, self._networks, self._network_keys = bans, networks, network_keys
            self._overflow = overflow

    def forget(self, *, trusted: bool) -> None:
        with self._lock:
            self._bans.clear()
            self._networks = NetworkBans()
            self._network_keys.clear()
            self._overflow = False
            self.trusted = trusted
