"""``stockade conditions``: try the BFE condition language from the shell.

- ``test FILE.json`` runs a file of test vectors (the format of BFE's ``bfe_conditions.json``),
  prints one line per failing case and ends with ``N passed, M failed``. Exit status 1 if any
  case failed, 2 if the file cannot be read or is not a valid vector file (one line).
- ``explain EXPR`` prints the condition with every binary operation in parentheses, which
  shows BFE's real precedence (``||`` binds tighter than ``&&``). An invalid condition prints
  the error with a caret under the spot and exits 1.

The condition package is imported inside the commands so that the other commands do not
pay for importing the primitives and their libraries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stockade.cli.exits import EXIT_CONFIG, EXIT_RUNTIME, fail
from stockade.clock import SystemClock


@click.group()
def conditions() -> None:
    """Test and explain BFE conditions."""


@conditions.command("test")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--now",
    type=float,
    default=None,
    help="Seconds since the epoch for time primitives without X-Bfe-Debug-Time (default: the current time).",
)
def test_vectors(file: Path, now: float | None) -> None:
    """Run the test vectors in FILE and report the failures.

    FILE is a JSON list of cases in the format of BFE's bfe_conditions.json. One line is
    printed per failing case (its index in the list, the condition, expected and got),
    then "N passed, M failed". Exit status 1 if a case failed, 2 if FILE is invalid.
    """
    from stockade.conditions.vectors import VectorFileError, load_cases, run_cases  # noqa: PLC0415

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", EXIT_CONFIG)
    except UnicodeDecodeError as exc:
        fail(f"cannot read {file}: not UTF-8 ({exc.reason} at byte {exc.start})", EXIT_CONFIG)
    except json.JSONDecodeError as exc:
        fail(f"{file}: invalid JSON: {exc}", EXIT_CONFIG)
    try:
        cases = load_cases(data)
    except VectorFileError as exc:
        fail(f"{file}: {exc}", EXIT_CONFIG)
    results = run_cases(cases, now=SystemClock().now() if now is None else now)
    failed = [result for result in results if not result.passed]
    for result in failed:
        click.echo(result.describe())
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(EXIT_RUNTIME)


@conditions.command("explain")
@click.argument("expr")
def explain_condition(expr: str) -> None:
    """Print EXPR fully parenthesised, to show BFE's real precedence.

    In BFE, || binds tighter than &&: a && b || c means a && (b || c).
    """
    from stockade.conditions import ConditionError, explain  # noqa: PLC0415 - see the module docstring

    try:
        click.echo(explain(expr))
    except ConditionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_RUNTIME)
