"""``stockade detect``: see what the detection makes of a request, and which rules it has.

- ``explain URL [--method M] [--body TEXT] [--header 'Name: value'] [-c FILE]`` prints every
  rule the request fires, the part it fired on, the value it saw there, and the score against
  the threshold. Without ``-c`` the built-in pack at its default level is used.
- ``rules [-c FILE]`` lists the rules in force: id, category, level, score.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from stockade.cli.common import load
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.core.detection import Detector
from stockade.core.facts import RequestFacts


@click.group()
def detect() -> None:
    """Explain detection verdicts and list the rules."""


def _detector(config_path: Path | None) -> Detector:
    if config_path is None:
        return Detector()
    config = load(config_path)
    if config.bans is None:
        fail(f"{config_path}: no [bans] section: detection is off", EXIT_CONFIG)
    return config.bans.detector


@detect.command("explain")
@click.argument("url")
@click.option("--method", default=None, help="The method (default GET, or POST with --body).")
@click.option("--body", default=None, help="The request body.")
@click.option("--header", "headers", multiple=True, help="A header, 'Name: value' (repeatable).")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def explain(url: str, method: str | None, body: str | None, headers: tuple[str, ...], config_path: Path | None) -> None:
    """Print the rules URL fires, where, and the score."""
    pairs = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            fail(f"invalid --header {header!r}: expected 'Name: value'", EXIT_CONFIG)
        pairs.append((name.strip(), value.strip()))
    if body is not None and not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("Content-Type", "application/x-www-form-urlencoded"))
    parts = urlsplit(url)
    raw = parts.path or "/"
    facts = RequestFacts(
        method=method or ("POST" if body is not None else "GET"),
        path=unquote(raw),
        query=parts.query,
        uri=raw + (f"?{parts.query}" if parts.query else ""),
        headers=pairs,
        body=body.encode("utf-8") if body is not None else None,
    )
    for line in _detector(config_path).explain(facts).lines():
        click.echo(line)


@detect.command("rules")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def rules(config_path: Path | None) -> None:
    """List the rules in force: id, category, level, score."""
    for rule in _detector(config_path).rules:
        click.echo(f"{rule.id:<26} {rule.category:<18} level {rule.level}  score {rule.score:<3} {rule.description}")
