"""The ``-c`` option and the one-line configuration error: light to import (no schema).

:mod:`stockade.cli.common` re-exports them; ``stockade replay`` takes them from here so
that it can start work before the configuration's schema is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from stockade.errors import ConfigError

F = TypeVar("F", bound=Callable[..., object])

CONFIG_ENV = "STOCKADE_CONFIG"
DEFAULT_CONFIG = "stockade.toml"


def config_option(function: F) -> F:
    """``-c/--config FILE``: the configuration file; else ``$STOCKADE_CONFIG``, else ``./stockade.toml``."""
    option = click.option(
        "-c",
        "--config",
        "config_path",
        envvar=CONFIG_ENV,
        default=DEFAULT_CONFIG,
        show_envvar=True,
        callback=_config_given,
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"The configuration file [default: ${CONFIG_ENV}, else ./{DEFAULT_CONFIG}].",
    )
    return option(function)


def _config_given(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """The default ``./stockade.toml`` that does not exist is a usage error that says what to do."""
    if ctx.get_parameter_source("config_path") == click.core.ParameterSource.DEFAULT and not value.exists():
        raise click.UsageError(
            f"no configuration file: give -c FILE, set {CONFIG_ENV}, or create ./{DEFAULT_CONFIG}", ctx
        )
    return value


def one_line(exc: ConfigError) -> str:
    """A configuration error on one line: ``FILE: 2 problems: a: ...; b: ...``."""
    head = f"{exc.file}: " if exc.file else ""
    if len(exc.issues) == 1:
        text = f"{head}{exc.issues[0]}"
    else:
        text = f"{head}{len(exc.issues)} problems: " + "; ".join(str(issue) for issue in exc.issues)
    return " ".join(text.splitlines())
