"""Django: a middleware, an authentication backend, the ``django.contrib.auth`` signals, an admin page.

Settings (``settings.py``)::

    STOCKADE = {"config": BASE_DIR / "stockade.toml", "logins": ["/accounts/login/"]}
    MIDDLEWARE = ["stockade.adapters.django.StockadeMiddleware", ...]   # first
    AUTHENTICATION_BACKENDS = ["stockade.adapters.django.StockadeBackend", ...]   # first
    # urls.py: path("admin/stockade/", include(stockade.adapters.django.urls))

``STOCKADE`` takes the keys of :func:`stockade.adapters.protection.from_mapping`, plus
``login_url_names``: URL names whose paths are logins too (``reverse`` at first use), and
``authenticate``: the path of the login whose lockout every other ``authenticate()`` call
shares (by default the login at Django's ``LOGIN_URL``, else the first login; without any
login, one at ``LOGIN_URL`` with the default settings). ``STOCKADE = "path/to/stockade.toml"``
is short for ``{"config": ...}``.

The staff page links to the operators' console of ``stockade serve`` when there is one:
``STOCKADE_CONSOLE_URL`` if set, else the ``[admin] listen`` address of the configuration.

A POST to a login path reserves the attempt of the posted user name before the view runs:
a blocked user gets the login's ``blocked_status`` and the password is never checked.
Every other ``authenticate()`` call (``django.contrib.admin``'s login, an API view) goes
through :class:`StockadeBackend` first, which reserves the attempt on the ``authenticate``
login and, for a blocked user, stops ``authenticate()`` before any backend checks the
password (``PermissionDenied``, as django-axes does), so a user blocked on the site's login
cannot log in to the admin either. ``user_login_failed`` and ``user_logged_in`` report the
outcome of each attempt. Router awareness comes from the URLconf.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings as django_settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from stockade.adapters.logins import BLOCKED_BODY, LoginAttempt, clean_user
from stockade.adapters.protection import Login, from_mapping
from stockade.adapters.routes import django_routes
from stockade.adapters.wsgi import CLIENT, PATH, StockadeWSGI
from stockade.engine import Guard
from stockade.engine.views import iso_utc
from stockade.errors import ConfigError, ConfigIssue, StockadeError

__all__ = ["StockadeBackend", "StockadeMiddleware", "guard", "urls"]

BACKEND = "stockade.adapters.django.StockadeBackend"
_ATTEMPT = "_stockade_attempt"
_lock = threading.Lock()
# This process's checks and the login of authenticate() calls outside the login paths.
_process: tuple[StockadeWSGI, Login] | None = None
logger = logging.getLogger("stockade.django")


def _refuse_app(environ: Any, start_response: Any) -> list[bytes]:
    raise RuntimeError("the Django middleware never calls the wrapped app")


def checks() -> StockadeWSGI:
    """This process's checks, built from ``settings.STOCKADE`` at first use."""
    return _built()[0]


def authenticate_login() -> Login:
    """The login whose lockout the ``authenticate()`` calls outside every login path share."""
    return _built()[1]


def _built() -> tuple[StockadeWSGI, Login]:
    global _process  # noqa: PLW0603 (one guard per process, as the WSGI middleware's)
    if _process is None:
        with _lock:
            if _process is None:
                values = getattr(django_settings, "STOCKADE", {})
                values = {"config": values} if isinstance(values, str) else dict(values)
                names = values.pop("login_url_names", ())
                wanted = values.pop("authenticate", None)
                logins = [*values.get("logins", ()), *(Login(reverse(name)) for name in names)]
                if not logins:
                    logins = [Login(_login_url())]
                values["logins"] = logins
                prepared = from_mapping(values)
                default = prepared.login_at(_login_url()) or next(iter(prepared.logins.values()))
                login = default if wanted is None else _named_login(prepared.login_at(str(wanted)), wanted)
                if BACKEND not in getattr(django_settings, "AUTHENTICATION_BACKENDS", ()):
                    logger.warning(
                        "stockade: %s is not in AUTHENTICATION_BACKENDS: authenticate() calls outside the "
                        "login paths (django.contrib.admin's login) are counted but a blocked user is not refused",
                        BACKEND,
                    )
                _process = (StockadeWSGI(_refuse_app, prepared=prepared, routes=django_routes()), login)
    return _process


def _login_url() -> str:
    """Django's ``LOGIN_URL`` as a path (it may be a URL name)."""
    url = str(getattr(django_settings, "LOGIN_URL", "/accounts/login/"))
    return url if url.startswith("/") else reverse(url)


def _named_login(found: Login | None, wanted: object) -> Login:
    if found is None:
        raise ConfigError(None, [ConfigIssue("STOCKADE.authenticate", "expected the path of a login", wanted, True)])
    return found


def guard() -> Guard:
    """This process's guard, for the app's own code (and the admin page)."""
    return checks().process.guard()


class StockadeMiddleware:
    """The checks before the view, the login lockout around the login views."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = checks()
        # Detection may read the body's first bytes before the view: the checks read them from
        # the stream Django reads the body from (under WSGI and ASGI alike), which then gives
        # them again, followed by the rest.
        request.META["wsgi.input"] = request._stream
        refusal = found.check(request.META)
        request._stream = request.META["wsgi.input"]
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
            # This middleware's attempt, or one StockadeBackend took during the view.
            taken: LoginAttempt | None = getattr(request, _ATTEMPT, None)
            if taken is not None:
                taken.release()
        observed = found.protection.settings.bans
        if observed is not None and observed.response_rules:
            guard().bans.observe_response(str(request.META.get(CLIENT, "")), request.path, answer.status_code)
        return answer


class StockadeBackend:
    """First in ``AUTHENTICATION_BACKENDS``: refuses a blocked user before any backend checks a password.

    It authenticates nobody itself. For an ``authenticate()`` call outside a login path (the
    middleware has taken that attempt already) it reserves an attempt on the
    ``authenticate`` login; a refused one raises ``PermissionDenied``, which ends
    ``authenticate()`` at once (no other backend runs) and sends ``user_login_failed``,
    not counted again. A granted one is reported by the signals and given back by the
    middleware at the end of the request when nothing was reported. (Not a subclass of
    Django's ``BaseBackend``, whose module needs the app registry: this module must
    import before ``django.setup()``, as ``settings.py`` may name it.)
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        user = clean_user(username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD))
        login = _login_of(request)
        client = str(request.META.get(CLIENT, "")) if request is not None else ""
        if login.lockout_by != "user" and not client:
            return  # nothing to key the lockout on
        held: LoginAttempt | None = getattr(request, _ATTEMPT, None) if request is not None else None
        if held is not None and not held.done:
            if held.user == user and held.login == login:
                if held.granted:
                    return
                raise PermissionDenied
            held.release()
        attempt = LoginAttempt(guard(), login, user, client)
        if request is None:
            # No request to carry the attempt to the signals: they count the outcome themselves.
            attempt.release()
        else:
            setattr(request, _ATTEMPT, attempt)
        if not attempt.granted:
            raise PermissionDenied

    def get_user(self, user_id: object) -> None:
        """Nobody: this backend never authenticates a user, so no session names it."""


def _login_of(request: HttpRequest | None) -> Login:
    """The login an ``authenticate()`` call counts on: its path's, else the ``authenticate`` login."""
    found = checks().protection.login_at(request.path) if request is not None else None
    return found if found is not None else authenticate_login()


def _text(environ_value: object) -> str:
    """A PEP 3333 environ string (bytes as latin-1 characters) as the text it holds."""
    return str(environ_value).encode("latin-1").decode("utf-8", "surrogateescape")


def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any) -> None:
    user = credentials.get("username", credentials.get(get_user_model().USERNAME_FIELD, ""))
    _report(request, user, success=False)


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    _report(request, user.get_username() if user is not None else "", success=True)


def _report(request: HttpRequest | None, user: str, *, success: bool) -> None:
    attempt: LoginAttempt | None = getattr(request, _ATTEMPT, None) if request is not None else None
    if attempt is not None and not attempt.done:
        attempt.report(success)  # a refused attempt counts nothing: the password was never checked
        return
    form = _login_of(request)
    client = str(request.META.get(CLIENT, "")) if request is not None else ""
    if form.lockout_by != "user" and not client:
        return
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
        ((b.user, b.directory, _until(b.until), b.user, b.directory, token) for b in current.list_blocked_users()),
    )
    ips = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td><form method="post"><input type="hidden" name="ip" value="{}">'
        + button
        + "</form></td></tr>",
        ((b.ip, _until(b.until), b.ip, token) for b in current.list_banned_ips()),
    )
    page = format_html(
        "<!doctype html><title>Stockade blocks</title>{}<h1>Blocked users</h1>"
        "<table><tr><th>user</th><th>directory</th><th>until</th><th></th></tr>{}</table>"
        "<h1>Banned IP addresses</h1><table><tr><th>address</th><th>until</th><th></th></tr>{}</table>",
        _console_link(request),
        users,
        ips,
    )
    return HttpResponse(page)


def console_url(request: HttpRequest) -> str | None:
    """The operators' console: ``STOCKADE_CONSOLE_URL``, else ``/ui/`` on the configuration's admin listener."""
    configured = getattr(django_settings, "STOCKADE_CONSOLE_URL", None)
    if configured:
        return str(configured)
    config = checks().protection.config
    if config is None or config.admin is None:
        return None
    address = config.admin.listen
    host = request.get_host().rsplit(":", 1)[0].strip("[]") if address.wildcard else address.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{address.port}/ui/"


def _console_link(request: HttpRequest) -> str:
    url = console_url(request)
    if url is None:
        return ""
    link: str = format_html('<p><a href="{}">Open the stockade console</a> (sign in with the admin token)</p>', url)
    return link


def _until(until: float) -> str:
    """ISO 8601 in UTC (``2026-01-02T03:04:05Z``), or ``infinity``."""
    return iso_utc(until) or "infinity"


blocks_view: Any = staff_member_required(_blocks_view)
urls = ([path("", blocks_view, name="blocks")], "stockade")
