"""Values that stores return and the scopes their listings take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stockade.core.bans import BanState
from stockade.core.lockout import LockoutKey, LockoutState


class _AnyListener:
    """Filter value meaning "every listener address" or "every port"."""

    _instance: _AnyListener | None = None

    def __new__(cls) -> _AnyListener:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"


ANY: Final = _AnyListener()

AddressFilter = str | None | _AnyListener
PortFilter = int | _AnyListener


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Valid credentials checked against every block that applies to the attempt."""

    accepted: bool
    until: float | None = None
    unblocked: tuple[LockoutKey, ...] = ()


@dataclass(frozen=True, slots=True)
class BlockRecord:
    key: LockoutKey
    until: float


@dataclass(frozen=True, slots=True)
class AuthRecord:
    key: LockoutKey
    until: float


@dataclass(frozen=True, slots=True)
class Scope:
    """Which records a listing or an unblock applies to; ``None``/``ANY`` mean all."""

    directory: str | None = None
    address: AddressFilter = ANY
    port: PortFilter = ANY
    user: str | None = None
    client: str | None = None

    def matches(self, key: LockoutKey) -> bool:
        return (
            (self.directory is None or key.directory == self.directory)
            and (self.user is None or key.user == self.user)
            and (self.client is None or key.client == self.client)
            and (self.address is ANY or key.address == self.address)
            and (self.port is ANY or key.port == self.port)
        )


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as a store holds it: what ``stockade store migrate`` copies."""

    key: LockoutKey
    state: LockoutState
    expires_at: float


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """How a store is doing, for ``stockade status``.

    ``latency`` is one round trip in seconds; ``view_lag`` the last measured delay of a
    change notification (``0`` where changes are read inline, ``None`` when unknown);
    ``view_trusted`` whether the local view may answer requests now.
    """

    url: str
    latency: float
    view_entries: int | None = None
    view_trusted: bool | None = None
    view_lag: float | None = None
    pending_writes: int = 0
    errors: int = 0
    refused: int = 0  # new records refused because the store was full of blocks and bans in force


@dataclass(frozen=True, slots=True)
class BanRecord:
    """An active ban: the key (an address, an IPv6 prefix or a network) and its end."""

    key: str
    until: float
    network: bool = False  # banned by hand as a network: it covers every address inside


@dataclass(frozen=True, slots=True)
class BanPeek:
    """What the local view knows of one client: ``known`` False means the store must be asked."""

    known: bool
    until: float | None = None  # the end of the ban that applies, None when not banned


@dataclass(frozen=True, slots=True)
class StoredBan:
    """One ban record as a store holds it: what ``stockade store migrate`` copies."""

    key: str
    state: BanState
    expires_at: float
    network: bool = False
