"""The app's own login forms feed the lockout: reserve a slot, check the password, report.

:meth:`Guard.reserve_attempt` before the password check guarantees that parallel attempts
never get more than ``max_retries`` checks; a refused slot (the user is blocked) is
answered with the login's ``blocked_status`` and the password is not checked at all.
:class:`LoginAttempt` and :class:`AsyncLoginAttempt` wrap that flow for the framework
helpers; an attempt left without an outcome gives its slot back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stockade.adapters.protection import Login
from stockade.engine import AsyncGuard, Guard
from stockade.engine.views import Attempt
from stockade.errors import StoreError

BLOCKED_BODY = b"Too many failed logins; try again later.\n"
MAX_USER_LENGTH = 256


def clean_user(user: object) -> str:
    """A user name the lockout accepts, whatever a form sent: a string, NUL-free, at most 256 characters."""
    return str(user or "").replace("\x00", "")[:MAX_USER_LENGTH]


@dataclass
class LoginAttempt:
    """One password check of a login form, on the sync guard."""

    guard: Guard
    login: Login
    user: str
    client: str = ""
    _attempt: Attempt | None = field(default=None, repr=False)
    done: bool = False

    def __post_init__(self) -> None:
        self.user = clean_user(self.user)
        try:
            self._attempt = self.guard.reserve_attempt(self.user, self.login.settings().path, client=self.client)
        except StoreError:
            self._attempt = None  # fails closed: the guard has counted and logged it

    @property
    def granted(self) -> bool:
        """May the password be checked? ``False``: answer :attr:`blocked_status` without checking."""
        return self._attempt is not None and self._attempt.granted

    @property
    def blocked_status(self) -> int:
        return self.login.blocked_status

    def report(self, success: bool) -> bool:
        """Report the password check; ``True`` when the login is accepted."""
        attempt, self.done = self._attempt, True
        if attempt is None or not attempt.granted:
            return False
        result = self.guard.report_attempt(attempt, success=success)
        return success and bool(getattr(result, "accepted", False))

    def release(self) -> None:
        """Give the slot back if nothing was reported (the view failed or returned early)."""
        if self._attempt is not None and not self.done:
            self.done = True
            self.guard.release_attempt(self._attempt)


@dataclass
class AsyncLoginAttempt:
    """One password check of a login form, on the async guard; create it with :meth:`reserve`."""

    guard: AsyncGuard
    login: Login
    user: str
    client: str = ""
    attempt: Attempt | None = field(default=None, repr=False)
    done: bool = False

    @classmethod
    async def reserve(cls, guard: AsyncGuard, login: Login, user: str, client: str = "") -> AsyncLoginAttempt:
        user = clean_user(user)
        try:
            attempt: Attempt | None = await guard.reserve_attempt(user, login.settings().path, client=client)
        except StoreError:
            attempt = None
        return cls(guard, login, user, client, attempt)

    @property
    def granted(self) -> bool:
        return self.attempt is not None and self.attempt.granted

    @property
    def blocked_status(self) -> int:
        return self.login.blocked_status

    async def report(self, success: bool) -> bool:
        """Report the password check; ``True`` when the login is accepted."""
        attempt, self.done = self.attempt, True
        if attempt is None or not attempt.granted:
            return False
        result = await self.guard.report_attempt(attempt, success=success)
        return success and bool(getattr(result, "accepted", False))

    async def release(self) -> None:
        if self.attempt is not None and not self.done:
            self.done = True
            await self.guard.release_attempt(self.attempt)
