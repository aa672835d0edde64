"""``stockade store migrate`` and ``stockade status``: operate the state store itself.

``migrate`` copies all live state (lockout records and ban records) from one store to
another, the step a deployment takes when it outgrows one host (SQLite to Redis) or moves
back. Records keep their expiry times, so a block or a ban ends at the same moment in the
new store; each is merged with what the target holds under its key, so nothing already
there is lost, even when a migration fails part-way. The source is only read.

``status`` shows the configured store, its round-trip latency and how current this
process's local view is (the delay of a change notification).
"""

from __future__ import annotations

import json
import logging
import statistics
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from stockade.cli.common import load
from stockade.cli.config_file import config_option
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.clock import SystemClock
from stockade.config import Config
from stockade.errors import InvalidArgument, StoreError
from stockade.stores import LockoutStore, open_store
from stockade.stores.records import Scope, StoredBan, StoredRecord
from stockade.stores.redis import redact
from stockade.stores.sqlite import parse_sqlite_url

# How long ``status`` waits for its change feed to measure a first notification delay.
_LAG_WAIT = 2.0
_PINGS = 5


@click.group()
def store() -> None:
    """Operate the state store: copy its state elsewhere."""


@store.command()
@click.argument("from_url", metavar="FROM_URL")
@click.argument("to_url", metavar="TO_URL")
def migrate(from_url: str, to_url: str) -> None:
    """Copy all live state from FROM_URL to TO_URL (for example sqlite:///stockade.db to redis://host).

    Lockout records (failures, blocks, remembered logins, reservations) and ban records
    (strikes, automatic and manual bans, networks, remembered offences) are copied with
    their expiry times. What TO_URL already holds is merged, never lost: the later block or
    ban wins and every failure, strike and offence is kept, so a migration that failed
    part-way can run again. Relative SQLite paths are relative to the current directory.
    """
    for url in (from_url, to_url):
        if urlsplit(url).scheme == "memory":
            fail(f"error: {url} lives inside one process: nothing to migrate from or to", EXIT_CONFIG)
    source_file = _sqlite_file(from_url)
    if source_file is not None and not source_file.is_file():
        fail(f"error: no SQLite data file at {source_file} (FROM_URL)", EXIT_CONFIG)
    if _identity(from_url) == _identity(to_url):
        fail("error: FROM_URL and TO_URL are the same store", EXIT_CONFIG)
    source = _open(from_url)
    try:
        target = _open(to_url)
        try:
            now = SystemClock().now()
            records, bans = _export(source, target, now)
            try:
                target.import_records(records, now)
                target.import_bans(bans, now)
            except StoreError as exc:
                fail(f"error: {exc} (what {target.url} held is kept; run the migration again)")
        finally:
            target.close()
    finally:
        source.close()
    click.echo(
        f"copied {_count(len(records), 'lockout record')} and {_count(len(bans), 'ban record')}"
        f" from {redact(source.url)} to {redact(target.url)}"
    )


def _export(source: LockoutStore, target: LockoutStore, now: float) -> tuple[list[StoredRecord], list[StoredBan]]:
    """Everything live in ``source``, once ``target`` has answered (so that an unreachable target fails first)."""
    try:
        target.ping()
        return source.export_records(now), source.export_bans(now)
    except StoreError as exc:
        fail(f"error: {exc}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _sqlite_file(url: str) -> Path | None:
    if urlsplit(url).scheme != "sqlite":
        return None
    try:
        path, _, _ = parse_sqlite_url(url)
    except InvalidArgument as exc:
        fail(f"error: {exc}", EXIT_CONFIG)
    return (Path.cwd() / path).resolve()


def _identity(url: str) -> str:
    """What names the store's data: its file for SQLite, the URL otherwise."""
    file = _sqlite_file(url)
    return url if file is None else f"sqlite:{file}"


def _open(url: str) -> LockoutStore:
    try:
        return open_store(url, Path.cwd(), watch=False)
    except InvalidArgument as exc:
        fail(f"error: {exc}", EXIT_CONFIG)
    except StoreError as exc:
        fail(f"error: {exc}")


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(config_path: Path, as_json: bool) -> None:
    """The configured store: latency, local view, blocked users."""
    config = load(config_path, admin=True)
    # The change feed logs a lost connection for servers' logs; here the one-line error says it.
    logging.getLogger("stockade.store").addHandler(logging.NullHandler())
    logging.getLogger("stockade.store").propagate = False
    try:
        opened = open_store(config.store_url, config.base)
    except (InvalidArgument, StoreError) as exc:
        fail(f"error: {exc}")
    try:
        report = _report(opened)
    except StoreError as exc:
        fail(f"error: {exc}")
    finally:
        opened.close()
    report["server"] = _server_status(config)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    view = report["view"]
    click.echo(f"store:   {report['store']}")
    click.echo(f"latency: {report['latency_ms']:.3f} ms (median of {_PINGS})")
    if view is None:
        click.echo("view:    none (the store is local)")
    else:
        lag = "unknown" if view["lag_ms"] is None else f"{view['lag_ms']:.3f} ms"
        click.echo(f"view:    {'trusted' if view['trusted'] else 'NOT trusted'}, lag {lag}")
    click.echo(f"blocked: {report['blocked']} user record{'s' if report['blocked'] != 1 else ''}")
    click.echo(f"errors:  {report['errors']}")
    server = report["server"]
    if server is not None:
        if "error" in server:
            click.echo(f"server:  {server['error']}")
        elif server.get("mod_block"):
            counters = ", ".join(
                f"{name.removeprefix('mod_block_')} {value}" for name, value in server["mod_block"].items()
            )
            click.echo(f"mod_block: {counters}")


def _server_status(config: Config) -> dict[str, Any] | None:
    """The running server's own status (its mod_block counters) from its admin API, if configured."""
    admin = config.admin
    if admin is None:
        return None
    host = "127.0.0.1" if admin.listen.wildcard else admin.listen.host
    url = f"http://{f'[{host}]' if ':' in host else host}:{admin.listen.port}/status"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {admin.token}"})
    try:
        with urllib.request.urlopen(request, timeout=_LAG_WAIT) as answer:  # noqa: S310 - a URL built above
            body: dict[str, Any] = json.loads(answer.read())
    except (OSError, ValueError) as exc:
        return {"error": f"no answer from the admin API at {url}: {exc}"}
    return {"url": url, "mod_block": body.get("mod_block")}


def _report(opened: LockoutStore) -> dict[str, Any]:
    feed = getattr(opened, "feed", None)
    if feed is not None:
        feed.wait_measured(_LAG_WAIT)
    latency = statistics.median(opened.ping() for _ in range(_PINGS))
    state = opened.status()
    blocked = len(opened.list_blocked(Scope(), SystemClock().now()))
    view = (
        None
        if state.view_trusted is None
        else {
            "trusted": state.view_trusted,
            "lag_ms": None if state.view_lag is None else state.view_lag * 1000,
            "entries": state.view_entries,
        }
    )
    return {
        "store": redact(state.url),
        "latency_ms": latency * 1000,
        "view": view,
        "blocked": blocked,
        "errors": state.errors,
        "pending_writes": state.pending_writes,
    }
