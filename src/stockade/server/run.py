"""``stockade serve``: bind the listen sockets, then serve with one or several worker processes.

The parent binds every socket itself (so ``:0`` and the lockout listeners agree on the
real port) and loads every TLS certificate before anything is served. With one worker it
serves in this process; with several it forks them (see
:mod:`stockade.server.http.workers`), and each builds its own :class:`StockadeApp`, so
each opens its own store connection.

The hooks take the worker's app, because each worker has its own: ``connection_check(app)``
returns the check run on every connection before a byte is read, ``reload(app)`` runs on
SIGHUP (a coroutine is awaited), ``access_log`` is a path (``"-"`` for stdout) or a sink.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from stockade.config import load_config
from stockade.server.app import StockadeApp
from stockade.server.http import (
    AccessLogSink,
    BoundListener,
    HttpServer,
    JsonLinesLog,
    StartupFailed,
    Supervisor,
    bind_listeners,
    run,
)
from stockade.server.settings import ConnectionCheck, Limits, ListenerSpec
from stockade.stores import open_store

ConnectionCheckFactory = Callable[[StockadeApp], ConnectionCheck | None]
ReloadHook = Callable[[StockadeApp], Awaitable[None] | None]


def serve(
    config_path: str | Path,
    *,
    workers: int | None = None,
    listeners: Sequence[ListenerSpec] | None = None,
    limits: Limits | None = None,
    connection_check: ConnectionCheckFactory | None = None,
    reload: ReloadHook | None = None,
    access_log: str | Path | AccessLogSink | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; ``workers`` defaults to ``[server] workers`` of the config.

    ``listeners`` default to the config's ``listen`` addresses, plain HTTP. Raises
    :class:`~stockade.errors.ConfigError` for a bad configuration,
    :class:`~stockade.errors.StoreError` when the store cannot be opened, ``TlsSetupError``
    for a certificate that cannot be loaded and ``OSError`` when an address cannot be bound,
    all before anything is served; :class:`StartupFailed` if the app refuses to start.
    """
    path = Path(config_path).absolute()
    config = load_config(path)
    count = workers if workers is not None else config.raw.server.workers
    # Fail here, with one clear message, rather than in every worker's startup.
    for url in {config.store_url, *config.directory_store_urls.values()}:
        open_store(url, config.base, watch=False).close()
    specs = tuple(listeners) if listeners is not None else tuple(ListenerSpec(a) for a in config.listen)
    bound = bind_listeners(specs)
    try:
        for listener in bound:
            scheme = "https" if listener.context is not None else "http"
            print(f"stockade: listening on {scheme}://{listener.spec.address}/", flush=True)
        sink = JsonLinesLog.open(access_log) if isinstance(access_log, str | Path) else access_log
        addresses = tuple(listener.spec.address for listener in bound)

        def make_server() -> HttpServer:
            app = StockadeApp(config, listen=addresses)
            return server_for(
                app, bound, limits=limits, connection_check=connection_check, reload=reload, access_log=sink
            )

        if count <= 1:
            run(make_server(), handle_signals=True)
        elif Supervisor(make_server, count).run() != 0:
            raise StartupFailed("a worker process could not start")
    finally:
        for listener in bound:
            listener.sock.close()
        sys.stdout.flush()


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

    def reload_app() -> Awaitable[None] | None:
        return reload(app) if reload is not None else None

    return HttpServer(
        app,
        listeners,
        limits=limits,
        connection_check=connection_check(app) if connection_check is not None else None,
        reload=reload_app if reload is not None else None,
        access_log=access_log,
    )
