"""WSGI middleware: the guard in front of any WSGI application (Flask, Django, ...).

The same checks as the ASGI middleware, on the sync twins (:class:`~stockade.engine.Guard`,
:class:`~stockade.engine._sync.ladder.Ladder`). Under gunicorn every worker process opens
its own guard, lazily at its first request and under a lock (threads of a worker share it);
a guard opened before a ``fork`` (``--preload``) is never used by the child, which opens its
own. The SQLite store shares blocks, failures and bans between the processes.

When detection inspects a request, the first ``[bans] body_limit`` bytes of its body are
read from ``wsgi.input`` before the checks decide, and ``wsgi.input`` becomes a stream that
gives them and then the rest (:mod:`stockade.request.body`).

As in the ASGI middleware, each request first meets the native ladder
(:meth:`stockade._native.NativeLadder.wsgi`, one per process): a clean pass and a banned
client are decided there, the environ made canonical as :func:`~stockade.request.wsgi.from_wsgi`
makes it; anything else goes to the Python ladder, from the start.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from stockade._native import NativeLadder
from stockade.adapters.basic import BasicGate
from stockade.adapters.protection import Login, Protection, protection
from stockade.adapters.routes import RouteMatcher
from stockade.clock import Clock, SystemClock
from stockade.config import Config
from stockade.core.client_ip import TrustedProxies
from stockade.engine import Guard
from stockade.engine._sync.ladder import Ladder
from stockade.engine.settings import BanSettings
from stockade.engine.verdict import ResponseLike
from stockade.errors import BadRequest
from stockade.request.body import read_ahead_wsgi, wsgi_has_body
from stockade.request.incoming import Incoming
from stockade.request.wsgi import from_wsgi
from stockade.rules.block import BlockTable
from stockade.stores import open_directory_stores, open_store

Environ = dict[str, Any]

# Counts the forks this process is a child of: a guard opened in another generation belongs
# to the parent (its store connections too), and the child opens its own. Kept up to date by
# a fork hook rather than a getpid() system call on every request.
_fork_generation = 0


def _forked() -> None:
    global _fork_generation  # noqa: PLW0603 (one count per process)
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

CHECKED = "stockade.checked"
GUARD = "stockade.guard"
CLIENT = "stockade.client"
PROTECTION = "stockade.protection"
PATH = "stockade.path"


class ProcessGuard:
    """One guard and ladder per process, opened at first use; thread-safe, fork-aware."""

    def __init__(self, protection: Protection, clock: Clock) -> None:
        self.protection = protection
        self.clock = clock
        self._lock = threading.Lock()
        self._generation = -1  # the fork generation the ladder was opened in
        self._ladder: Ladder | None = None
        # This process's native ladder (None: the Python ladder decides every request), and
        # the blocklist it was built with (a reload assigns a new one: it is rebuilt).
        self.native: NativeLadder | None = None
        self.table: BlockTable | None = None
        self.blocklist: object = None
        self.catch_up: Callable[[], None] = _nothing

    def ladder(self) -> Ladder:
        ladder = self._ladder
        if ladder is not None and self._generation == _fork_generation:
            return ladder
        with self._lock:
            if self._ladder is None or self._generation != _fork_generation:
                self._ladder = self._open()
                self._generation = _fork_generation
            return self._ladder

    def guard(self) -> Guard:
        return self.ladder().guard

    def _open(self) -> Ladder:
        p = self.protection
        store = open_store(p.store_url, p.base)
        own = open_directory_stores(store, p.store_url, p.directory_store_urls, open_store)
        guard = Guard(p.settings, store, clock=self.clock, sinks=p.sinks(), directory_stores=own)
        gates = {d.path: BasicGate(d, self.clock) for d in p.directories}
        ladder = Ladder(guard, block=p.block, hosts=p.hosts, gates=gates)
        self.rebuild(ladder)
        return ladder

    def rebuild(self, ladder: Ladder) -> NativeLadder | None:
        """Build the native ladder of ``ladder`` (at opening, and when the blocklist was reloaded)."""
        from stockade.server.native_ladder import middleware_ladder, store_catch_up  # noqa: PLC0415

        p = self.protection
        self.table = p.block.table if p.block is not None else None
        self.blocklist = self.table.blocklist if self.table is not None else None
        self.native = middleware_ladder(ladder, p.resolver.canonicalizer(p.paths))
        # Other processes' bans reach the ban view when a request peeks through the store;
        # the native ladder reads the view directly, so each request catches up first.
        self.catch_up = store_catch_up(ladder.guard.bans.store)
        return self.native

    def close(self) -> None:
        with self._lock:
            ladder, self._ladder = self._ladder, None
            if ladder is not None and self._generation == _fork_generation:
                ladder.guard.close()


class StockadeWSGI:
    """WSGI middleware; arguments as :class:`stockade.adapters.asgi.StockadeMiddleware`."""

    def __init__(
        self,
        app: WSGIApp,
        config: str | Path | Config | None = None,
        *,
        logins: Sequence[Login | dict[str, Any] | str] = (),
        store: str | None = None,
        bans: BanSettings | bool | None = None,
        trusted: TrustedProxies | None = None,
        routes: RouteMatcher | None = None,
        clock: Clock | None = None,
        prepared: Protection | None = None,
    ) -> None:
        self.app = app
        self.protection = prepared or protection(config, logins=logins, store=store, bans=bans, trusted=trusted)
        self.clock: Clock = clock or SystemClock()
        self.routes = routes
        self.process = ProcessGuard(self.protection, self.clock)
        bans_settings = self.protection.settings.bans
        self._detects = routes is not None and bans_settings is not None and bans_settings.enabled
        self._observes = bans_settings is not None and bool(bans_settings.response_rules)
        # No Connection header: PEP 3333 leaves hop-by-hop headers to the server (wsgiref refuses them).
        closing = [("Content-Length", "0")]
        self._closing = WsgiRefusal(_status_line(self.protection.close_status), closing, b"")

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get(CHECKED):
            return self.app(environ, start_response)
        refusal = self.check(environ)
        if refusal is not None:
            start_response(refusal.status, refusal.headers)
            return [refusal.body]
        if self._observes:
            start_response = self._observed(environ[GUARD], environ, start_response)
        return self.app(environ, start_response)

    def check(self, environ: Environ) -> WsgiRefusal | None:
        """Run the checks on ``environ``: the answer that refuses it, or ``None`` to call the app.

        A passed request carries the guard, the client and the protection in the environ.
        """
        environ[CHECKED] = True
        process = self.process
        ladder = process.ladder()
        native = process.native
        if native is not None and type(environ) is dict:
            table = process.table
            if table is not None and table.blocklist is not process.blocklist:
                native = process.rebuild(ladder)
            # One native call: a clean pass or a banned client is decided there, the environ
            # made canonical; anything else (None) is the Python ladder's from the start.
            process.catch_up()
            answer = native.wsgi(environ) if native is not None else None
            if answer is not None:
                if len(answer) == 2:
                    environ[GUARD] = ladder.guard
                    environ[CLIENT], environ[PATH] = answer
                    environ[PROTECTION] = self.protection
                    return None
                status, headers, body = answer
                return _refusal(_Plain(status, body, headers), environ)
        try:
            request = self._incoming(environ)
        except BadRequest as exc:
            ladder.refused(exc)
            return _refusal(_BAD_REQUEST, environ)
        block = self.protection.block
        if block is not None and request.client and block.table.check_connection(request.client) == "close":
            return self._closing
        wanted = ladder.body_wanted(request) if ladder.reads_bodies and wsgi_has_body(environ) else 0
        if wanted:
            ahead = read_ahead_wsgi(environ, wanted)
            if ahead is not None:
                request.give_body(*ahead)
        verdict = ladder.decide(request)
        if verdict.action == "close":
            return self._closing
        if verdict.action == "refuse":
            return _refusal(verdict.response or _FORBIDDEN, environ)
        environ[GUARD] = ladder.guard
        environ[CLIENT] = request.client
        environ[PATH] = request.path
        environ[PROTECTION] = self.protection
        return None

    def _incoming(self, environ: Environ) -> Incoming:
        """The canonical request; the environ becomes what the app receives."""
        return from_wsgi(
            environ,
            policy=self.protection.paths,
            resolver=self.protection.resolver,
            clock=self.clock,
            routes=self.routes if self._detects else None,
        )

    def _observed(self, guard: Guard, environ: Environ, start_response: StartResponse) -> StartResponse:
        """``start_response``, noting the status for the response rules."""
        client, path = str(environ[CLIENT]), str(environ[PATH])

        def observing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            code = int(status.split(" ", 1)[0])
            guard.bans.observe_response(client, path, code)
            return start_response(status, headers, exc_info)

        return observing


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


@dataclass(frozen=True, slots=True)
class WsgiRefusal:
    """The answer of a refused request, WSGI-shaped: status line, header pairs, body."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])


def _refusal(response: ResponseLike, environ: Environ) -> WsgiRefusal:
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers]
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body
    return WsgiRefusal(_status_line(response.status), headers, body)


def _nothing() -> None:
    return None


class _Plain:
    def __init__(self, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = (
            tuple(headers)
            if headers is not None
            else ((b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()))
        )


_BAD_REQUEST = _Plain(400, b"Bad Request")
_FORBIDDEN = _Plain(403, b"Forbidden")
