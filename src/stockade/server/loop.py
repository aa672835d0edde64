"""The event loop of the Python side of ``stockade serve``: uvloop when installed, else asyncio's."""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop if uvloop is importable (a dependency on every platform but Windows), else asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
