"""What every page of the console shares: the request as the pages see it, replies, templates.

Every HTML reply carries a strict Content-Security-Policy (scripts and styles from the
console itself only, no inline code, no framing), ``no-store`` caching and no referrer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

import jinja2

from stockade.console import times
from stockade.console.session import Session

if TYPE_CHECKING:
    from stockade.admin import AdminApp
    from stockade.config import Config
    from stockade.console.session import Sessions
    from stockade.engine import AsyncGuard
    from stockade.metrics import Metrics
    from stockade.rules import BlockReloader

PREFIX: Final = "/ui"
HTML: Final = b"text/html; charset=utf-8"
SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
NAV: Final = (
    ("overview", "Overview", "/"),
    ("bans", "Bans", "/bans"),
    ("lockouts", "Lockouts", "/lockouts"),
    ("rules", "Rules", "/rules"),
    ("audit", "Audit", "/audit"),
    ("reload", "Reload", "/reload"),
)
# What a finished action says on the page it leads back to (the subject is escaped).
NOTICES: Final = {
    "banned": "Banned {subject}.",
    "kept": "{subject} stays banned: a longer ban is in force (tick “replace a longer ban” to shorten it).",
    "unbanned": "Lifted the ban of {subject}.",
    "blocked": "Blocked {subject}.",
    "unblocked": "Unblocked {subject}.",
    "reloaded": "Reloaded the configuration.",
    "logged_out": "Logged out.",
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: a browser with a session, or a script with the bearer token (``session`` None)."""

    by: str  # the name the audit log gives: "console" or "admin"
    session: Session | None


@dataclass(slots=True)
class Request:
    method: str
    path: str  # below the prefix: "/", "/bans", ...
    query: dict[str, str]
    form: dict[str, str]
    caller: Caller | None
    now: float
    secure: bool  # the listener speaks TLS: cookies get Secure
    csrf: str = ""  # the session's CSRF token for the page's forms

    @property
    def by(self) -> str:
        """Who the audit log says made a call: ``console`` (a session) or ``admin`` (the token)."""
        return self.caller.by if self.caller is not None else "console"


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: bytes = HTML
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class Parts:
    """The in-process objects the console reads and acts through (the admin API's own)."""

    admin: AdminApp
    config: Config
    block: BlockReloader | None
    sessions: Sessions
    digest: str
    loaded_at: float
    templates: jinja2.Environment

    @property
    def guard(self) -> AsyncGuard:
        return self.admin.guard

    @property
    def metrics(self) -> Metrics:
        return self.admin.metrics


@functools.cache
def environment() -> jinja2.Environment:
    """The templates shipped in the package, autoescaped (one environment a process: they never change)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stockade.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(
        iso=times.iso,
        local=times.local,
        remaining=times.remaining,
        ago=times.ago,
        span=times.span,
        url=url,
        isinf=math.isinf,
        nav=NAV,
    )
    return env


def url(path: str, **query: object) -> str:
    """A console URL: ``url("/bans", q="10.0.0.0/8")``; empty parameters are left out."""
    kept = {name: str(value) for name, value in query.items() if value not in (None, "")}
    return PREFIX + quote(path) + ("?" + urlencode(kept) if kept else "")


def render(parts: Parts, request: Request, template: str, code: int = 200, /, **context: Any) -> Reply:
    page = parts.templates.get_template(template)
    notice = None
    done = request.query.get("done", "")
    if done in NOTICES:
        notice = NOTICES[done].format(subject=request.query.get("subject", ""))
    body = page.render(
        request=request,
        now=request.now,
        csrf=request.csrf,
        notice=notice,
        signed_in=request.caller is not None,
        **context,
    )
    return Reply(code, body.encode("utf-8"), HTML, list(SECURITY_HEADERS))


def redirect(location: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> Reply:
    return Reply(303, b"", HTML, [(b"location", location.encode("latin-1")), *SECURITY_HEADERS, *headers])


def back(path: str, done: str, subject: str, keep: Mapping[str, str] | None = None) -> Reply:
    """After an action: back to its page, saying what was done (Post/Redirect/Get)."""
    return redirect(url(path, **(keep or {}), done=done, subject=subject))


def api_message(answer: object) -> str:
    """What the admin API said when it refused an action (``{"error": kind, "message": text}``)."""
    if isinstance(answer, Mapping):
        return str(answer.get("message") or answer.get("error") or "the action failed")
    return "the action failed"
