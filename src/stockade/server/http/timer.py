"""One timer per connection, moved lazily.

Re-arming an asyncio timer on every request (cancel, then ``call_at``) is measurable on a
keep-alive connection. Here the deadline is a float assigned on every event; the timer
handle is only replaced when the deadline moves closer than the armed time, and when it
fires early it re-arms at the current deadline. ``kind`` says which deadline is running
(``NONE`` while no deadline applies), and is what the callback is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

NONE, HEADER, IDLE, BODY, LINGER = range(5)


class Deadline:
    """A lazily re-armed deadline calling ``expired(kind)`` once it has passed."""

    __slots__ = ("_armed_at", "_expired", "_handle", "_loop", "kind", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[int], None]) -> None:
        self._loop = loop
        self._expired = expired
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self.kind = NONE
        self.when = 0.0

    def set(self, kind: int, when: float) -> None:
        self.kind = kind
        self.when = when
        if self._handle is None or when < self._armed_at:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(when, self._fire)
            self._armed_at = when

    def after(self, kind: int, seconds: float) -> None:
        self.set(kind, self._loop.time() + seconds)

    def cancel(self) -> None:
        self.kind = NONE
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        if self.kind == NONE:
            return
        if self._loop.time() < self.when:
            self._handle = self._loop.call_at(self.when, self._fire)
            self._armed_at = self.when
            return
        self._expired(self.kind)
