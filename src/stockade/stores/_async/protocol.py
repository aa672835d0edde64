"""The store protocol: the lockout transitions, each applied atomically by the backend.

The operations are the transitions themselves, never get/set, so that every backend can
make each one atomic in its own way: a lock in memory, one ``BEGIN IMMEDIATE``
transaction in SQLite, one Lua script in Redis. N parallel failures therefore always give
the same counts and events as some serial order.

Only the asynchronous flavour is written by hand; the synchronous one is generated from
it by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from stockade.core.bans import BanPolicy, BanState, StrikeOutcome
from stockade.core.lockout import FailureOutcome, LockoutKey, LockoutPolicy, ReserveOutcome
from stockade.stores.records import (
    AuthRecord,
    BanPeek,
    BanRecord,
    BlockRecord,
    LoginResult,
    Scope,
    StoredBan,
    StoredRecord,
    StoreStatus,
)


class AsyncLockoutStore(Protocol):
    """Holds lockout state; every method is one atomic transition or one consistent read."""

    @property
    def url(self) -> str: ...

    def peek_login(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> LoginResult | None:
        """Valid credentials answered from the store's local view, with no I/O that can wait.

        ``None`` when the view cannot tell; then :meth:`record_success` decides. A store that
        is local already (memory) always answers ``None``.
        """
        ...

    async def record_failure(
        self, key: LockoutKey, now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> FailureOutcome:
        """Count a failed authentication (and maybe block) in one atomic step."""
        ...

    async def record_success(
        self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> LoginResult:
        """Valid credentials: refused if any of ``keys`` is blocked, else recorded on ``keys[0]``."""
        ...

    async def reserve(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> ReserveOutcome:
        """Take a password-check slot on ``keys[0]`` unless a block or the limit forbids it."""
        ...

    async def release(self, key: LockoutKey, now: float, policy: LockoutPolicy) -> None:
        """Give back a slot taken by :meth:`reserve` without an outcome."""
        ...

    async def block(self, key: LockoutKey, until: float, now: float, policy: LockoutPolicy) -> None:
        """Set a block ending at ``until`` (``math.inf`` for infinity)."""
        ...

    async def unblock(self, scope: Scope, now: float) -> list[BlockRecord]:
        """Remove every block record (expired or not) in ``scope``; returns what was removed."""
        ...

    async def list_blocked(self, scope: Scope, now: float) -> list[BlockRecord]:
        """Active blocks in ``scope``, one per key, sorted by key."""
        ...

    async def list_auth(self, scope: Scope, now: float) -> list[AuthRecord]:
        """Successful logins still remembered in ``scope``, one per key, sorted by key."""
        ...

    async def sweep(self, now: float, limit: int = 1000) -> list[LockoutKey]:
        """Delete up to ``limit`` records that hold nothing live; returns keys whose block expired."""
        ...

    # -- IP bans ------------------------------------------------------------------------------

    def peek_ban(self, ip: str, key: str, now: float) -> BanPeek:
        """Whether ``ip`` (whose ban key is ``key``) is banned, from local knowledge alone.

        Stores keep every active ban in their local view, so a clean request never waits on
        the store; ``known`` is False only while the view cannot be trusted.
        """
        ...

    async def find_ban(self, ip: str, key: str, now: float) -> float | None:
        """The end of the ban that applies to ``ip`` (its key's, or a network's), asking the store."""
        ...

    async def record_strike(self, key: str, now: float, policy: BanPolicy) -> StrikeOutcome:
        """Count one malicious request against ``key`` (and maybe ban it) in one atomic step."""
        ...

    async def ban_ip(
        self, key: str, until: float, now: float, policy: BanPolicy, *, network: bool = False, keep_longer: bool = False
    ) -> float:
        """Ban ``key`` until ``until`` (``math.inf``: forever); ``network`` for a CIDR banned by hand.

        With ``keep_longer`` a ban in force that ends later is kept. Returns the end of the
        key's ban after the call.
        """
        ...

    async def unban_ip(self, key: str, now: float) -> float | None:
        """Forget ``key`` (its ban, strikes and offences); returns the end of the ban removed."""
        ...

    async def ban_state(self, key: str, now: float) -> BanState:
        """The stored state of ``key`` (for ``ip_address_status``)."""
        ...

    async def list_bans(self, now: float) -> list[BanRecord]:
        """Active bans, sorted by key."""
        ...

    async def sweep_bans(self, now: float, limit: int = 1000) -> list[str]:
        """Delete up to ``limit`` ban records holding nothing live; returns keys whose ban ended."""
        ...

    async def export_bans(self, now: float) -> list[StoredBan]:
        """Every ban record that still holds something live (``stockade store migrate``)."""
        ...

    async def import_bans(self, records: Sequence[StoredBan], now: float) -> int:
        """Write ban records, each merged with what its key holds (:func:`stockade.core.bans.merge`).

        Merging never shortens a ban nor forgets a strike or an offence, so an import that
        fails half-way loses nothing and can run again.
        """
        ...

    # -- operations -----------------------------------------------------------------------------

    async def export_records(self, now: float) -> list[StoredRecord]:
        """Every record that still holds something live (``stockade store migrate``)."""
        ...

    async def import_records(self, records: Sequence[StoredRecord], now: float) -> int:
        """Write ``records``, each merged with what its key holds (:func:`stockade.core.lockout.merge`)."""
        ...

    async def ping(self) -> float:
        """Seconds of one round trip (one consistent read)."""
        ...

    async def status(self) -> StoreStatus:
        """Latency, local view and pending writes, for ``stockade status``."""
        ...

    async def aclose(self) -> None: ...
