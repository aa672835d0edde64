"""``stockade check``: validate a configuration and every file it names, without serving.

Meant for deployment scripts and editors: exit 0 with a short summary, or exit 2 with
every problem on one line, the same message ``stockade serve`` would refuse to start with.

The SQLite data file counts among the files a configuration names: when it exists it is
opened read-only (never created, never migrated, so checking is safe beside a running
server) for ``PRAGMA quick_check`` and a schema version this stockade knows. A missing
file is fine: ``stockade serve`` creates it. Redis is not contacted.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import click

from stockade.cli.common import config_option, load, one_line
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.config import Config, ProtectedDirectory
from stockade.errors import ConfigError, ConfigIssue
from stockade.stores.sqlite import MIGRATIONS, parse_sqlite_url


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Check a configuration file and the files it names."""
    config = load(config_path)
    data_files = _data_files(config)
    click.echo(f"{config.path}: OK")
    for line in summary(config, data_files):
        click.echo(f"  {line}")


def inspect_data_file(path: Path) -> tuple[int, str]:
    """The schema version of the SQLite data file at ``path`` and what is wrong with it (``""``: nothing).

    The file is opened read-only; SQLite may still create the ``-wal`` and ``-shm`` files
    beside a WAL database, as it does for any reader.
    """
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
            problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(3)")]  # the first 3 problems
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        return 0, f"not a usable SQLite data file: {exc}"
    if problems != ["ok"]:
        return version, "PRAGMA quick_check failed: " + "; ".join(problems)
    if version > len(MIGRATIONS):
        return version, f"schema version {version} is newer than this stockade ({len(MIGRATIONS)})"
    return version, ""


def _data_files(config: Config) -> list[str]:
    """The summary lines for the SQLite data files (the store's, the directories'); exit 2 if one is unusable."""
    named = [("store.url", config.store_url)]
    for i, directory in enumerate(config.directories):
        if directory.store_url is not None:
            named.append((f"directory[{i}].data_file", directory.store_url))
    lines: list[str] = []
    issues: list[ConfigIssue] = []
    seen: set[Path] = set()
    for field, url in named:
        if urlsplit(url).scheme != "sqlite":
            continue
        path, _, _ = parse_sqlite_url(url)  # load() has validated the URL
        path = config.base / path
        if path in seen:
            continue
        seen.add(path)
        if not path.exists():
            lines.append(f"data file: {path}: not created yet (stockade serve creates it)")
            continue
        version, problem = inspect_data_file(path)
        if problem:
            issues.append(ConfigIssue(field, f"{path}: {problem}"))
        lines.append(f"data file: {path}: schema version {version}, quick_check ok")
    if issues:
        fail(one_line(ConfigError(str(config.path), issues)), EXIT_CONFIG)
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
