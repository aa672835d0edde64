"""The engine: the only code that joins a store to the pure core.

:class:`AsyncGuard` (and its generated twin :class:`Guard`) keeps the lockouts and the bans;
:class:`AsyncLadder` (and :class:`Ladder`) runs the checks of one request in their one
order, from an :class:`Incoming` to a :class:`Verdict`.
"""

from stockade.engine._async.guard import AsyncGuard
from stockade.engine._async.ladder import AsyncLadder, Incoming, Verdict
from stockade.engine._sync.guard import Guard
from stockade.engine._sync.ladder import Ladder
from stockade.engine.settings import DirectorySettings, GuardSettings, Listener

__all__ = [
    "AsyncGuard",
    "AsyncLadder",
    "DirectorySettings",
    "Guard",
    "GuardSettings",
    "Incoming",
    "Ladder",
    "Listener",
    "Verdict",
]
