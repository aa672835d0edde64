"""``stockade ip``: the status of client addresses, and bans made and lifted by hand.

The commands act on the configured store, so a running server (every process, every host
on a shared Redis) enforces a ban made here at once. Exit status 1 for ``invalid_ip_address``
and ``not_banned``, as for the other runtime errors.

A network is written with its host bits clear (``198.51.100.0/24``): ``198.51.100.7/24``
could mean the address or the network, so it is refused rather than guessed at. A ban
never shortens a longer ban in force unless ``--force`` is given.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from stockade.cli.common import load, open_guard, seconds_value
from stockade.cli.config_file import config_option
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.engine.views import iso_utc
from stockade.errors import NotBanned

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group()
def ip() -> None:
    """Status of client addresses; ban and unban addresses and networks."""


@ip.command()
@click.argument("address")
@config_option
@json_option
def status(address: str, config_path: Path, as_json: bool) -> None:
    """safe, warning N (malicious requests counted) or blocked S (seconds left)."""
    with open_guard(load(config_path, admin=True)) as guard:
        verdict = guard.ip_address_status(address)
    if as_json:
        seconds = verdict.seconds_left
        click.echo(
            json.dumps(
                {
                    "ip": address,
                    "status": verdict.verdict,
                    "count": verdict.count,
                    "seconds_left": None if seconds is None else math.ceil(seconds),
                }
            )
        )
    else:
        click.echo(str(verdict))


@ip.command()
@click.argument("target", metavar="ADDRESS_OR_CIDR")
@config_option
@click.option("--seconds", callback=seconds_value, help="Ban length (default: block_duration), or infinity.")
@click.option("--force", is_flag=True, help="Set exactly this end even when a longer ban is in force.")
def ban(target: str, config_path: Path, seconds: float | None, force: bool) -> None:
    """Ban an address or a network (its host bits clear: 198.51.100.0/24)."""
    with open_guard(load(config_path, admin=True)) as guard:
        now = guard.clock.now()
        banned = guard.block_ip_address(target, seconds, force=force)
        wanted = now + (guard.bans.policy.block_duration if seconds is None else seconds)
    until = banned.until_iso or "infinity"
    if banned.until > wanted:
        click.echo(f"kept the longer ban of {banned.ip} until {until} (--force shortens it)")
    else:
        click.echo(f"banned {banned.ip} until {until}")


@ip.command()
@click.argument("target", metavar="ADDRESS_OR_CIDR", required=False)
@config_option
@click.option("--all", "every", is_flag=True, help="Lift every ban.")
def unban(target: str | None, config_path: Path, every: bool) -> None:
    """Lift the ban of an address or a network, or every ban (--all)."""
    if (target is None) == (not every):
        fail("error: give ADDRESS_OR_CIDR or --all (one of them)", EXIT_CONFIG)
    with open_guard(load(config_path, admin=True)) as guard:
        if target is not None:
            lifted = guard.unblock_ip_address(target)
            click.echo(f"unbanned {lifted.ip}")
            return
        count = 0
        for entry in guard.list_banned_ips():
            try:
                guard.unblock_ip_address(entry.ip)
            except NotBanned:
                continue  # ended meanwhile
            click.echo(f"unbanned {entry.ip}")
            count += 1
        if not count:
            click.echo("no banned addresses")


@ip.command("list")
@config_option
@json_option
@click.option("--warning", is_flag=True, help="List the clients in the warning state instead of the bans.")
def list_bans(config_path: Path, as_json: bool, warning: bool) -> None:
    """Every active ban (address, prefix or network, and its end), or with --warning every
    client whose malicious requests are counted but not (yet) banned."""
    with open_guard(load(config_path, admin=True)) as guard:
        if warning:
            warned = guard.list_warning_ips()
            lines = [(w.ip, f"warning {w.count}  last {iso_utc(w.last)}") for w in warned]
            dicts = [w.as_dict() for w in warned]
        else:
            banned = guard.list_banned_ips()
            lines = [(b.ip, f"until {b.until_iso or 'infinity'}{'  (network)' if b.network else ''}") for b in banned]
            dicts = [b.as_dict() for b in banned]
    if as_json:
        click.echo(json.dumps(dicts))
        return
    if not lines:
        click.echo("no address in the warning state" if warning else "no banned addresses")
        return
    width = max(len(address) for address, _ in lines)
    for address, text in lines:
        click.echo(f"{address:<{width}}  {text}")
