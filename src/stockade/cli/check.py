"""``stockade check``: validate a configuration and every file it names, without serving.

Meant for deployment scripts and editors: exit 0 with a short summary, or exit 2 with
every problem found, in one pass: the configuration itself, the htpasswd files, the
mod_block files (``mod_block.conf``, the rule file and the blocklist, each on its own), the
``bans.rules`` names, the upstream URL, the admin token, the callback imports, and that
every file the configuration writes (audit logs, access log, SQLite data files) can be
written (:mod:`stockade.config.paths`). An existing SQLite data file is opened read-only
(never created, never migrated, so checking is safe beside a running server) for
``PRAGMA quick_check`` and a schema version this stockade knows. Redis is not contacted.

A setting that still works but means something else now is not a problem: the check
passes and says on standard error what to write instead. Each problem starts a line of
its own, ``FILE: FIELD: MESSAGE``; a message of several
lines (a condition with a caret under the mistake) follows indented, carets aligned. With
more than one problem, a last line counts them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import click

from stockade.cli.config_file import config_option
from stockade.cli.exits import EXIT_CONFIG
from stockade.config import Config, ProtectedDirectory, load_config
from stockade.errors import ConfigError
from stockade.stores.sqlite import inspect_data_file, parse_sqlite_url

INDENT = "    "


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Check a configuration file and the files it names; list every problem."""
    try:
        config = load_config(config_path, thorough=True)
    except ConfigError as exc:
        for line in problem_lines(exc):
            click.echo(line, err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"{config.path}: OK")
    for line in summary(config, _data_files(config)):
        click.echo(f"  {line}")
    for notice in config.notices:
        click.echo(f"{config.path}: {notice}", err=True)


def problem_lines(exc: ConfigError) -> list[str]:
    """One line per problem (``FILE: FIELD: MESSAGE``), the further lines of a message indented."""
    head = f"{exc.file}: " if exc.file else ""
    lines: list[str] = []
    for issue in exc.issues:
        first, *rest = str(issue).split("\n")
        lines.append(f"{head}{first}")
        lines.extend(f"{INDENT}{line}" if line else "" for line in rest)
    if len(exc.issues) > 1:
        lines.append(f"{head}{len(exc.issues)} problems")
    return lines


def _data_files(config: Config) -> list[str]:
    """The summary lines for the SQLite data files (the store's, the directories')."""
    urls = [config.store_url, *(d.store_url for d in config.directories if d.store_url is not None)]
    lines: list[str] = []
    seen: set[Path] = set()
    for url in urls:
        if urlsplit(url).scheme != "sqlite":
            continue
        path, _, _ = parse_sqlite_url(url)  # load_config has validated the URL
        path = config.base / path
        if path in seen:
            continue
        seen.add(path)
        if not path.exists():
            lines.append(f"data file: {path}: not created yet (stockade serve creates it)")
            continue
        version, _ = inspect_data_file(path)  # load_config has found nothing wrong with it
        lines.append(f"data file: {path}: schema version {version}, quick_check ok")
    return lines


def summary(config: Config, data_files: Sequence[str] = ()) -> list[str]:
    """What the configuration sets up, one line per topic (``data_files`` after the store)."""
    lines = [
        "listen: " + ", ".join(str(a) for a in config.listen),
        f"store: {config.store_url}",
    ]
    lines.extend(data_files)
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
    own = "" if d.store_url is None else f", data file {parse_sqlite_url(d.store_url)[0]}"
    return (
        f"{users} user{'s' if users != 1 else ''} from {d.users.path}, "
        f"max_retries {retries}, block_time {block}, lockout by {d.settings.lockout_by}{own}"
    )
