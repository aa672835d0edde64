"""``stockade serve`` on the native front.

The request path runs in the native module (:class:`stockade._native.NativeFront`, Rust: a
tokio runtime of ``workers`` threads, its own HTTP/1.1 server, TLS, the PROXY protocol,
the connection blocklist, the reverse proxy with its keep-alive pool, static files and
the access log). This process keeps everything an operator touches: the configuration,
the stores, the admin API and the console, reloads, and the checks the native ladder
cannot finish.

The front asks this side for each request's decision through a narrow channel
(:class:`Bridge`): the front queues the request and wakes this event loop through a
descriptor, without the GIL; the decision is taken here (the canonical request and the
ladder, :class:`~stockade.server.app.StockadeApp`), and handed back. When detection inspects
the body, the first answer asks the front to read its first ``[bans] body_limit`` bytes,
and the request comes back with them to be decided.
The native ladder (:mod:`stockade.server.native_ladder`) decides first, in the front: a
request it passes is forwarded, and a banned client refused, without the GIL; only what it
cannot finish comes here, and is decided from the start.

The decision endpoint's listeners (``[decision]``) are the front's too: a proxy's check
request is read by the front (the original request it describes, in Rust) and decided by
the site's decision point (:meth:`Bridge._check`). So is the admin
API's listener: the front reads its requests (never checked against the blocklist or the
site's rules) and hands each to this event loop, where the admin API and the console
answer it (:meth:`Bridge._admin`); one process, one HTTP server, so metrics, status and
reloads are whole by construction.

Every swap of the site (SIGHUP, ``POST /reload``, the watcher of mod_block's files) is
pushed to the front (:func:`front_site`): the upstream, the limits, the document root
and the blocklist checked at accept. The front's counters are part of the admin API's
status and metrics.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from stockade import _native
from stockade.admin.http import MAX_BODY_BYTES
from stockade.clock import Clock, SystemClock
from stockade.decision.point import Answer
from stockade.engine.verdict import Verdict
from stockade.errors import BadRequest, ConfigError, ConfigIssue, ListenError, StoreError
from stockade.ipsets import network_set
from stockade.request.body import announced_body
from stockade.request.incoming import TlsFacts
from stockade.rules.decision import BlockDecision
from stockade.server import responses
from stockade.server.app import StockadeApp
from stockade.server.lifespan import Lifespan
from stockade.server.listener_checks import check_proxy_listener
from stockade.server.loop import new_event_loop
from stockade.server.native_ladder import ban_view_of, native_ladder
from stockade.server.settings import ConnectionFacts, Limits, ListenerSpec
from stockade.server.site import Site
from stockade.server.target import target_parts
from stockade.server.tls import check_tls

log = logging.getLogger("stockade.server.native")

Reload = Callable[[], Awaitable[object] | None]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_FILE_METHODS = frozenset({"GET", "HEAD"})
# How often the ban view catches up with other processes' changes while the native ladder reads it.
CATCH_UP_SECONDS = 0.01
_URL_SAFE = "/!$&'()*+,;=:@-._~"


@dataclass(frozen=True, slots=True)
class NativeListener:
    """A listener of the native front: its options (with the real port) and its bound socket."""

    spec: ListenerSpec
    socket: _native.BoundSocket

    @property
    def url(self) -> str:
        address = self.spec.address
        host = address.host
        if address.wildcard:
            host = "::1" if ":" in host else "127.0.0.1"
        scheme = "https" if self.spec.tls is not None else "http"
        return f"{scheme}://[{host}]:{address.port}" if ":" in host else f"{scheme}://{host}:{address.port}"


def bind_native(specs: Sequence[ListenerSpec]) -> list[NativeListener]:
    """Check every TLS certificate and PROXY listener, then bind every address (none stays bound on error).

    Raises ``ConfigError``, :class:`~stockade.server.tls.TlsSetupError` or :class:`ListenError`.
    """
    for spec in specs:
        check_proxy_listener(spec)
        if spec.tls is not None:
            check_tls(spec.tls)
    bound: list[NativeListener] = []
    try:
        for spec in specs:
            try:
                sock = _native.bind_socket(spec.address.host, spec.address.port)
            except OSError as exc:
                raise ListenError(str(spec.address), OSError(exc.args[0], _strerror(exc))) from None
            address = spec.address.with_port(sock.port)
            bound.append(NativeListener(replace(spec, address=address), sock))
    except BaseException:
        for listener in bound:
            listener.socket.close()
        raise
    return bound


def _strerror(exc: OSError) -> str:
    import os  # noqa: PLC0415 - only for a failed bind

    return os.strerror(exc.args[0]) if exc.args and isinstance(exc.args[0], int) and exc.args[0] else str(exc)


def listener_options(listener: NativeListener) -> _native.ListenerOptions:
    spec = listener.spec
    tls = None
    if spec.tls is not None:
        ca = str(spec.tls.client_ca) if spec.tls.client_ca is not None else None
        tls = (str(spec.tls.certfile), str(spec.tls.keyfile), ca, spec.tls.client_auth)
    proxy_from = network_set(spec.proxy_protocol_from) if spec.proxy_protocol != "off" else None
    return _native.ListenerOptions(
        str(spec.address),
        tls=tls,
        proxy_protocol=spec.proxy_protocol,
        proxy_from=proxy_from,
        decision=spec.decision,
        admin=spec.admin,
        http2=spec.tls is not None and spec.tls.http2,
    )


def _upstream_tuple(url: str, connect: float, read: float, idle: int) -> tuple[str, int, bytes, float, float, int]:
    parts = urlsplit(url)
    try:
        port = parts.port or 80
    except ValueError:
        port = -1
    if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment or port < 0:
        issue = ConfigIssue("server.upstream", "expected http://host:port or http://host:port/base/path", url, True)
        raise ConfigError(None, [issue])
    return (parts.hostname, port, parts.path.rstrip("/").encode("ascii"), connect, read, idle)


def front_site(site: Site, limits: Limits, *, access_log: bool) -> _native.FrontSite:
    """What the native front reads from a site: limits, upstream, document root, blocklist."""
    config = site.config
    upstreams = []
    if config.upstream is not None:
        up = config.upstream
        upstreams.append(_upstream_tuple(up.url, up.connect_timeout, up.read_timeout, up.max_idle_connections))
    blocklist = None
    if site.block is not None:
        blocklist = site.block.table.blocklist
    return _native.FrontSite(
        limits=(
            limits.max_header_bytes,
            limits.max_body_bytes,
            limits.header_timeout,
            limits.body_timeout,
            limits.keepalive_timeout,
            limits.drain_timeout,
        ),
        upstreams=upstreams,
        document_root=str(config.document_root) if config.document_root is not None else None,
        blocklist=blocklist,
        access_log=access_log,
    )


class Bridge:
    """The native front's request filter: the Python ladder, on this event loop.

    The front queues each request and wakes the loop through a descriptor (its threads
    never take the GIL); :meth:`attach` watches it, and each wake-up takes every queued
    request at once and decides each in a task of its own.
    """

    def __init__(self, app: StockadeApp, loop: asyncio.AbstractEventLoop, listeners: Sequence[ListenerSpec]) -> None:
        self.app = app
        self.loop = loop
        self.listeners = tuple(listeners)
        self.front: _native.NativeFront | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.decided: Callable[[], None] | None = None  # told once each request of the site is observed

    def attach(self, front: _native.NativeFront) -> None:
        self.front = front
        self.loop.add_reader(front.inbox_fd(), self._take)

    def detach(self) -> None:
        if self.front is not None:
            self.loop.remove_reader(self.front.inbox_fd())

    def _take(self) -> None:
        front = self.front
        if front is None:
            return
        for request in front.take_requests():
            task = self.loop.create_task(self._decide(request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _decide(self, request: _native.Request) -> None:
        try:
            await self._ladder(request)
        except Exception:  # the "never a 500" promise: isolate bugs, log them, answer 500
            log.exception("internal error deciding %s %r", request.method, request.target)
            self.app.metrics.count_request("error")
            _answer(request, responses.internal_error(), head=request.method == "HEAD")

    def _observed(self) -> None:
        if self.decided is not None:
            self.decided()

    def _scope(self, request: _native.Request) -> dict[str, Any]:
        raw_path, query, authority = target_parts(request.target)
        headers = request.headers
        if authority is not None:
            headers = [(b"host", authority), *((n, v) for n, v in headers if n != b"host")]
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = unquote(path)
        source = request.source
        return {
            "type": "http",
            "http_version": request.http_version,
            "server": request.local,
            "client": source if source is not None else request.peer,
            "scheme": request.scheme,
            "method": request.method,
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": headers,
        }

    async def _ladder(self, request: _native.Request) -> None:
        app = self.app
        head = request.method == "HEAD"
        try:
            site = app.site or await app.startup()
        except StoreError:
            _answer(request, responses.unavailable(), head=head)
            return
        listener = self.listeners[request.listener]
        if listener.decision:
            await self._check(request, site)
            return
        scope = self._scope(request)
        facts = self._facts(request)
        if listener.admin:
            await self._admin(request, scope, facts)
            return
        try:
            incoming = app.canonical(scope, site, facts)
        except BadRequest as exc:
            self._observed()
            app.metrics.count_request("refused")
            await site.ladder.refused(exc)
            _answer(request, responses.bad_request(str(exc)), head=head)
            return
        # Before the answer goes: the next request of the client may already find the
        # native ladder in force once the forwarding warnings have seen this one.
        self._observed()
        body = request.body
        if body is not None:
            incoming.give_body(body, request.uninspected)
        elif site.ladder.reads_bodies:
            has_body, _ = announced_body(scope["headers"], request.http_version)
            wanted = site.ladder.body_wanted(incoming) if has_body else 0
            if wanted:
                # Detection reads the body's first bytes before the checks decide: the front
                # reads them and hands the request back with them (the upstream then gets
                # them and the rest, unchanged).
                request.read_body(wanted)
                return
        verdict = await site.ladder.decide(incoming)
        app.metrics.observe_verdict(verdict)
        if verdict.action != "pass":
            self._refuse(request, verdict, head=head)
            return
        app.metrics.count_request("allowed")
        observe = (
            self._observer(site, incoming.client, incoming.path) if site.guard.bans.settings.response_rules else None
        )
        target = site.target(incoming.path)
        if target == "upstream" and site.config.upstream is not None:
            decided = incoming.decided
            query: bytes = scope["query_string"]
            raw: bytes = scope["raw_path"]
            request.forward(
                target=raw + b"?" + query if query else raw,
                headers=scope["headers"],
                peer=decided.peer if decided is not None else incoming.client,
                trusted=decided is not None and decided.trusted,
                real_ip=incoming.client or None,
                observe=observe,
            )
            return
        if request.method not in _FILE_METHODS:
            _answer(request, responses.method_not_allowed(), head=head)
            return
        request.files(incoming.path, observe=observe)

    def _facts(self, request: _native.Request) -> ConnectionFacts:
        tls = request.tls
        return ConnectionFacts(
            peer=request.peer,
            local=request.local,
            listener=self.listeners[request.listener],
            source=request.source,
            tls=TlsFacts(sni=tls[0], version=tls[1], client_auth=tls[2], client_ca=tls[3]) if tls else None,
        )

    async def _admin(self, request: _native.Request, scope: dict[str, Any], facts: ConnectionFacts) -> None:
        """A request on the admin API's listener: the admin API and the console answer it
        through the application, with its body read whole first (one byte past the API's
        limit at most, so that the API itself answers 413)."""
        body = request.body
        if body is None and announced_body(scope["headers"], request.http_version)[0]:
            request.read_body(MAX_BODY_BYTES + 1)
            return
        scope["extensions"] = {"stockade": facts}
        exchange = _Exchange(body or b"")
        await self.app(scope, exchange.receive, exchange.send)
        answer = b"".join(exchange.body)
        headers = exchange.headers
        if request.method != "HEAD":
            headers = [(n, v) for n, v in headers if n.lower() != b"content-length"]
            headers.append((b"content-length", str(len(answer)).encode()))
        request.answer(exchange.status, headers, answer)

    async def _check(self, request: _native.Request, site: Site) -> None:
        """A proxy's check request on the decision listener (:mod:`stockade.decision`).

        The front reads the check request (its style and the original request, in Rust); the
        decision point checks the caller and decides on the original request as on a
        proxied one: its canonical form, then the ladder.
        Detection may read the check request's body (Envoy's ``with_request_body``): the
        front then reads it and hands the request back with it, and it is prepared again.
        """
        app = self.app
        head = request.method == "HEAD"
        point = site.decision
        if point is None:  # a reload removed [decision]: its listener stays until a restart
            _answer(request, responses.not_found(), head=head)
            return
        headers = request.headers
        prepared = await point.prepare(request.peer[0], request.method, request.target, headers, request.original)
        if isinstance(prepared, Answer):
            answer = prepared
        else:
            body = request.body
            if body is not None:
                prepared.request.give_body(body, request.uninspected)
            elif announced_body(headers, request.http_version)[0]:
                wanted = point.body_wanted(prepared)
                if wanted:
                    request.read_body(wanted)
                    return
            answer = await point.conclude(prepared)
        if answer.verdict is not None:
            app.metrics.observe_verdict(answer.verdict)
        app.metrics.count_decision(answer.outcome)
        request.answer(answer.status, list(answer.headers), answer.body)

    def _refuse(self, request: _native.Request, verdict: Verdict, *, head: bool) -> None:
        app = self.app
        if verdict.action == "close":
            app.metrics.count_request("closed")
            request.close()  # BFE's CLOSE: no response at all
            return
        app.metrics.count_request({"ban": "banned", "lockout": "challenged"}.get(verdict.stage, "refused"))
        answer = verdict.response
        if answer is None:
            request.close()
            return
        _answer(request, responses.Response(answer.status, tuple(answer.headers), answer.body), head=head)

    def _observer(self, site: Site, client: str, path: str) -> Callable[[int], None]:
        """The response filter: the status goes to the response rules on this loop."""

        def observe(status: int) -> None:
            self.loop.call_soon_threadsafe(self._observe, site, client, path, status)

        return observe

    def _observe(self, site: Site, client: str, path: str, status: int) -> None:
        task = self.loop.create_task(site.guard.bans.observe_response(client, path, status))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Exchange:
    """One buffered ASGI exchange: the request body given at once, the response collected."""

    __slots__ = ("body", "headers", "request_body", "status")

    def __init__(self, request_body: bytes) -> None:
        self.request_body: bytes | None = request_body
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        body, self.request_body = self.request_body, None
        if body is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(self, message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            # The whole body is known: it goes with its length, never chunked.
            self.headers = [
                (bytes(name), bytes(value))
                for name, value in message.get("headers", ())
                if bytes(name).lower() != b"transfer-encoding"
            ]
        elif message["type"] == "http.response.body":
            self.body.append(bytes(message.get("body", b"")))


def _answer(request: _native.Request, response: responses.Response, *, head: bool) -> None:
    request.answer(response.status, [(bytes(n), bytes(v)) for n, v in response.headers], response.body)


class NativeServer:
    """Serves one :class:`StockadeApp` on the native front, the admin API's listener included.

    What the runners use: :meth:`serve`, :meth:`request_exit`, ``started``, signal
    handlers, :meth:`reload_now`.
    """

    def __init__(
        self,
        app: StockadeApp,
        listeners: Sequence[NativeListener],
        *,
        limits: Limits,
        workers: int = 1,
        reload: Reload | None = None,
        access_log: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.app = app
        self.listeners = tuple(listeners)
        self.limits = limits
        self.workers = workers
        self.reload = reload
        self.access_log = access_log
        self.clock = clock or SystemClock()
        self.started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.front: _native.NativeFront | None = None
        self._exit: asyncio.Event | None = None
        self._exit_requested = False
        self._reloads: set[asyncio.Task[None]] = set()
        self._pushed: tuple[int, int] = (0, 0)
        self._refused: dict[str, int] = {}
        self._decided = (0, 0)  # the native ladder's (allowed, banned) already counted
        self._checked = (0, 0)  # and its check requests' (allowed, banned)
        # The mod_block tables of the latest native ladders: the rules that matched requests
        # the front decided wait there to be named in the metrics (an older table may still
        # get a few from requests in flight when its site was replaced).
        self._hit_tables: list[_native.BlockTable] = []
        self._native_site: Site | None = None  # the site the native ladder decides for
        self._waiting: tuple[Site, _native.NativeLadder] | None = None  # a ladder waiting for the warnings

    async def serve(self) -> None:
        loop = self.loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        if self._exit_requested:
            self._exit.set()
        lifespan = Lifespan(self.app)
        await lifespan.startup()
        site = self.app.site
        if site is None:
            await lifespan.shutdown()
            raise RuntimeError("the application did not build its site")
        bridge = Bridge(self.app, loop, [listener.spec for listener in self.listeners])
        self.front = _native.NativeFront.start(
            workers=self.workers,
            listeners=[(listener.socket, listener_options(listener)) for listener in self.listeners],
            site=front_site(site, self.limits, access_log=self.access_log is not None),
            python_filter=True,
            access_log=self.access_log,
        )
        bridge.attach(self.front)
        bridge.decided = self._ladder_pending
        self._pushed = self._key(site)
        self._set_ladder(site)
        self.app.front_stats = self.front.stats
        self.app.front_sync = self._sync_counters
        self.app.on_swap.append(self._push)
        ticker = loop.create_task(self._tick())
        catching_up = loop.create_task(self._catch_up())
        try:
            self.started.set()
            await self._exit.wait()
        finally:
            left = await asyncio.to_thread(self.front.drain, self.limits.drain_timeout)
            if left:
                log.warning("%d connections still busy after %.0f s: closing them", left, self.limits.drain_timeout)
            # The front's last messages and counters are read before it stops: a stopped
            # front has none to give (a warning of the last second would be lost).
            self._log_messages()
            self._sync_counters()
            await asyncio.to_thread(self.front.stop)
            bridge.detach()
            ticker.cancel()
            catching_up.cancel()
            await lifespan.shutdown()

    def _sync_counters(self) -> None:
        """The front's PROXY refusals into their metric, and the requests the native ladder
        decided into the request counts."""
        if self.front is None:
            return
        allowed, banned, _ = self.front.ladder_counts()
        seen_allowed, seen_banned = self._decided
        metrics = self.app.metrics
        if allowed > seen_allowed:
            metrics.count_request("allowed", allowed - seen_allowed)
        if banned > seen_banned:
            metrics.count_request("banned", banned - seen_banned)
            metrics.reasons.add("refused|ban", banned - seen_banned)
        self._decided = (allowed, banned)
        checks = self.front.check_counts()
        for outcome, count, seen in zip(("allowed", "banned"), checks, self._checked, strict=True):
            if count > seen:
                metrics.count_decision(outcome, count - seen)
                if outcome == "banned":
                    metrics.reasons.add("refused|ban", count - seen)
        self._checked = checks
        for table in self._hit_tables:
            for decision, closed in table.take_hits():
                if not isinstance(decision, BlockDecision) or decision.rule is None:
                    continue
                rule = decision.rule
                metrics.block_rule_hits.add(rule)
                metrics.reasons.add(f"{'closed' if closed else 'allowed'}|mod_block:{rule}")
                if closed:
                    metrics.count_request("closed")
        for name, count in self.front.proxy_refusals():
            seen = self._refused.get(name, 0)
            if count > seen:
                self.app.metrics.proxy_refused.labels(name).inc(count - seen)
                self._refused[name] = count

    @staticmethod
    def _key(site: Site) -> tuple[int, int]:
        blocklist = site.block.table.blocklist if site.block is not None else None
        return (id(site), id(blocklist))

    def _push(self, site: Site) -> None:
        """A swapped site (or blocklist) goes to the front at once."""
        if self.front is None or self._key(site) == self._pushed:
            return
        self.front.reload(front_site(site, self.limits, access_log=self.access_log is not None))
        self._pushed = self._key(site)
        self._set_ladder(site)

    def _set_ladder(self, site: Site) -> None:
        """The native ladder of the site in force, or none (see :mod:`stockade.server.native_ladder`).

        While the forwarding warnings still watch whether every request comes from one
        proxy, each request must reach them: the ladder waits (every request of the site
        goes to the Python side; only check requests are decided natively) until the first
        request that settles it.
        """
        if self.front is None:
            return
        if site.block is not None and site.block.table.native not in self._hit_tables:
            self._hit_tables = [*self._hit_tables[-3:], site.block.table.native]
        ladder = native_ladder(site)
        if ladder is not None and self.app.warnings.watching_peer:
            # Check requests are not the site's own: the warnings do not watch them.
            checks = native_ladder(site, routed=False)
            self.front.set_ladder(checks)
            self._waiting = (site, ladder)
            self._native_site = site if checks is not None else None  # its ban view catches up
            return
        self._waiting = None
        self.front.set_ladder(ladder)
        self._native_site = site if ladder is not None else None

    def _ladder_pending(self) -> None:
        """After each request the Python side decided: put a waiting ladder in force once it may."""
        waiting = self._waiting
        if waiting is None or self.front is None or self.app.warnings.watching_peer:
            return
        site, ladder = waiting
        self._waiting = None
        if self.app.site is site:
            self.front.set_ladder(ladder)
            self._native_site = site

    async def _catch_up(self) -> None:
        """Other processes' bans reach the ban view while the native ladder reads it.

        The SQLite store learns of them when a request peeks through it; requests the
        native ladder decides do not, so this does it every few milliseconds.
        """
        while True:
            await asyncio.sleep(CATCH_UP_SECONDS)
            site = self._native_site
            if site is None:
                continue
            store = getattr(site.guard.bans.store, "sync", site.guard.bans.store)
            if ban_view_of(store) is not None and hasattr(store, "catch_up"):
                try:
                    store.catch_up()
                except Exception:  # a store fault must not end the catching up
                    log.exception("catching up with the store's changes failed")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._log_messages()
            self._sync_counters()
            site = self.app.site
            if site is not None:
                self._push(site)

    def _log_messages(self) -> None:
        if self.front is None:
            return
        for level, message in self.front.messages():
            log.log(level, "%s", message)

    def request_exit(self) -> None:
        self._exit_requested = True
        if self._exit is not None:
            self._exit.set()

    def request_exit_threadsafe(self) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            self._exit_requested = True
            return
        try:
            loop.call_soon_threadsafe(self.request_exit)
        except RuntimeError:
            self._exit_requested = True

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.request_exit)
        loop.add_signal_handler(signal.SIGHUP, self.reload_now)

    def remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (*STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    def reload_now(self) -> None:
        """Call ``reload``; an awaitable result runs as a task. Errors are logged, never raised."""
        if self.reload is None:
            log.info("SIGHUP: nothing to reload")
            return
        try:
            result = self.reload()
        except Exception:  # reloading must never stop the serving
            log.exception("reload failed; serving on with the previous state")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_reload(result))
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def _await_reload(self, result: Awaitable[object]) -> None:
        try:
            await result
        except Exception:  # reloading must never stop the serving
            log.exception("reload failed; serving on with the previous state")


def run_native(server: NativeServer) -> None:
    """Serve until SIGTERM or SIGINT (main thread); SIGHUP reloads."""

    async def main() -> None:
        server.install_signal_handlers()
        try:
            await server.serve()
        finally:
            server.remove_signal_handlers()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())
