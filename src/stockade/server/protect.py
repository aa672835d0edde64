"""HTTP Basic authentication with login lockout for the protected directories.

The flow follows the reference (``mod_auth`` then ``mod_security``, see the spec's
mod_security §2): a missing or malformed header is challenged and not counted; a wrong
password, an unknown user or a user outside ``require_user`` is counted and challenged;
valid credentials are refused while the user is blocked (403, or the very same 401 as a
wrong password when ``blocked_status = 401``). The password reaches nothing but the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from stockade.clock import Clock
from stockade.config import ProtectedDirectory
from stockade.engine import AsyncGuard, Listener
from stockade.errors import StoreError
from stockade.server.basic import parse_authorization
from stockade.server.responses import Response, forbidden, unauthorized, unavailable
from stockade.server.users import UserFile


@dataclass(frozen=True, slots=True)
class Request:
    """What the lockout needs to know about one request."""

    path: str
    authorization: Sequence[bytes]
    client: str
    listener: Listener
    line: str


class GateRequest(Protocol):
    """The request as a gate reads it: a :class:`Request`, or the ladder's ``Incoming``."""

    @property
    def path(self) -> str: ...

    @property
    def authorization(self) -> Sequence[bytes]: ...

    @property
    def client(self) -> str: ...

    @property
    def listener(self) -> Listener: ...

    @property
    def line(self) -> str: ...


class DirectoryGate:
    """The authentication of one protected directory, with its precomputed challenge."""

    def __init__(self, directory: ProtectedDirectory, clock: Clock) -> None:
        self.directory = directory
        self.path = directory.path
        # A cached success answers faster than a real check. When the lockout is hidden
        # (blocked_status = 401) that speed would tell a blocked attacker the password is
        # right, so such directories pay a full check on every request.
        self.users = UserFile(directory.users, clock, cache_successes=directory.settings.blocked_status != 401)
        self.require_user = directory.require_user
        self.challenge = unauthorized(directory.realm)
        self.blocked_status = directory.settings.blocked_status

    async def check(self, guard: AsyncGuard, request: GateRequest) -> Response | None:
        """``None`` when the request may proceed, else the response that refuses it."""
        credentials = parse_authorization(request.authorization)
        if credentials is None:
            return self.challenge
        user = credentials.user
        valid = await self.users.verify(user, credentials.password)
        if self.require_user is not None and user not in self.require_user:
            valid = False
        try:
            if not valid:
                await guard.login_failed(
                    user, self.path, client=request.client, listener=request.listener, request=request.line
                )
                return self.challenge
            result = await guard.login_succeeded(
                user, self.path, client=request.client, listener=request.listener, request=request.line
            )
        except StoreError:
            # The lockout fails closed ([store] on_error); the guard has counted and logged it.
            return unavailable()
        if result.accepted:
            return None
        if self.blocked_status == 401:
            return self.challenge
        return forbidden(request.path)
