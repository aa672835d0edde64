"""Django: a middleware, the ``django.contrib.auth`` signals feeding the lockout, an admin page.

Settings (``settings.py``)::

    STOCKADE = {"config": BASE_DIR / "stockade.toml", "logins": ["/accounts/login/"]}
    MIDDLEWARE = ["stockade.adapters.django.StockadeMiddleware", ...]   # first
    # urls.py: path("admin/stockade/", include(stockade.adapters.django.urls))

``STOCKADE`` takes the keys of :func:`stockade.adapters.protection.from_mapping`, plus
``login_url_names``: URL names whose paths are logins too (``reverse`` at first use).
``STOCKADE = "path/to/stockade.toml"`` is short for ``{"config": ...}``.

A POST to a login path reserves the attempt of the posted user name before the view runs:
a blocked user gets the login's ``blocked_status`` and the password is never checked.
``user_login_failed`` and ``user_logged_in`` report the outcome; the failures of a login
made elsewhere (an API view calling ``authenticate``) count on the login of that path.
Router awareness comes from the URLconf.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime
from typing import Any

from django.conf import settings as django_settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from stockade.adapters.logins import BLOCKED_BODY, LoginAttempt, clean_user
from stockade.adapters.protection import Login, from_mapping
from stockade.adapters.routes import django_routes
from stockade.adapters.wsgi import CLIENT, PATH, StockadeWSGI
from stockade.engine import Guard
from stockade.errors import StockadeError

__all__ = ["StockadeMiddleware", "guard", "urls"]

_ATTEMPT = "_stockade_attempt"
_lock = threading.Lock()
_checks: StockadeWSGI | None = None


def _refuse_app(environ: Any, start_response: Any) -> list[bytes]:
    raise RuntimeError("the Django middleware never calls the wrapped app")


def checks() -> StockadeWSGI:
    """This process's checks, built from ``settings.STOCKADE`` at first use."""
    global _checks  # noqa: PLW0603 (one guard per process, as the WSGI middleware's)
    if _checks is None:
        with _lock:
            if _checks is None:
                values = getattr(django_settings, "STOCKADE", {})
                values = {"config": values} if isinstance(values, str) else dict(values)
                names = values.pop("login_url_names", ())
                logins = [*values.get("logins", ()), *(Login(reverse(name)) for name in names)]
                values["logins"] = logins
                _checks = StockadeWSGI(_refuse_app, prepared=from_mapping(values), routes=django_routes())
    return _checks


def guard() -> Guard:
    """This process's guard, for the app's own code (and the admin page)."""
    return checks().process.guard()


class StockadeMiddleware:
    """The checks before the view, the login lockout around the login views."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = checks()
        refusal = found.check(request.META)
        if refusal is not None:
            response = HttpResponse(refusal.body, status=refusal.code)
            for name, value in refusal.headers:
                response[name] = value
            return response
        # The checks made META canonical; Django routes path_info, read from META before them.
        request.path = str(request.META[PATH])
        request.path_info = _text(request.META.get("PATH_INFO", "")) or "/"
        attempt = None
        form = found.protection.login_at(request.path) if request.method == "POST" else None
        if form is not None:
            user = clean_user(request.POST.get("username", ""))
            attempt = LoginAttempt(found.process.guard(), form, user, str(request.META.get(CLIENT, "")))
            if not attempt.granted:
                return HttpResponse(BLOCKED_BODY, status=form.blocked_status, content_type="text/plain")
            setattr(request, _ATTEMPT, attempt)
        try:
            answer: HttpResponse = self.get_response(request)
        finally:
            if attempt is not None:
                attempt.release()
        observed = found.protection.settings.bans
        if observed is not None and observed.response_rules:
            guard().bans.observe_response(str(request.META.get(CLIENT, "")), request.path, answer.status_code)
        return answer


def _text(environ_value: object) -> str:
    """A PEP 3333 environ string (bytes as latin-1 characters) as the text it holds."""
    return str(environ_value).encode("latin-1").decode("utf-8", "surrogateescape")


def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any) -> None:
    _report(request, credentials.get("username", ""), success=False)


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    _report(request, user.get_username() if user is not None else "", success=True)


def _report(request: HttpRequest | None, user: str, *, success: bool) -> None:
    if request is None:
        return
    attempt: LoginAttempt | None = getattr(request, _ATTEMPT, None)
    if attempt is not None and not attempt.done:
        attempt.report(success)
        return
    form = checks().protection.login_at(request.path)
    if form is None:
        return
    client = str(request.META.get(CLIENT, ""))
    directory = form.settings().path
    if success:
        guard().login_succeeded(clean_user(user), directory, client=client)
    else:
        guard().login_failed(clean_user(user), directory, client=client)


user_login_failed.connect(_login_failed, dispatch_uid="stockade.login_failed")
user_logged_in.connect(_logged_in, dispatch_uid="stockade.logged_in")


# -- the admin page --------------------------------------------------------------------------


def _blocks_view(request: HttpRequest) -> HttpResponse:
    """Blocked users and banned IPs, each with a button that lifts it."""
    current = guard()
    if request.method == "POST":
        try:
            if "user" in request.POST:
                current.unblock_user(request.POST["user"], request.POST.get("directory") or None)
            elif "ip" in request.POST:
                current.unblock_ip_address(request.POST["ip"])
        except StockadeError as exc:
            return HttpResponse(f"not unblocked: {exc}\n", status=400, content_type="text/plain")
        return HttpResponseRedirect(request.path)
    token = get_token(request)
    button = '<input type="hidden" name="csrfmiddlewaretoken" value="{}"><button>Unblock</button>'
    users = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td>{}</td><td><form method="post">'
        '<input type="hidden" name="user" value="{}"><input type="hidden" name="directory" value="{}">'
        + button
        + "</form></td></tr>",
        (
            (b.user, b.directory, b.until or "infinity", b.user, b.directory, token)
            for b in current.list_blocked_users()
        ),
    )
    ips = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td><form method="post"><input type="hidden" name="ip" value="{}">'
        + button
        + "</form></td></tr>",
        ((b.ip, _until(b.until), b.ip, token) for b in current.list_banned_ips()),
    )
    page = format_html(
        "<!doctype html><title>Stockade blocks</title><h1>Blocked users</h1>"
        "<table><tr><th>user</th><th>directory</th><th>until</th><th></th></tr>{}</table>"
        "<h1>Banned IP addresses</h1><table><tr><th>address</th><th>until</th><th></th></tr>{}</table>",
        users,
        ips,
    )
    return HttpResponse(page)


def _until(until: float) -> str:
    return "infinity" if math.isinf(until) else datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")


blocks_view: Any = staff_member_required(_blocks_view)
urls = ([path("", blocks_view, name="blocks")], "stockade")
