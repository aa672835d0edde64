"""The console as an ASGI 3 application, mounted on the admin API at ``/ui``: routing, sign-in, CSRF.

Who may ask:

- the login page and the stylesheet are open (they show nothing of the server);
- every other page needs a session cookie from the login form (the admin token typed in)
  or ``Authorization: Bearer <token>`` (scripts); a wrong bearer token is refused even
  with a good cookie;
- every action (POST) with a session also needs the session's CSRF token, from the form
  field ``csrf`` or the header ``X-CSRF-Token``, and is refused when the browser says the
  request comes from another site (``Sec-Fetch-Site``). A bearer token needs no CSRF token:
  no browser sends one by itself.

Unknown paths answer as the pages do before sign-in, so an anonymous caller learns nothing
about which exist. Bad input answers 400 with the page and the reason, never a 500.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Final

from stockade.admin.http import ApiError, BearerToken, Disconnected, Receive, Scope, Send, header_list, read_body
from stockade.console import audit, bans, lockouts, overview, reload, rules
from stockade.console.forms import FormError, cookies, header, parse_fields
from stockade.console.session import LIFETIME, Sessions, login_nonce, same_value
from stockade.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    Caller,
    Parts,
    Reply,
    Request,
    environment,
    redirect,
    render,
    url,
)

if TYPE_CHECKING:
    from stockade.admin import AdminApp
    from stockade.config import Config
    from stockade.rules import BlockReloader

Handler = Callable[[Parts, Request], Awaitable[Reply]]

COOKIE: Final = "stockade_console"
LOGIN_COOKIE: Final = "stockade_login"
LOGIN_LIFETIME: Final = 3600
STATIC: Final = {"console.css": b"text/css; charset=utf-8", "console.js": b"text/javascript; charset=utf-8"}
FORM_TYPE: Final = b"application/x-www-form-urlencoded"


ROUTES: Final[dict[str, dict[str, Handler]]] = {
    "/": {"GET": overview.overview},
    "/bans": {"GET": bans.bans_page},
    "/bans/ban": {"POST": bans.ban},
    "/bans/unban": {"POST": bans.unban},
    "/bans/history": {"GET": bans.history_page},
    "/lockouts": {"GET": lockouts.lockouts_page},
    "/lockouts/block": {"POST": lockouts.block},
    "/lockouts/unblock": {"POST": lockouts.unblock},
    "/rules": {"GET": rules.rules_page},
    "/audit": {"GET": audit.audit_page},
    "/reload": {"GET": reload.reload_page, "POST": reload.reload},
}


def config_digest(config: Config) -> str:
    """SHA-256 of the running configuration as parsed (the admin token left out)."""
    data = config.raw.model_dump(mode="json", exclude={"admin": {"token"}})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class Console:
    """``Console(admin, config, block)``: the console of one site, over that site's admin API."""

    def __init__(self, admin: AdminApp, config: Config, block: BlockReloader | None) -> None:
        token = config.admin.token if config.admin is not None else ""
        self.parts = Parts(
            admin=admin,
            config=config,
            block=block,
            sessions=Sessions(token),
            digest=config_digest(config),
            loaded_at=admin.guard.clock.now(),
            templates=environment(),
        )
        self._token = BearerToken(token)
        self._static = {
            name: resources.files("stockade.console").joinpath("static", name).read_bytes() for name in STATIC
        }

    def __repr__(self) -> str:
        return f"<Console over {self.parts.admin!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reply = await self._reply(scope, receive)
        except Disconnected:
            return
        length = len(reply.body)
        if scope["method"] == "HEAD":
            reply.body = b""
        await _send(send, reply, length=length)

    async def _reply(self, scope: Scope, receive: Receive) -> Reply:
        parts = self.parts
        method: str = scope["method"]
        sub = scope["path"][len(PREFIX) :] or ""
        now = parts.guard.clock.now()
        secure = scope.get("scheme") == "https"
        headers = header_list(scope)
        bad_query: FormError | None = None
        try:
            query = parse_fields(bytes(scope.get("query_string") or b""))
        except FormError as exc:
            query, bad_query = {}, exc
        request = Request("GET" if method == "HEAD" else method, sub, query, {}, None, now, secure)
        if sub == "":
            return redirect(PREFIX + "/")
        if sub.startswith("/static/") and request.method == "GET":
            return self._asset(sub.removeprefix("/static/"))
        if sub == "/login":
            return await self._login(request, headers, receive)
        try:
            request.caller = self._caller(headers, now)
        except ApiError as error:
            return Reply(
                error.status, error.message.encode() + b"\n", b"text/plain; charset=utf-8", list(error.headers)
            )
        if request.caller is None:
            if request.method == "GET":
                return redirect(url("/login", next=sub if sub in ROUTES else "/"))
            return self._refused(request, 401, "Sign in first: this action needs a session (or the bearer token).")
        session = request.caller.session
        if session is not None:
            request.csrf = parts.sessions.csrf(session)
        if bad_query is not None:
            return render(parts, request, "error.html", 400, title="Bad request", message=str(bad_query))
        if sub == "/logout":
            return await self._logout(request, headers, receive)
        methods = ROUTES.get(sub)
        if methods is None:
            return render(parts, request, "error.html", 404, title="Not found", message=f"No page at {PREFIX}{sub}.")
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(methods))
            reply = render(parts, request, "error.html", 405, title="Method not allowed", message=f"Use {allowed}.")
            reply.headers.append((b"allow", allowed.encode()))
            return reply
        if request.method == "POST":
            refusal = await self._read_form(request, headers, receive)
            if refusal is not None:
                return refusal
        try:
            return await handler(parts, request)
        except FormError as exc:
            return render(parts, request, "error.html", 400, title="Bad request", message=str(exc))

    def _caller(self, headers: list[tuple[bytes, bytes]], now: float) -> Caller | None:
        if header(headers, b"authorization") is not None:
            self._token.check(headers)  # raises a 401 for a wrong or malformed token
            return Caller("admin", None)
        session = self.parts.sessions.verify(cookies(headers).get(COOKIE), now)
        return Caller("console", session) if session is not None else None

    async def _read_form(self, request: Request, headers: list[tuple[bytes, bytes]], receive: Receive) -> Reply | None:
        """Read the form of an action, and refuse it without a valid CSRF token (sessions only)."""
        kind = (header(headers, b"content-type") or "").split(";")[0].strip().lower().encode()
        try:
            body = await read_body(receive)
        except ApiError as error:
            return self._refused(request, error.status, error.message)
        if body and kind != FORM_TYPE:
            return self._refused(request, 415, "Send the form as application/x-www-form-urlencoded.")
        try:
            request.form = parse_fields(body)
        except FormError as exc:
            return self._refused(request, 400, str(exc))
        caller = request.caller
        if caller is None or caller.session is None:
            return None
        site = header(headers, b"sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return self._refused(request, 403, "Refused: the request comes from another site.")
        given = request.form.get("csrf") or header(headers, b"x-csrf-token")
        if not self.parts.sessions.csrf_matches(caller.session, given):
            return self._refused(
                request, 403, "Refused: the form is stale or forged (bad CSRF token). Reload the page."
            )
        return None

    def _refused(self, request: Request, status: int, message: str) -> Reply:
        title = {401: "Sign in first", 403: "Refused"}.get(status, "Bad request")
        return render(self.parts, request, "error.html", status, title=title, message=message)

    async def _login(self, request: Request, headers: list[tuple[bytes, bytes]], receive: Receive) -> Reply:
        parts = self.parts
        jar = cookies(headers)
        target = _safe_next(request.query.get("next", "/"))
        if request.method == "GET":
            nonce = jar.get(LOGIN_COOKIE) or login_nonce()
            reply = render(parts, request, "login.html", login_nonce=nonce, next=target, error=None)
            reply.headers.append(_cookie(LOGIN_COOKIE, nonce, LOGIN_LIFETIME, secure=request.secure))
            return reply
        if request.method != "POST":
            return Reply(405, b"", headers=[(b"allow", b"GET, POST"), *SECURITY_HEADERS])
        refusal = await self._read_form(request, headers, receive)
        if refusal is not None:
            return refusal
        form = request.form
        target = _safe_next(form.get("next", "/"))
        nonce = jar.get(LOGIN_COOKIE, "")
        if not same_value(nonce, form.get("csrf")):
            fresh = login_nonce()
            error = "The sign-in form had expired. Try again."
            reply = render(parts, request, "login.html", 403, login_nonce=fresh, next=target, error=error)
            reply.headers.append(_cookie(LOGIN_COOKIE, fresh, LOGIN_LIFETIME, secure=request.secure))
            return reply
        if not parts.sessions.token_matches(form.get("token", "")):
            error = "That is not the admin token."
            return render(parts, request, "login.html", 401, login_nonce=nonce, next=target, error=error)
        session = parts.sessions.issue(request.now)
        return redirect(
            PREFIX + target,
            [
                _cookie(COOKIE, session, int(LIFETIME), secure=request.secure),
                _cookie(LOGIN_COOKIE, "", 0, secure=request.secure),
            ],
        )

    async def _logout(self, request: Request, headers: list[tuple[bytes, bytes]], receive: Receive) -> Reply:
        if request.method != "POST":
            return Reply(405, b"", headers=[(b"allow", b"POST"), *SECURITY_HEADERS])
        refusal = await self._read_form(request, headers, receive)
        if refusal is not None:
            return refusal
        caller = request.caller
        if caller is not None and caller.session is not None:
            self.parts.sessions.revoke(caller.session, request.now)
        return redirect(url("/login", done="logged_out"), [_cookie(COOKIE, "", 0, secure=request.secure)])

    def _asset(self, name: str) -> Reply:
        kind = STATIC.get(name)
        if kind is None:
            return Reply(404, b"not found\n", b"text/plain; charset=utf-8", list(SECURITY_HEADERS))
        headers = [(name_, value) for name_, value in SECURITY_HEADERS if name_ != b"cache-control"]
        return Reply(200, self._static[name], kind, [*headers, (b"cache-control", b"private, max-age=300")])


def _safe_next(target: str) -> str:
    """Where to go after signing in: a console page only (never another site)."""
    if target in ROUTES and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _cookie(name: str, value: str, max_age: int, *, secure: bool) -> tuple[bytes, bytes]:
    parts = [f"{name}={value}", f"Path={PREFIX}/", f"Max-Age={max(0, max_age)}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return b"set-cookie", "; ".join(parts).encode("latin-1")


async def _send(send: Send, reply: Reply, *, length: int) -> None:
    headers = [(b"content-type", reply.content_type), (b"content-length", str(length).encode()), *reply.headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
