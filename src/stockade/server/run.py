"""``stockade serve``: bind the listen sockets, then serve.

On the native engine (the default, :mod:`stockade.server.native`) the front serves on
``workers`` threads of this process. On the Python engine (``[server] engine = "python"``)
the parent binds every socket itself (so ``:0`` and the lockout listeners agree on the
real port) and loads every TLS certificate before anything is served. With one worker it
serves in this process; with several it forks them (see
:mod:`stockade.server.http.workers`), and each builds its own :class:`StockadeApp`, so
each opens its own store connection. The supervisor combines the workers' answers for the
admin API with a :class:`~stockade.server.cluster.ClusterHub`.

The hooks take the worker's app, because each worker has its own: ``connection_check(app)``
returns the check run on every connection before a byte is read, ``reload(app)`` runs on
SIGHUP (a coroutine is awaited), ``access_log`` is a path (``"-"`` for stdout) or a sink.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from stockade.config import Config, load_config
from stockade.errors import InvalidArgument
from stockade.server.app import StockadeApp
from stockade.server.cluster import ClusterHub
from stockade.server.http import (
    AccessLogSink,
    BoundListener,
    HttpServer,
    JsonLinesLog,
    StartupFailed,
    Supervisor,
    Worker,
    bind_listeners,
    run,
)
from stockade.server.listen import ListenAddress
from stockade.server.settings import ConnectionCheck, Limits, ListenerSpec
from stockade.stores import open_store

ConnectionCheckFactory = Callable[[StockadeApp], ConnectionCheck | None]
ReloadHook = Callable[[StockadeApp], Awaitable[object] | None]


def serve(
    config_path: str | Path,
    *,
    workers: int | None = None,
    listeners: Sequence[ListenerSpec] | None = None,
    limits: Limits | None = None,
    connection_check: ConnectionCheckFactory | None = None,
    reload: ReloadHook | None = None,
    access_log: str | Path | AccessLogSink | None = None,
    on_config: Callable[[Config], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; ``workers`` defaults to ``[server] workers`` of the config.

    ``listeners`` default to the config's ``listen`` addresses, plain HTTP. ``on_config``
    is called with the loaded configuration before anything else (the command configures
    its log there). Raises :class:`~stockade.errors.ConfigError` for a bad configuration,
    :class:`~stockade.errors.StoreError` when the store cannot be opened, ``TlsSetupError``
    for a certificate that cannot be loaded and :class:`~stockade.errors.ListenError` when
    an address cannot be bound, all before anything is served; :class:`StartupFailed` if
    the app refuses to start.
    """
    path = Path(config_path).absolute()
    config = load_config(path)
    if on_config is not None:
        on_config(config)
    count = workers if workers is not None else config.raw.server.workers
    # Fail here, with one clear message, rather than in every worker's startup.
    for url in {config.store_url, *config.directory_store_urls.values()}:
        open_store(url, config.base, watch=False).close()
    if engine_of(config) == "native":
        refuse_python_hooks(connection_check, access_log)
        _serve_native(
            config, count, specs=listener_specs(config, listeners), limits=limits, reload=reload, access_log=access_log
        )
        return
    bound = bind_listeners(listener_specs(config, listeners))
    try:
        for listener in bound:
            scheme = "https" if listener.context is not None else "http"
            what = (
                "admin API" if listener.spec.admin else "decision endpoint" if listener.spec.decision else "listening"
            )
            print(f"stockade: {what} on {scheme}://{listener.spec.address}/", flush=True)
        sink = access_log_sink(config, access_log)
        addresses = tuple(served_addresses(bound))

        def make_server(worker: Worker) -> HttpServer:
            app = StockadeApp(config, listen=addresses, freeze_heap=True, worker=worker)
            return server_for(
                app,
                bound,
                limits=limits or config.limits,
                connection_check=connection_check or _admit,
                reload=reload or _reload,
                access_log=sink,
            )

        if count <= 1:
            run(make_server(Worker(0)), handle_signals=True)
        elif Supervisor(make_server, count, hub=ClusterHub()).run() != 0:
            raise StartupFailed("a worker process could not start")
    finally:
        for listener in bound:
            listener.sock.close()
        sys.stdout.flush()


def served_addresses(bound: Sequence[BoundListener]) -> list[ListenAddress]:
    """The addresses of the site's own listeners (those that key lockouts): not the admin API's nor decisions'."""
    return [listener.spec.address for listener in bound if not listener.spec.admin and not listener.spec.decision]


ENGINE_VARIABLE = "STOCKADE_ENGINE"


def engine_of(config: Config) -> str:
    """``[server] engine``, unless ``STOCKADE_ENGINE`` names one (to run a test suite on either)."""
    chosen = os.environ.get(ENGINE_VARIABLE, "").strip().lower()
    return chosen if chosen in ("python", "native") else config.raw.server.engine


def refuse_python_hooks(connection_check: object, access_log: object) -> None:
    """The native engine takes no Python hook on its request path: say so rather than ignore one.

    It checks connections itself (the blocklist at accept) and writes its access log to a
    file; a ``connection_check`` or an access log sink is the Python engine's.
    """
    if connection_check is not None:
        raise InvalidArgument("connection_check", connection_check, 'None on the native engine (or engine = "python")')
    if access_log is not None and callable(access_log):
        raise InvalidArgument("access_log", access_log, 'a file or "-" on the native engine (or engine = "python")')


def _serve_native(
    config: Config,
    threads: int,
    *,
    specs: Sequence[ListenerSpec],
    limits: Limits | None,
    reload: ReloadHook | None,
    access_log: str | Path | AccessLogSink | None,
) -> None:
    """The native front (``workers`` threads in this process), the decision endpoint's and the
    admin API's listeners too."""
    from stockade.server.native import NativeServer, bind_native, run_native  # noqa: PLC0415

    served = bind_native(specs)
    try:
        for listener in served:
            spec = listener.spec
            what = "admin API" if spec.admin else "decision endpoint" if spec.decision else "listening"
            print(f"stockade: {what} on {listener.url}/", flush=True)
        addresses = tuple(
            listener.spec.address for listener in served if not (listener.spec.decision or listener.spec.admin)
        )
        app = StockadeApp(config, listen=addresses, freeze_heap=True)
        hook = reload or _reload
        server = NativeServer(
            app,
            served,
            limits=limits or config.limits,
            workers=threads,
            reload=lambda: hook(app),
            access_log=native_access_log(config, access_log),
        )
        run_native(server)
    finally:
        sys.stdout.flush()


def native_access_log(config: Config, given: str | Path | AccessLogSink | None) -> str | None:
    """The access log file of the native front (``-``: standard output); a Python sink is not supported."""
    if given is None:
        given = "-" if config.access_log_stdout else config.access_log
    if given is None or callable(given):
        return None
    return str(given)


def listener_specs(config: Config, given: Sequence[ListenerSpec] | None = None) -> tuple[ListenerSpec, ...]:
    """What to bind: the configured listeners (or ``given``), the decision endpoint's, then the admin API's.

    A given PROXY-protocol listener that names no peers of its own takes ``[proxy] trusted``,
    as a configured one does.
    """
    specs = tuple(given) if given is not None else config.listeners or tuple(ListenerSpec(a) for a in config.listen)
    specs = tuple(
        replace(s, proxy_protocol_from=config.trusted.networks)
        if s.proxy_protocol != "off" and not s.proxy_protocol_from
        else s
        for s in specs
    )
    if config.decision is not None:
        specs = (*specs, *(ListenerSpec(address, decision=True) for address in config.decision.listen))
    if config.admin is not None:
        specs = (*specs, ListenerSpec(config.admin.listen, admin=True))
    return specs


def access_log_sink(config: Config, given: str | Path | AccessLogSink | None) -> AccessLogSink | None:
    """The access log: ``given``, else the configured file (``-``: standard output), else none."""
    if given is None:
        given = "-" if config.access_log_stdout else config.access_log
    return JsonLinesLog.open(given) if isinstance(given, str | Path) else given


def _admit(app: StockadeApp) -> ConnectionCheck:
    return app.admit


def _reload(app: StockadeApp) -> Awaitable[object]:
    return app.reload()


def server_for(
    app: StockadeApp,
    listeners: Sequence[BoundListener],
    *,
    limits: Limits | None,
    connection_check: ConnectionCheckFactory | None,
    reload: ReloadHook | None,
    access_log: AccessLogSink | None,
) -> HttpServer:
    """The HTTP server of one :class:`StockadeApp`, its hooks bound to that app."""

    def reload_app() -> Awaitable[object] | None:
        return reload(app) if reload is not None else None

    return HttpServer(
        app,
        listeners,
        limits=limits,
        connection_check=connection_check(app) if connection_check is not None else None,
        reload=reload_app if reload is not None else None,
        access_log=access_log,
        proxy_refused=app.metrics.count_proxy_refused,
    )
