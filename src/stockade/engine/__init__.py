"""The engine: the only code that joins a store to the pure core.

:class:`AsyncGuard` (and its generated twin :class:`Guard`) keeps the lockouts and the bans;
:class:`AsyncLadder` (and :class:`Ladder`) runs the checks of one request in their one
order, from an :class:`Incoming` (the canonical request) to a :class:`Verdict`.

Names are imported on first use (PEP 562): the request model below the engine imports
:mod:`stockade.engine.settings`, which must not pull in the ladders that import it back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stockade.engine._async.guard import AsyncGuard
    from stockade.engine._async.ladder import AsyncLadder
    from stockade.engine._sync.guard import Guard
    from stockade.engine._sync.ladder import Ladder
    from stockade.engine.settings import DirectorySettings, GuardSettings, Listener
    from stockade.engine.verdict import Verdict
    from stockade.request.incoming import Incoming

_SOURCES: dict[str, str] = {
    "AsyncGuard": "stockade.engine._async.guard",
    "AsyncLadder": "stockade.engine._async.ladder",
    "DirectorySettings": "stockade.engine.settings",
    "Guard": "stockade.engine._sync.guard",
    "GuardSettings": "stockade.engine.settings",
    "Incoming": "stockade.request.incoming",
    "Ladder": "stockade.engine._sync.ladder",
    "Listener": "stockade.engine.settings",
    "Verdict": "stockade.engine.verdict",
}

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


def __getattr__(name: str) -> object:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module 'stockade.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
