"""The admin HTTP API: a plain ASGI 3 application over an :class:`~stockade.engine.AsyncGuard`.

It runs on a listener of its own (loopback by default) under any ASGI server and covers the
users of the protected directories (list, block, unblock), IP bans (status, list, ban,
unban), the store status, Prometheus metrics and reload. Every route but ``GET /health``
and ``GET /openapi.json`` needs ``Authorization: Bearer <token>``; the token is compared in
constant time and never kept in clear. Answers are JSON; errors are ``{"error": kind,
"message": text}`` with 400, 401, 404, 405, 409 or 413, and 503 while the store fails. Each
mutating call (block, unblock, ban, unban, reload) is written to the audit log with who
made it, what it asked and how it ended.

Metrics, status and reload are about the whole server, not the process that happens to
answer: they go through a :class:`ServerControl` (the protecting server gives one that
answers for its one process). A failed reload is 409 ``{"error": "reload_failed", "message":
..., "errors": [one line per error, file:line:column where known]}``, nothing changed.

Other applications can be mounted under a path prefix (:meth:`AdminApp.mount`; the
console at ``/ui``): they answer on the same listener and do their own authentication, and
run the API's routes in process with :meth:`AdminApp.call`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from stockade.admin.http import (
    JSON_TYPE,
    ApiError,
    BearerToken,
    Disconnected,
    Receive,
    Scope,
    Send,
    bad_argument,
    dump_json,
    header_list,
    parse_json_object,
    parse_query,
    port,
    read_body,
    seconds,
    send_json,
    send_response,
    text,
)
from stockade.admin.openapi import openapi
from stockade.core.directories import normalize_directory
from stockade.errors import (
    InvalidArgument,
    InvalidIpAddress,
    NoSuchDirectory,
    NotBanned,
    NotBlocked,
    ReloadFailed,
    StockadeError,
    StoreError,
    problems,
)
from stockade.stores.records import ANY, AddressFilter, PortFilter
from stockade.stores.redis import redact

if TYPE_CHECKING:
    from stockade.engine import AsyncGuard
    from stockade.engine.audit import AuditLog
    from stockade.metrics import Metrics
    from stockade.server.settings import AdminSettings

Reload = Callable[[], Awaitable[dict[str, Any]]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Handler = Callable[["Request"], Awaitable[tuple[int, object]]]

# The token has no name of its own; the audit log calls its holder this.
ADMIN = "admin"


@dataclass(slots=True)
class Request:
    scope: Scope
    receive: Receive
    args: dict[str, object] = field(default_factory=dict)  # the JSON body, for the audit log

    @property
    def query(self) -> bytes:
        return bytes(self.scope.get("query_string") or b"")

    async def json(self) -> dict[str, object]:
        self.args = parse_json_object(await read_body(self.receive))
        return self.args


@dataclass(frozen=True, slots=True)
class Raw:
    """A body that is not JSON, or is JSON already."""

    body: bytes
    content_type: bytes


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    auth: bool = True
    audit: str | None = None  # the action name in the audit log, for mutating routes


class ServerControl(Protocol):
    """The server the API administers, as a whole: what ``/metrics``, ``/status`` and ``/reload`` ask."""

    async def metrics(self) -> bytes:
        """The Prometheus text of the whole server."""
        ...

    async def status(self) -> dict[str, Any]:
        """Fields added to ``GET /status``: ``mod_block`` (counters or ``None``), and ``workers``."""
        ...

    async def reload(self) -> dict[str, Any]:
        """Reload, or raise :class:`~stockade.errors.ReloadFailed` (any other error counts as one too)."""
        ...


class _OneProcess:
    """A :class:`ServerControl` of this process alone, from its parts."""

    def __init__(
        self,
        guard: AsyncGuard,
        metrics: Metrics,
        reload: Reload | None,
        counters: Callable[[], Mapping[str, int]] | None,
    ) -> None:
        self.guard = guard
        self._metrics = metrics
        self._reload = reload
        self._counters = counters

    async def metrics(self) -> bytes:
        return await self._metrics.scrape(self.guard)

    async def status(self) -> dict[str, Any]:
        return {"mod_block": dict(self._counters()) if self._counters is not None else None}

    async def reload(self) -> dict[str, Any]:
        if self._reload is None:
            raise ApiError(501, "not_implemented", "this server cannot reload its configuration")
        return await self._reload()


class AdminApp:
    """``AdminApp(guard, settings, metrics=..., audit=..., server=...)``, an ASGI 3 app.

    ``server`` answers for the whole server (metrics, status, reload); without it, this
    process answers alone from ``metrics``, ``reload`` (none: 501) and ``counters`` (the
    mod_block counters for ``GET /status``). ``audit`` may be a function giving the audit
    log in force: a reload replaces the log the API was built with (and closes it) while
    the reload's own call is still to be written.
    """

    def __init__(
        self,
        guard: AsyncGuard,
        settings: AdminSettings,
        *,
        metrics: Metrics,
        reload: Reload | None = None,
        audit: AuditLog | Callable[[], AuditLog | None] | None = None,
        counters: Callable[[], Mapping[str, int]] | None = None,
        server: ServerControl | None = None,
    ) -> None:
        self.guard = guard
        self.metrics = metrics
        self.audit = audit
        self.server: ServerControl = server or _OneProcess(guard, metrics, reload, counters)
        self.can_reload = server is not None or reload is not None
        self._token = BearerToken(settings.token)
        directories = sorted(normalize_directory(d.path) for d in guard.settings.directories)
        self._description = Raw(dump_json(openapi(tuple(directories))), JSON_TYPE)
        self.mounts: dict[str, ASGIApp] = {}
        self.routes: dict[str, dict[str, Route]] = {
            "/health": {"GET": Route(self._health, auth=False)},
            "/openapi.json": {"GET": Route(self._openapi_json, auth=False)},
            "/metrics": {"GET": Route(self._metrics)},
            "/status": {"GET": Route(self._status)},
            "/users/blocked": {"GET": Route(self._blocked)},
            "/users/auth": {"GET": Route(self._auth)},
            "/users/block": {"POST": Route(self._block, audit="block_user")},
            "/users/unblock": {"POST": Route(self._unblock, audit="unblock_user")},
            "/ips/status": {"GET": Route(self._ip_status)},
            "/ips/banned": {"GET": Route(self._banned)},
            "/ips/warning": {"GET": Route(self._warning)},
            "/ips/block": {"POST": Route(self._ban, audit="block_ip")},
            "/ips/unblock": {"POST": Route(self._unban, audit="unblock_ip")},
            "/reload": {"POST": Route(self._reload, audit="reload")},
        }

    def __repr__(self) -> str:
        return f"<AdminApp over {self.guard!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        for prefix, mounted in self.mounts.items():
            if scope["path"] == prefix or scope["path"].startswith(prefix + "/"):
                await mounted(scope, receive, send)
                return
        methods = self.routes.get(scope["path"])
        route = methods.get(scope["method"]) if methods else None
        try:
            if route is None or route.auth:
                self._token.check(header_list(scope))
            if methods is None:
                raise ApiError(404, "not_found", f"no such endpoint: {scope['path']}")
            if route is None:
                allowed = ", ".join(sorted(methods))
                raise ApiError(405, "method_not_allowed", f"use {allowed}", [(b"allow", allowed.encode())])
        except ApiError as error:
            await send_json(send, error.status, error.body(), error.headers)
            return
        await self._answer(route, Request(scope, receive), send)

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Answer every path under ``prefix`` (``/ui``) with ``app``, which authenticates by itself."""
        self.mounts[prefix.rstrip("/")] = app

    def audit_log(self) -> AuditLog | None:
        """The audit log in force (a reload may have replaced the one the API was built with)."""
        return self.audit() if callable(self.audit) else self.audit

    async def mod_block_counters(self) -> dict[str, int]:
        """mod_block's counters of the whole server (empty without mod_block)."""
        found = (await self.server.status()).get("mod_block")
        return dict(found) if isinstance(found, Mapping) else {}

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, by: str = ADMIN
    ) -> tuple[int, object]:
        """Run one route in process for a caller already authenticated as ``by``, audited as the API's calls are.

        Returns the status and the body the API would answer (``{"error": ..., "message": ...}``
        for an error).
        """
        route = self.routes[path][method]
        payload = dump_json(dict(body or {}))

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": payload, "more_body": False}

        scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}
        request = Request(scope, receive)
        try:
            status, result = await route.handler(request)
        except ApiError as error:
            status, result = error.status, error.body()
        audit = self.audit_log()
        if route.audit is not None and audit is not None:
            audit.admin_call(self.guard.clock.now(), by, route.audit, request.args, status)
        return status, result

    async def _answer(self, route: Route, request: Request, send: Send) -> None:
        try:
            status, body = await route.handler(request)
        except Disconnected:
            return
        except ApiError as error:
            status, body, headers = error.status, error.body(), error.headers
        else:
            headers = ()
        audit = self.audit_log()
        if route.audit is not None and audit is not None:
            audit.admin_call(self.guard.clock.now(), ADMIN, route.audit, request.args, status)
        if isinstance(body, Raw):
            await send_response(send, status, body.body, content_type=body.content_type)
        else:
            await send_json(send, status, body, headers)

    # -- the routes ------------------------------------------------------------------------

    async def _health(self, request: Request) -> tuple[int, object]:
        return 200, {"status": "ok"}

    async def _openapi_json(self, request: Request) -> tuple[int, object]:
        return 200, self._description

    async def _metrics(self, request: Request) -> tuple[int, object]:
        with _unavailable():
            text = await self.server.metrics()
        return 200, Raw(text, self.metrics.content_type.encode())

    async def _status(self, request: Request) -> tuple[int, object]:
        parse_query(request.query, ())
        with _translated():
            status = await self.guard.store_status()
        view = None
        if status.view_trusted is not None:
            view = {"trusted": status.view_trusted, "lag": status.view_lag, "entries": status.view_entries}
        store = {
            "url": redact(status.url),
            "latency": status.latency,
            "pending_writes": status.pending_writes,
            "errors": status.errors,
        }
        with _unavailable():
            server = await self.server.status()
        return 200, {
            "store": store,
            "view": view,
            "directories": sorted(normalize_directory(d.path) for d in self.guard.settings.directories),
            **server,
        }

    async def _blocked(self, request: Request) -> tuple[int, object]:
        directory, address, port_ = _listing_filters(parse_query(request.query, ("dir", "address", "port")))
        with _translated():
            users = await self.guard.list_blocked_users(directory, address=address, port=port_)
        return 200, {"users": [user.as_dict() for user in users]}

    async def _auth(self, request: Request) -> tuple[int, object]:
        directory, address, port_ = _listing_filters(parse_query(request.query, ("dir", "address", "port")))
        with _translated():
            users = await self.guard.list_auth_users(directory, address=address, port=port_)
        return 200, {"users": [user.as_dict() for user in users]}

    async def _block(self, request: Request) -> tuple[int, object]:
        body = await request.json()
        _only(body, ("user", "dir", "seconds", "address", "port"))
        user = _required_text(body, "user")
        directory = _required_text(body, "dir")
        duration = None if body.get("seconds") is None else seconds(body["seconds"])
        address, port_ = _listener_filters(body)
        with _translated():
            blocked = await self.guard.block_user(user, directory, duration, address=address, port=port_)
        return 200, {"blocked": [entry.as_dict() for entry in blocked]}

    async def _unblock(self, request: Request) -> tuple[int, object]:
        body = await request.json()
        _only(body, ("user", "dir", "address", "port"))
        user = _required_text(body, "user")
        directory = text("dir", body.get("dir"), optional=True)
        address, port_ = _listener_filters(body)
        with _translated():
            removed = await self.guard.unblock_user(user, directory, address=address, port=port_)
        return 200, {"unblocked": [entry.as_dict() for entry in removed]}

    async def _ip_status(self, request: Request) -> tuple[int, object]:
        params = parse_query(request.query, ("ip",))
        if "ip" not in params:
            raise ApiError(400, "invalid_argument", "missing query parameter 'ip'")
        ip = text("ip", params["ip"])
        with _translated():
            status = await self.guard.ip_address_status(ip)
        return 200, {"ip": ip, "verdict": status.verdict, "count": status.count, "seconds_left": status.seconds_left}

    async def _banned(self, request: Request) -> tuple[int, object]:
        parse_query(request.query, ())
        with _translated():
            banned = await self.guard.list_banned_ips()
        return 200, {"bans": [entry.as_dict() for entry in banned]}

    async def _warning(self, request: Request) -> tuple[int, object]:
        parse_query(request.query, ())
        with _translated():
            warned = await self.guard.list_warning_ips()
        return 200, {"warning": [entry.as_dict() for entry in warned]}

    async def _ban(self, request: Request) -> tuple[int, object]:
        body = await request.json()
        _only(body, ("ip", "seconds", "force"))
        ip = _required_text(body, "ip")
        duration = None if body.get("seconds") is None else seconds(body["seconds"])
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise bad_argument("force", force, "true or false")
        with _translated():
            banned = await self.guard.block_ip_address(ip, duration, force=force)
        return 200, {"banned": banned.as_dict()}

    async def _unban(self, request: Request) -> tuple[int, object]:
        body = await request.json()
        _only(body, ("ip",))
        ip = _required_text(body, "ip")
        with _translated():
            removed = await self.guard.unblock_ip_address(ip)
        return 200, {"unbanned": removed.as_dict()}

    async def _reload(self, request: Request) -> tuple[int, object]:
        await request.json()
        try:
            result = await self.server.reload()
        except ReloadFailed as exc:
            raise _reload_failed(exc) from None
        except (StockadeError, OSError) as exc:
            raise _reload_failed(ReloadFailed(problems(exc))) from None
        return 200, result


def _reload_failed(exc: ReloadFailed) -> ApiError:
    details: dict[str, object] = {"errors": list(exc.errors)}
    if exc.details:
        details["workers"] = list(exc.details)
    return ApiError(409, "reload_failed", str(exc), details=details)


@contextmanager
def _unavailable() -> Iterator[None]:
    """The workers did not answer in time (or the store failed while they did): 503."""
    try:
        yield
    except StoreError:
        raise ApiError(503, "store_error", "the store failed; try again") from None
    except StockadeError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None


@contextmanager
def _translated() -> Iterator[None]:
    """Turn the guard's errors into API answers."""
    try:
        yield
    except NotBlocked as exc:
        raise ApiError(404, "not_blocked", str(exc).partition(": ")[2]) from None
    except NoSuchDirectory as exc:
        raise ApiError(404, "no_such_directory", str(exc).partition(": ")[2]) from None
    except NotBanned as exc:
        raise ApiError(404, "not_banned", str(exc).partition(": ")[2]) from None
    except InvalidIpAddress as exc:
        raise ApiError(400, "invalid_ip_address", str(exc).partition(": ")[2]) from None
    except InvalidArgument as exc:
        raise ApiError(400, "invalid_argument", str(exc)) from None
    except StoreError:
        raise ApiError(503, "store_error", "the store failed; try again") from None


def _only(body: Mapping[str, object], fields: tuple[str, ...]) -> None:
    for name in body:
        if name not in fields:
            raise bad_argument("field", name, ", ".join(fields))


def _required_text(body: Mapping[str, object], name: str) -> str:
    if name not in body:
        raise ApiError(400, "invalid_argument", f"missing field {name!r}")
    value = text(name, body[name])
    if not value:
        raise bad_argument(name, value, "a non-empty string")
    return value


def _address(value: object) -> AddressFilter:
    """A listener address filter: ``*`` is the listener bound to every address."""
    address = text("address", value)
    return None if address == "*" else address


def _listing_filters(params: Mapping[str, str]) -> tuple[str | None, AddressFilter, PortFilter]:
    for name, value in params.items():
        if not value:
            raise bad_argument(name, value, "a value (leave the parameter out for all)")
    address: AddressFilter = _address(params["address"]) if "address" in params else ANY
    port_: PortFilter = port(params["port"]) if "port" in params else ANY
    return text("dir", params.get("dir"), optional=True), address, port_


def _listener_filters(body: Mapping[str, object]) -> tuple[AddressFilter, PortFilter]:
    address: AddressFilter = _address(body["address"]) if body.get("address") is not None else ANY
    port_: PortFilter = port(body["port"]) if body.get("port") is not None else ANY
    return address, port_


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
