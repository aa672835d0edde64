"""HTTP Basic gates of the lockout directories for the middleware, async and sync.

The async gate is the protecting server's :class:`~stockade.server.protect.DirectoryGate`.
The sync one follows the very same flow (see that module) on the sync guard, checking the
password on the calling thread: WSGI servers give each request a thread of its own.
"""

from __future__ import annotations

from stockade.clock import Clock
from stockade.config import ProtectedDirectory
from stockade.engine import Guard
from stockade.engine._sync.ladder import Incoming
from stockade.errors import StoreError
from stockade.server.basic import parse_authorization
from stockade.server.protect import DirectoryGate as AsyncBasicGate
from stockade.server.responses import Response, forbidden, unauthorized, unavailable
from stockade.server.users import UserFile

__all__ = ["AsyncBasicGate", "BasicGate"]


class BasicGate:
    """The authentication of one protected directory on the sync guard."""

    def __init__(self, directory: ProtectedDirectory, clock: Clock) -> None:
        self.path = directory.path
        self.users = UserFile(directory.users, clock, cache_successes=directory.settings.blocked_status != 401)
        self.require_user = directory.require_user
        self.challenge = unauthorized(directory.realm)
        self.blocked_status = directory.settings.blocked_status

    def check(self, guard: Guard, request: Incoming) -> Response | None:
        """``None`` when the request may proceed, else the response that refuses it."""
        credentials = parse_authorization(request.authorization)
        if credentials is None:
            return self.challenge
        user = credentials.user
        valid = self.users.check(user, credentials.password)
        if self.require_user is not None and user not in self.require_user:
            valid = False
        try:
            if not valid:
                guard.login_failed(
                    user, self.path, client=request.client, listener=request.listener, request=request.line
                )
                return self.challenge
            result = guard.login_succeeded(
                user, self.path, client=request.client, listener=request.listener, request=request.line
            )
        except StoreError:
            return unavailable()
        if result.accepted:
            return None
        if self.blocked_status == 401:
            return self.challenge
        return forbidden(request.path)
