"""``stockade users``: list, block and unblock users of the protected directories.

The commands act on the configured store, so they work while a server runs and its
workers see the change on their next request. Events (``user_block``) reach the audit log;
callback modules are never imported here (administration must work when one is missing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from stockade.cli.common import load, open_guard, seconds_value
from stockade.cli.config_file import config_option
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.engine.settings import Listener
from stockade.engine.views import AuthUser, BlockedUser, iso_utc

INFINITY_WORD = "infinity"

dir_option = click.option("--dir", "directory", metavar="PATH", help="A protected directory, like /secure.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")


@click.group()
def users() -> None:
    """List, block and unblock users of the protected directories."""


@users.command("list-blocked")
@config_option
@dir_option
@json_option
def list_blocked(config_path: Path, directory: str | None, as_json: bool) -> None:
    """Users blocked now, one line per user, directory and listener."""
    with open_guard(load(config_path, admin=True)) as guard:
        _print(guard.list_blocked_users(directory), as_json, empty="no blocked users")


@users.command("list-auth")
@config_option
@dir_option
@json_option
def list_auth(config_path: Path, directory: str | None, as_json: bool) -> None:
    """Users who logged in successfully within the directory's auth_timeout."""
    with open_guard(load(config_path, admin=True)) as guard:
        _print(guard.list_auth_users(directory), as_json, empty="no authenticated users")


@users.command("block")
@click.argument("user")
@config_option
@click.option("--dir", "directory", metavar="PATH", required=True, help="The protected directory, like /secure.")
@click.option(
    "--seconds", callback=seconds_value, metavar="N|infinity", help="How long, or infinity [default: the block_time]."
)
def block(user: str, config_path: Path, directory: str, seconds: float | None) -> None:
    """Block USER in a directory, on every listener."""
    with open_guard(load(config_path, admin=True)) as guard:
        for entry in guard.block_user(user, directory, seconds):
            until = iso_utc(entry.until) or INFINITY_WORD
            click.echo(f"blocked {entry.user} in {entry.directory} on {_listener(entry)} until {until}")


@users.command("unblock")
@click.argument("user", required=False)
@config_option
@click.option("--dir", "directory", metavar="PATH", help="A protected directory [default: every directory].")
@click.option("--all", "every", is_flag=True, help="Remove every user's blocks.")
def unblock(user: str | None, config_path: Path, directory: str | None, every: bool) -> None:
    """Remove USER's blocks (or every block: --all) in a directory, or in every directory."""
    if (user is None) == (not every):
        fail("error: give USER or --all (one of them)", EXIT_CONFIG)
    with open_guard(load(config_path, admin=True)) as guard:
        removed = guard.unblock_user(user, directory) if user is not None else guard.unblock_all_users(directory)
    for entry in removed:
        who = entry.user or f"client {entry.client}"
        client = f" for client {entry.client}" if entry.user and entry.client else ""
        click.echo(f"unblocked {who} in {entry.directory} on {_listener(entry)}{client}")
    if not removed:
        click.echo("no blocked users")


def _listener(entry: BlockedUser | AuthUser) -> str:
    return str(Listener(entry.address, entry.port))


def _print(entries: Sequence[BlockedUser | AuthUser], as_json: bool, *, empty: str) -> None:
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in entries]))
        return
    if not entries:
        click.echo(empty)
        return
    with_client = any(isinstance(e, BlockedUser) and e.client for e in entries)
    header = ["USER", "DIR", "LISTENER", "UNTIL"] + (["CLIENT"] if with_client else [])
    rows = [header]
    for e in entries:
        row = [e.user, e.directory, _listener(e), iso_utc(e.until) or INFINITY_WORD]
        if with_client:
            row.append(e.client if isinstance(e, BlockedUser) else "")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
