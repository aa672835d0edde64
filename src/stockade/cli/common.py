"""What every ``stockade`` command shares: the ``-c`` option, loading, exit codes, the guard.

Exit status: 0 on success, 1 on a runtime error (``not_blocked``, ``no_such_directory``,
an invalid argument, a store failure), 2 on a usage or configuration error. Every error is
one line on stderr, so scripts and log collectors can take it whole.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from stockade.config import Config, load_config
from stockade.engine import Guard
from stockade.engine.audit import AuditLog
from stockade.engine.events import EventSink
from stockade.errors import BanError, ConfigError, InvalidArgument, LockoutError, StoreError
from stockade.logs import FORMATS, LEVELS
from stockade.stores import open_directory_stores, open_store

F = TypeVar("F", bound=Callable[..., object])

EXIT_RUNTIME = 1
EXIT_CONFIG = 2

# How long the CLI waits for configured callbacks to receive its events before exiting.
EVENT_FLUSH_SECONDS = 10.0


def config_option(function: F) -> F:
    """``-c/--config FILE``: the configuration file the command acts on."""
    option = click.option(
        "-c",
        "--config",
        "config_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The stockade.toml to use.",
    )
    return option(function)


def log_options(function: F) -> F:
    """``--log-level`` and ``--log-format``: how the command logs on stderr (``None`` when not given)."""
    level = click.option(
        "--log-level",
        type=click.Choice(LEVELS),
        default=None,
        help="Least severe level logged (default: info for serve, else warning; serve: [log] level).",
    )
    fmt = click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        default=None,
        help="text lines (time, level, logger) or JSON lines (default: text; serve: [log] format).",
    )
    return level(fmt(function))


def seconds_value(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``--seconds``: a number >= 0 or ``infinity``; anything else is a usage error (exit 2)."""
    if value is None:
        return None
    if value.strip().lower() == "infinity":
        return math.inf
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isnan(number) or number < 0:
        raise click.BadParameter(f'expected a number of seconds >= 0 or "infinity" (got {value!r})', ctx, param)
    return number


def one_line(exc: ConfigError) -> str:
    """A configuration error on one line: ``FILE: 2 problems: a: ...; b: ...``."""
    head = f"{exc.file}: " if exc.file else ""
    if len(exc.issues) == 1:
        text = f"{head}{exc.issues[0]}"
    else:
        text = f"{head}{len(exc.issues)} problems: " + "; ".join(str(issue) for issue in exc.issues)
    return " ".join(text.splitlines())


def fail(message: str, code: int = EXIT_RUNTIME) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    click.echo(" ".join(message.splitlines()), err=True)
    sys.exit(code)


def load(path: Path) -> Config:
    """Load the configuration, or exit 2 with every problem on one line."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(one_line(exc), EXIT_CONFIG)


@contextmanager
def open_guard(config: Config) -> Iterator[Guard]:
    """A guard on the configured store, with the audit log and the directories' callbacks.

    It acts on the same store as a running server, so blocks made here apply there at once.
    Lockout errors, invalid arguments and store failures exit 1 with ``error: <message>``.
    Queued events reach their callbacks before the guard closes.
    """
    try:
        sinks: list[EventSink] = []
        if config.audit_json is not None or config.audit_text is not None:
            sinks.append(AuditLog(config.audit_json, config.audit_text))
        store = open_store(config.store_url, config.base, watch=False)
        own = open_directory_stores(store, config.store_url, config.directory_store_urls, open_store)
        guard = Guard(config.guard_settings(), store, sinks=sinks, directory_stores=own)
    except (StoreError, InvalidArgument, OSError) as exc:
        fail(f"error: {_describe(exc)}")
    try:
        yield guard
    except (LockoutError, BanError, InvalidArgument, StoreError) as exc:
        fail(f"error: {exc}")
    finally:
        guard.flush_events(EVENT_FLUSH_SECONDS)
        guard.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)
