"""What every ``stockade`` command shares: the ``-c`` option, loading, the guard.

Exit statuses and the one-line failure live in :mod:`stockade.cli.exits`; the ``-c``
option itself in :mod:`stockade.cli.config_file` (light: a command can take it before it
imports the configuration's schema).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from stockade.cli.config_file import one_line
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.clock import ManualClock, SystemClock
from stockade.config import Config, load_config
from stockade.engine import Guard
from stockade.engine.audit import AuditLog
from stockade.engine.events import EventSink
from stockade.errors import BanError, ConfigError, InvalidArgument, LockoutError, StoreError
from stockade.stores import open_directory_stores, open_store

# How long the CLI waits for configured callbacks to receive its events before exiting.
EVENT_FLUSH_SECONDS = 10.0


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


def load(path: Path, *, admin: bool = False) -> Config:
    """Load the configuration, or exit 2 with every problem on one line.

    ``admin``: for the administration commands (``users``, ``ip``, ``status``), which
    neither import callback modules (a missing one must not stop ``ip unban``) nor load
    the mod_block files.
    """
    try:
        return load_config(path, import_callbacks=not admin, load_block=not admin)
    except ConfigError as exc:
        fail(one_line(exc), EXIT_CONFIG)


@contextmanager
def open_guard(config: Config) -> Iterator[Guard]:
    """A guard on the configured store, with the audit log and the callbacks ``config`` has.

    It acts on the same store as a running server, so blocks made here apply there at once.
    Lockout errors, invalid arguments and store failures exit 1 with ``error: <message>``.
    Queued events reach their sinks before the guard closes.
    """
    try:
        sinks: list[EventSink] = []
        if config.audit_json is not None or config.audit_text is not None:
            sinks.append(AuditLog(config.audit_json, config.audit_text))
        store = open_store(config.store_url, config.base, watch=False)
        own = open_directory_stores(store, config.store_url, config.directory_store_urls, open_store)
        # One instant for the whole command: every answer and every end it prints refers to it.
        clock = ManualClock(SystemClock().now())
        guard = Guard(config.guard_settings(), store, clock=clock, sinks=sinks, directory_stores=own)
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
