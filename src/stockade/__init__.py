"""Stockade keeps abusers out of web applications.

The public API: the guards and their settings, what their calls return, the clocks, the
store openers and the whole exception tree (every error is a :class:`StockadeError`).

Names are imported on first use (PEP 562), so that ``import stockade`` and the command
line's quick answers (``stockade --version``) do not load the engine, the stores and the
condition language; ``from stockade import Guard`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stockade.clock import Clock, ManualClock, SystemClock
    from stockade.conditions.errors import ConditionError
    from stockade.core.bans import BanPolicy, BanStatus
    from stockade.core.lockout import FailureOutcome, LockoutPolicy, ReserveOutcome
    from stockade.engine import AsyncGuard, Guard
    from stockade.engine.settings import BanSettings, DirectorySettings, ErrorPolicy, GuardSettings, Listener
    from stockade.engine.views import Attempt, AuthUser, Banned, BannedIp, BlockedUser
    from stockade.errors import (
        BanError,
        BlockConfError,
        BlockFileError,
        BlocklistError,
        ConfigError,
        ConfigIssue,
        FileFormatError,
        InvalidArgument,
        InvalidIpAddress,
        LockoutError,
        NoSuchDirectory,
        NotBanned,
        NotBlocked,
        RuleFileError,
        StockadeError,
        StoreError,
    )
    from stockade.stores import open_async_store, open_store
    from stockade.stores.records import LoginResult

__version__ = "0.1.0"

# Every public name and the module that defines it.
_SOURCES: dict[str, str] = {
    "Clock": "stockade.clock",
    "ManualClock": "stockade.clock",
    "SystemClock": "stockade.clock",
    "ConditionError": "stockade.conditions.errors",
    "BanPolicy": "stockade.core.bans",
    "BanStatus": "stockade.core.bans",
    "FailureOutcome": "stockade.core.lockout",
    "LockoutPolicy": "stockade.core.lockout",
    "ReserveOutcome": "stockade.core.lockout",
    "AsyncGuard": "stockade.engine",
    "Guard": "stockade.engine",
    "BanSettings": "stockade.engine.settings",
    "DirectorySettings": "stockade.engine.settings",
    "ErrorPolicy": "stockade.engine.settings",
    "GuardSettings": "stockade.engine.settings",
    "Listener": "stockade.engine.settings",
    "Attempt": "stockade.engine.views",
    "AuthUser": "stockade.engine.views",
    "Banned": "stockade.engine.views",
    "BannedIp": "stockade.engine.views",
    "BlockedUser": "stockade.engine.views",
    "BanError": "stockade.errors",
    "BlockConfError": "stockade.errors",
    "BlockFileError": "stockade.errors",
    "BlocklistError": "stockade.errors",
    "ConfigError": "stockade.errors",
    "ConfigIssue": "stockade.errors",
    "FileFormatError": "stockade.errors",
    "InvalidArgument": "stockade.errors",
    "InvalidIpAddress": "stockade.errors",
    "LockoutError": "stockade.errors",
    "NoSuchDirectory": "stockade.errors",
    "NotBanned": "stockade.errors",
    "NotBlocked": "stockade.errors",
    "RuleFileError": "stockade.errors",
    "StockadeError": "stockade.errors",
    "StoreError": "stockade.errors",
    "open_async_store": "stockade.stores",
    "open_store": "stockade.stores",
    "LoginResult": "stockade.stores.records",
}

__all__ = [
    "AsyncGuard",
    "Attempt",
    "AuthUser",
    "BanError",
    "BanPolicy",
    "BanSettings",
    "BanStatus",
    "Banned",
    "BannedIp",
    "BlockConfError",
    "BlockFileError",
    "BlockedUser",
    "BlocklistError",
    "Clock",
    "ConditionError",
    "ConfigError",
    "ConfigIssue",
    "DirectorySettings",
    "ErrorPolicy",
    "FailureOutcome",
    "FileFormatError",
    "Guard",
    "GuardSettings",
    "InvalidArgument",
    "InvalidIpAddress",
    "Listener",
    "LockoutError",
    "LockoutPolicy",
    "LoginResult",
    "ManualClock",
    "NoSuchDirectory",
    "NotBanned",
    "NotBlocked",
    "ReserveOutcome",
    "RuleFileError",
    "StockadeError",
    "StoreError",
    "SystemClock",
    "__version__",
    "open_async_store",
    "open_store",
]


def __getattr__(name: str) -> object:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'stockade' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
