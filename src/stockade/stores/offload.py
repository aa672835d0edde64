"""Async access to a synchronous store.

SQLite calls may wait on another process's write lock, so the async flavour runs them on
a worker thread; the memory store never blocks and is called directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from stockade.core.bans import BanPolicy, BanState, StrikeOutcome
from stockade.core.lockout import FailureOutcome, LockoutKey, LockoutPolicy, ReserveOutcome
from stockade.stores._sync.protocol import LockoutStore
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

T = TypeVar("T")


class OffloadedStore:
    """An ``AsyncLockoutStore`` over a ``LockoutStore``."""

    def __init__(self, store: LockoutStore, *, threaded: bool = True) -> None:
        self.sync = store
        self._threaded = threaded

    async def _run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        if self._threaded:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    @property
    def url(self) -> str:
        return self.sync.url

    def peek_login(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> LoginResult | None:
        return self.sync.peek_login(keys, now, policy)

    async def record_failure(
        self, key: LockoutKey, now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> FailureOutcome:
        return await self._run(self.sync.record_failure, key, now, policy, reserved=reserved)

    async def record_success(
        self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> LoginResult:
        return await self._run(self.sync.record_success, keys, now, policy, reserved=reserved)

    async def reserve(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> ReserveOutcome:
        return await self._run(self.sync.reserve, keys, now, policy)

    async def release(self, key: LockoutKey, now: float, policy: LockoutPolicy) -> None:
        await self._run(self.sync.release, key, now, policy)

    async def block(self, key: LockoutKey, until: float, now: float, policy: LockoutPolicy) -> None:
        await self._run(self.sync.block, key, until, now, policy)

    async def unblock(self, scope: Scope, now: float) -> list[BlockRecord]:
        return await self._run(self.sync.unblock, scope, now)

    async def list_blocked(self, scope: Scope, now: float) -> list[BlockRecord]:
        return await self._run(self.sync.list_blocked, scope, now)

    async def list_auth(self, scope: Scope, now: float) -> list[AuthRecord]:
        return await self._run(self.sync.list_auth, scope, now)

    async def sweep(self, now: float, limit: int = 1000) -> list[LockoutKey]:
        return await self._run(self.sync.sweep, now, limit)

    def peek_ban(self, ip: str, key: str, now: float) -> BanPeek:
        return self.sync.peek_ban(ip, key, now)

    async def find_ban(self, ip: str, key: str, now: float) -> float | None:
        return await self._run(self.sync.find_ban, ip, key, now)

    async def record_strike(self, key: str, now: float, policy: BanPolicy) -> StrikeOutcome:
        return await self._run(self.sync.record_strike, key, now, policy)

    async def ban_ip(
        self, key: str, until: float, now: float, policy: BanPolicy, *, network: bool = False, keep_longer: bool = False
    ) -> float:
        return await self._run(self.sync.ban_ip, key, until, now, policy, network=network, keep_longer=keep_longer)

    async def unban_ip(self, key: str, now: float) -> float | None:
        return await self._run(self.sync.unban_ip, key, now)

    async def ban_state(self, key: str, now: float) -> BanState:
        return await self._run(self.sync.ban_state, key, now)

    async def list_bans(self, now: float) -> list[BanRecord]:
        return await self._run(self.sync.list_bans, now)

    async def sweep_bans(self, now: float, limit: int = 1000) -> list[str]:
        return await self._run(self.sync.sweep_bans, now, limit)

    async def export_bans(self, now: float) -> list[StoredBan]:
        return await self._run(self.sync.export_bans, now)

    async def import_bans(self, records: Sequence[StoredBan], now: float) -> int:
        return await self._run(self.sync.import_bans, records, now)

    async def export_records(self, now: float) -> list[StoredRecord]:
        return await self._run(self.sync.export_records, now)

    async def import_records(self, records: Sequence[StoredRecord], now: float) -> int:
        return await self._run(self.sync.import_records, records, now)

    async def ping(self) -> float:
        return await self._run(self.sync.ping)

    async def status(self) -> StoreStatus:
        return await self._run(self.sync.status)

    async def aclose(self) -> None:
        await self._run(self.sync.close)
