"""``stockade ip``: the status of a client address, and bans made and lifted by hand.

The commands act on the configured store, so a running server (every worker, every host
on a shared Redis) enforces a ban made here at once. Exit status 1 for ``invalid_ip_address``
and ``not_banned``, as for the other runtime errors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from stockade.cli.common import config_option, load, open_guard, seconds_value
from stockade.engine.views import BannedIp

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
    with open_guard(load(config_path)) as guard:
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
def ban(target: str, config_path: Path, seconds: float | None) -> None:
    """Ban an address or a network."""
    with open_guard(load(config_path)) as guard:
        banned = guard.block_ip_address(target, seconds)
    click.echo(f"banned {banned.ip} until {banned.until_iso or 'infinity'}")


@ip.command()
@click.argument("target", metavar="ADDRESS_OR_CIDR")
@config_option
def unban(target: str, config_path: Path) -> None:
    """Lift the ban of an address or a network."""
    with open_guard(load(config_path)) as guard:
        lifted = guard.unblock_ip_address(target)
    click.echo(f"unbanned {lifted.ip}")


@ip.command("list")
@config_option
@json_option
def list_bans(config_path: Path, as_json: bool) -> None:
    """Every active ban: address, prefix or network, and its end."""
    with open_guard(load(config_path)) as guard:
        banned: list[BannedIp] = guard.list_banned_ips()
    if as_json:
        click.echo(json.dumps([entry.as_dict() for entry in banned]))
        return
    if not banned:
        click.echo("no banned addresses")
        return
    width = max(len(entry.ip) for entry in banned)
    for entry in banned:
        kind = "  (network)" if entry.network else ""
        click.echo(f"{entry.ip:<{width}}  until {entry.until_iso or 'infinity'}{kind}")
