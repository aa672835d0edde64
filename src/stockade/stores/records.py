"""Values that stores return and the scopes their listings take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stockade.core.lockout import LockoutKey


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
