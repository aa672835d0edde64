"""``stockade serve``: bind the listen sockets, then serve on the native front.

The front (:mod:`stockade.server.native`) serves on ``workers`` threads of this process;
the decision endpoint's and the admin API's listeners are its too. Every TLS certificate
is loaded and every address bound before anything is served, so ``:0`` and the lockout
listeners agree on the real port. ``reload(app)`` runs on SIGHUP (a coroutine is
awaited); ``access_log`` is a file (``"-"`` for standard output).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from stockade.config import Config, load_config
from stockade.server.app import StockadeApp
from stockade.server.lifespan import StartupFailed
from stockade.server.settings import Limits, ListenerSpec
from stockade.stores import open_store

__all__ = ["ReloadHook", "StartupFailed", "access_log_file", "listener_specs", "serve"]

ReloadHook = Callable[[StockadeApp], Awaitable[object] | None]


def serve(
    config_path: str | Path,
    *,
    workers: int | None = None,
    listeners: Sequence[ListenerSpec] | None = None,
    limits: Limits | None = None,
    reload: ReloadHook | None = None,
    access_log: str | Path | None = None,
    on_config: Callable[[Config], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; ``workers`` (the front's threads) defaults to ``[server] workers``.

    ``listeners`` default to the config's ``listen`` addresses, plain HTTP. ``on_config``
    is called with the loaded configuration before anything else (the command configures
    its log there). Raises :class:`~stockade.errors.ConfigError` for a bad configuration,
    :class:`~stockade.errors.StoreError` when the store cannot be opened,
    :class:`~stockade.server.tls.TlsSetupError` for a certificate that cannot be loaded and
    :class:`~stockade.errors.ListenError` when an address cannot be bound, all before
    anything is served; :class:`StartupFailed` if the app refuses to start.
    """
    from stockade.server.native import NativeServer, bind_native, run_native  # noqa: PLC0415

    path = Path(config_path).absolute()
    config = load_config(path)
    if on_config is not None:
        on_config(config)
    threads = workers if workers is not None else config.raw.server.workers
    # Fail here, with one clear message, rather than on the first request.
    for url in {config.store_url, *config.directory_store_urls.values()}:
        open_store(url, config.base, watch=False).close()
    served = bind_native(listener_specs(config, listeners))
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
            access_log=access_log_file(config, access_log),
        )
        run_native(server)
    finally:
        for listener in served:
            listener.socket.close()
        sys.stdout.flush()


def access_log_file(config: Config, given: str | Path | None) -> str | None:
    """The access log file of the front: ``given``, else the configured one (``-``: standard output), else none."""
    if given is None:
        given = "-" if config.access_log_stdout else config.access_log
    return None if given is None else str(given)


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


def _reload(app: StockadeApp) -> Awaitable[object]:
    return app.reload()
