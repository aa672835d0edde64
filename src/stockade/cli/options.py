"""Options shared by the command group and its commands, kept light: ``stockade --version`` imports this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from stockade.logs import FORMATS, LEVELS

F = TypeVar("F", bound=Callable[..., Any])


def log_options(function: F) -> F:
    """``--log-level`` and ``--log-format``: how the command logs on stderr (``None`` when not given)."""
    level = click.option(
        "--log-level",
        type=click.Choice(LEVELS),
        default=None,
        help="Least severe level logged (default: info for serve, else warning; serve: [log] level).",
    )
    fmt = click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        default=None,
        help="text lines (time, level, logger) or JSON lines (default: text; serve: [log] format).",
    )
    return level(fmt(function))
