"""What the engine does when the store fails: the configured policy, counted and logged once.

Every store failure reaches the engine as one :class:`~stockade.errors.StoreError` (the
stores wrap their client's errors at one place each). The engine then applies the policy
configured for the capability at hand (``[store] on_error``): ``closed`` refuses what it
cannot check (the server answers 503), ``open`` lets the request through unchecked. Either
way the failure is counted, and an incident is logged twice: when it starts and when the
store answers again. A store that flaps (a full memory store refuses only new records, so
the calls in between succeed) would log a pair per request: incidents that start within
:data:`QUIET_SECONDS` of the last one logged are counted, not logged. The stores reconnect
by themselves on their next call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from stockade.clock import monotonic
from stockade.errors import StoreError

log = logging.getLogger("stockade.store")

QUIET_SECONDS = 60.0


class StoreHealth:
    """Failure counter and incident log of one store."""

    def __init__(self, clock: Callable[[], float] = monotonic) -> None:
        self.errors = 0
        self.failing = False
        self._clock = clock
        self._logged_at = float("-inf")  # when the last incident logged began
        self._logging = False  # the incident in progress was logged

    def failed(self, exc: StoreError, policy: str) -> None:
        self.errors += 1
        if self.failing:
            return
        self.failing = True
        now = self._clock()
        self._logging = now - self._logged_at >= QUIET_SECONDS
        if self._logging:
            self._logged_at = now
            log.error("store failing, requests are let %s: %s", "through" if policy == "open" else "refused", exc)

    def answered(self) -> None:
        if self.failing:
            self.failing = False
            if self._logging:
                log.warning("store answers again after %d failed calls", self.errors)
