"""The engine: the only code that joins a store to the pure core."""

from stockade.engine._async.guard import AsyncGuard
from stockade.engine._sync.guard import Guard
from stockade.engine.settings import DirectorySettings, GuardSettings, Listener

__all__ = ["AsyncGuard", "DirectorySettings", "Guard", "GuardSettings", "Listener"]
