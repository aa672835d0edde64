"""FastAPI and Starlette: one line to add the guard, and a dependency for login endpoints.

``stockade.adapters.fastapi.protect(app, "stockade.toml", logins=["/login"])`` mounts
:class:`~stockade.adapters.asgi.StockadeMiddleware` with the app's own routes for router
awareness. :func:`login_attempt` is a dependency for a JSON or form login endpoint: it
reads the user name, reserves the attempt, refuses a blocked user with the login's
``blocked_status`` (the password is then never checked), and hands the endpoint an
attempt to report::

    @app.post("/login")
    async def login(attempt: AsyncLoginAttempt = Depends(login_attempt())):
        ok = check_password(...)
        await attempt.report(ok)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stockade.adapters.asgi import CLIENT, GUARD, PROTECTION, StockadeMiddleware
from stockade.adapters.logins import BLOCKED_BODY, AsyncLoginAttempt
from stockade.adapters.protection import Protection
from stockade.adapters.routes import starlette_routes
from stockade.config import Config
from stockade.engine import AsyncGuard

__all__ = ["AsyncLoginAttempt", "LoginRefused", "login_attempt", "protect"]


class LoginRefused(Exception):
    """Raised by :func:`login_attempt` for a blocked user; :func:`protect` turns it into a response."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def protect(app: Any, config: str | Path | Config | None = None, **settings: Any) -> None:
    """Add the guard to a Starlette or FastAPI ``app`` (keywords as :class:`StockadeMiddleware`)."""
    settings.setdefault("routes", starlette_routes(app))
    app.add_middleware(StockadeMiddleware, config=config, **settings)
    app.add_exception_handler(LoginRefused, _refused)


async def _refused(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, LoginRefused) else 403
    return Response(BLOCKED_BODY, status_code=status, media_type="text/plain")


def login_attempt(
    login: str | None = None, *, username_field: str = "username"
) -> Callable[[Request], AsyncIterator[AsyncLoginAttempt]]:
    """A dependency that reserves the login attempt of the user named in the JSON or form body."""

    async def dependency(request: Request) -> AsyncIterator[AsyncLoginAttempt]:
        guard: AsyncGuard | None = request.scope.get(GUARD)
        protection: Protection | None = request.scope.get(PROTECTION)
        if guard is None or protection is None:
            raise RuntimeError("login_attempt needs the stockade middleware in front of the app")
        form = protection.login(login if login is not None else request.url.path)
        user = await _user(request, username_field)
        attempt = await AsyncLoginAttempt.reserve(guard, form, user, request.scope.get(CLIENT, ""))
        if not attempt.granted:
            raise LoginRefused(form.blocked_status)
        try:
            yield attempt
        finally:
            await attempt.release()

    return dependency


async def _user(request: Request, field: str) -> str:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        value = body.get(field) if isinstance(body, dict) else None
    else:
        value = (await request.form()).get(field)
    return value if isinstance(value, str) else ""
