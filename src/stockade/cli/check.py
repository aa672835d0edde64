"""``stockade check``: validate a configuration and every file it names, without serving.

Meant for deployment scripts and editors: exit 0 with a short summary, or exit 2 with
every problem on one line, the same message ``stockade serve`` would refuse to start with.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from stockade.cli.common import config_option, load
from stockade.config import Config, ProtectedDirectory


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Check a configuration file and the files it names."""
    config = load(config_path)
    click.echo(f"{config.path}: OK")
    for line in summary(config):
        click.echo(f"  {line}")


def summary(config: Config) -> list[str]:
    """What the configuration sets up, one line per topic."""
    lines = [
        "listen: " + ", ".join(str(a) for a in config.listen),
        f"store: {config.store_url}",
    ]
    if config.document_root is not None:
        lines.append(f"document root: {config.document_root}")
    if not config.directories:
        lines.append("directories: none")
    lines.extend(f"directory {d.path}: {_directory(d)}" for d in config.directories)
    audit = [str(p) for p in (config.audit_json, config.audit_text) if p is not None]
    if audit:
        lines.append("audit: " + ", ".join(audit))
    return lines


def _directory(d: ProtectedDirectory) -> str:
    policy = d.settings.policy
    users = len(d.users.entries)
    retries = "infinity" if policy.max_retries is None else str(policy.max_retries)
    block = "infinity" if math.isinf(policy.block_time) else f"{policy.block_time / 60:g} min"
    return (
        f"{users} user{'s' if users != 1 else ''} from {d.users.path}, "
        f"max_retries {retries}, block_time {block}, lockout by {d.settings.lockout_by}"
    )
