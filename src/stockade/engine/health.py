"""What the engine does when the store fails: the configured policy, counted and logged once.

Every store failure reaches the engine as one :class:`~stockade.errors.StoreError` (the
stores wrap their client's errors at one place each). The engine then applies the policy
configured for the capability at hand (``[store] on_error``): ``closed`` refuses what it
cannot check (the server answers 503), ``open`` lets the request through unchecked. Either
way the failure is counted, and each incident is logged twice: when it starts and when the
store answers again. The stores reconnect by themselves on their next call.
"""

from __future__ import annotations

import logging

from stockade.errors import StoreError

log = logging.getLogger("stockade.store")


class StoreHealth:
    """Failure counter and incident log of one store."""

    def __init__(self) -> None:
        self.errors = 0
        self.failing = False

    def failed(self, exc: StoreError, policy: str) -> None:
        self.errors += 1
        if not self.failing:
            self.failing = True
            log.error("store failing, requests are let %s: %s", "through" if policy == "open" else "refused", exc)

    def answered(self) -> None:
        if self.failing:
            self.failing = False
            log.warning("store answers again after %d failed calls", self.errors)
