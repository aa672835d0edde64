"""``stockade watch-log``: follow a proxy's access log and ban from it, as fail2ban does.

The lines of the logs (``[logs]`` of the configuration, or the files given) are counted
against their clients in the configured store: the response rules and, unless a decision
endpoint inspects the requests already, the detection rules. The bans are enforced by
whatever reads the store: the decision endpoint of ``stockade serve``, or the protecting
server, on the same SQLite file or Redis. Runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path

import click

from stockade.accesslogs.settings import LogSettings
from stockade.accesslogs.watcher import LogWatcher
from stockade.cli.config_file import config_option, one_line
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.cli.options import log_options
from stockade.clock import SystemClock
from stockade.config import Config, load_config
from stockade.engine import AsyncGuard
from stockade.engine.audit import AuditLog
from stockade.engine.events import EventSink
from stockade.errors import ConfigError, StockadeError, StoreError
from stockade.logs import FORMATS, LEVELS, LogFormat, LogLevel, configure_logging
from stockade.stores import open_async_store, open_directory_stores


@click.command("watch-log")
@config_option
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "log_format_name",
    type=click.Choice(["combined", "json"]),
    default=None,
    help="The format of FILES [default: [logs] format, else combined].",
)
@click.option("--from-start", is_flag=True, help="Read the files from their beginning, not from their end.")
@log_options
def watch_log(
    config_path: Path,
    files: tuple[Path, ...],
    log_format_name: str | None,
    from_start: bool,
    **log: LogLevel | LogFormat | None,
) -> None:
    """Follow access logs (FILES, or [logs] files) and ban from them into the configured store."""
    context = click.get_current_context()
    configure_logging(
        _level(log.get("log_level") or context.meta.get("stockade.log_level")),
        _format(log.get("log_format") or context.meta.get("stockade.log_format")),
    )
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(one_line(exc), EXIT_CONFIG)
    settings = _settings(config, files, log_format_name, from_start)
    try:
        asyncio.run(_follow(config, settings))
    except StockadeError as exc:
        fail(f"stockade: {exc}")
    except OSError as exc:
        fail(f"stockade: {exc.strerror or exc}")


def _settings(config: Config, files: tuple[Path, ...], format_name: str | None, from_start: bool) -> LogSettings:
    settings = config.logs
    if settings is None and not files:
        fail("error: no log to follow: give FILES or a [logs] section", EXIT_CONFIG)
    if settings is None:
        settings = LogSettings(files=(), detect=config.decision is None)
    if files:
        settings = dataclasses.replace(settings, files=tuple(f.absolute() for f in files))
    if format_name is not None:
        settings = dataclasses.replace(settings, format="json" if format_name == "json" else "combined")
    if from_start:
        settings = dataclasses.replace(settings, start="beginning")
    return settings


async def _follow(config: Config, settings: LogSettings) -> None:
    store = open_async_store(config.store_url, config.base)
    own = open_directory_stores(store, config.store_url, config.directory_store_urls, open_async_store)
    sinks: list[EventSink] = []
    if config.audit_json is not None or config.audit_text is not None:
        sinks.append(AuditLog(config.audit_json, config.audit_text))
    clock = SystemClock()
    guard = AsyncGuard(config.guard_settings(), store, clock=clock, sinks=sinks, directory_stores=own)
    watcher = LogWatcher(settings, lambda: guard, clock=clock, trusted=config.trusted.networks, policy=config.paths)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def ready() -> None:
        for path in settings.files:
            print(f"stockade: following {path} ({settings.format})", flush=True)

    sweeping = asyncio.create_task(_sweep(guard, stop))
    try:
        await watcher.run(stop, on_ready=ready)
    finally:
        stop.set()
        sweeping.cancel()
        await asyncio.wait([sweeping])
        guard.flush_events()
        await guard.aclose()


def _level(value: object) -> LogLevel:
    return next((level for level in LEVELS if level == value), "info")


def _format(value: object) -> LogFormat:
    return next((name for name in FORMATS if name == value), "text")


async def _sweep(guard: AsyncGuard, stop: asyncio.Event) -> None:
    """Ended bans are reported (``ip_unblock``) as the server reports them."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), guard.settings.sweep_interval)
        except TimeoutError:
            try:
                await guard.sweep()
            except StoreError as exc:
                guard.health.failed(exc, "open")
