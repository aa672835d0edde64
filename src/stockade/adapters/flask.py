"""Flask: ``Stockade(app)`` or ``Stockade().init_app(app)``, and helpers for the app's login view.

The extension wraps ``app.wsgi_app`` in :class:`~stockade.adapters.wsgi.StockadeWSGI` with
the app's ``url_map`` for router awareness. Settings come from the constructor or from
``app.config["STOCKADE"]`` (a dict: ``config``, ``logins``, ``store``, ``bans``). In a
login view::

    attempt = stockade.login_attempt(username)   # refuses a blocked user (aborts)
    ok = check_password(username, password)
    attempt.report(ok)

or, after a check the app has already made, ``stockade.report_login(username, success=ok)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, request

from stockade.adapters.logins import BLOCKED_BODY, LoginAttempt, clean_user
from stockade.adapters.protection import Protection, from_mapping, protection
from stockade.adapters.routes import flask_routes
from stockade.adapters.wsgi import CLIENT, StockadeWSGI
from stockade.config import Config
from stockade.engine import Guard

__all__ = ["LoginAttempt", "Stockade"]


class Stockade:
    """The Flask extension; see the module docstring."""

    def __init__(self, app: Flask | None = None, config: str | Path | Config | None = None, **settings: Any) -> None:
        self.config = config
        self.settings = settings
        self.middleware: StockadeWSGI | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        prepared: Protection
        if self.config is None and not self.settings and "STOCKADE" in app.config:
            prepared = from_mapping(app.config["STOCKADE"])
        else:
            settings = {k: v for k, v in self.settings.items() if k in ("logins", "store", "bans", "trusted")}
            prepared = protection(self.config, **settings)
        self.middleware = StockadeWSGI(app.wsgi_app, prepared=prepared, routes=flask_routes(app))
        app.wsgi_app = self.middleware  # type: ignore[method-assign]
        app.extensions["stockade"] = self
        app.teardown_request(self._release)

    @property
    def guard(self) -> Guard:
        """This process's guard (opened at first use)."""
        return self._middleware().process.guard()

    def _middleware(self) -> StockadeWSGI:
        if self.middleware is None:
            raise RuntimeError("Stockade.init_app(app) was not called")
        return self.middleware

    def login_attempt(self, user: str, login: str | None = None) -> LoginAttempt:
        """Reserve the password check of ``user`` on the login ``login`` (default: this request's path).

        A blocked user is refused here with the login's ``blocked_status``; the attempt not
        reported by the end of the request is given back.
        """
        middleware = self._middleware()
        form = middleware.protection.login(login if login is not None else request.path)
        attempt = LoginAttempt(self.guard, form, clean_user(user), str(request.environ.get(CLIENT, "")))
        if not attempt.granted:
            abort(Response(BLOCKED_BODY, status=form.blocked_status, mimetype="text/plain"))
        g.setdefault("stockade_attempts", []).append(attempt)
        return attempt

    def report_login(self, user: str, *, success: bool, login: str | None = None) -> bool:
        """Report a password check the view made already; ``True`` when the login is accepted."""
        middleware = self._middleware()
        form = middleware.protection.login(login if login is not None else request.path)
        client = str(request.environ.get(CLIENT, ""))
        directory = form.settings().path
        if success:
            return self.guard.login_succeeded(clean_user(user), directory, client=client).accepted
        self.guard.login_failed(clean_user(user), directory, client=client)
        return False

    @staticmethod
    def _release(exc: BaseException | None) -> None:
        for attempt in g.pop("stockade_attempts", []):
            attempt.release()
