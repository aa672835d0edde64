"""``stockade replay``: recorded traffic through the guard with a simulated clock."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from stockade.cli.common import config_option, load
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.errors import InvalidArgument, StoreError
from stockade.replay import Replay


@click.command()
@config_option
@click.argument("events", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--store", "store_url", metavar="URL", help="Replay on this store instead of a fresh in-memory one.")
def replay(config_path: Path, events: Path, store_url: str | None) -> None:
    """Feed EVENTS (JSON lines or a combined access log; - for stdin) through the guard.

    One JSON line per event, then {"counters": {...}} with every mod_block counter.
    """
    config = load(config_path)
    try:
        text = sys.stdin.read() if str(events) == "-" else events.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        fail(f"error: cannot read {events}: {exc.strerror or exc}", EXIT_CONFIG)
    try:
        asyncio.run(_run(Replay(config, store_url), text.splitlines()))
    except (StoreError, InvalidArgument) as exc:
        fail(f"error: {exc}")


async def _run(session: Replay, lines: list[str]) -> None:
    try:
        async for output in session.run(lines):
            click.echo(json.dumps(output, separators=(", ", ": ")))
    finally:
        await session.close()
