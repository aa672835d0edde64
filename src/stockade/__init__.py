"""Stockade keeps abusers out of web applications.

The public API: the guards, their settings, the clocks and the exception tree.
"""

from stockade.clock import Clock, ManualClock, SystemClock
from stockade.core.lockout import LockoutPolicy
from stockade.engine import AsyncGuard, DirectorySettings, Guard, GuardSettings, Listener
from stockade.errors import (
    ConfigError,
    FileFormatError,
    InvalidArgument,
    LockoutError,
    NoSuchDirectory,
    NotBlocked,
    StockadeError,
    StoreError,
)
from stockade.stores import open_async_store, open_store

__version__ = "0.1.0"

__all__ = [
    "AsyncGuard",
    "Clock",
    "ConfigError",
    "DirectorySettings",
    "FileFormatError",
    "Guard",
    "GuardSettings",
    "InvalidArgument",
    "Listener",
    "LockoutError",
    "LockoutPolicy",
    "ManualClock",
    "NoSuchDirectory",
    "NotBlocked",
    "StockadeError",
    "StoreError",
    "SystemClock",
    "__version__",
    "open_async_store",
    "open_store",
]
