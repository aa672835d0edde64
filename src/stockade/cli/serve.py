"""``stockade serve``: run the protecting server of a configuration file."""

from __future__ import annotations

from pathlib import Path

import click

from stockade.cli.common import config_option, one_line
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.errors import ConfigError, StockadeError
from stockade.server.run import serve as run_server


@click.command()
@config_option
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes (default: [server] workers of the config).",
)
def serve(config_path: Path, workers: int | None) -> None:
    """Serve static files with Basic-auth directories and login lockout."""
    try:
        run_server(config_path, workers=workers)
    except ConfigError as exc:
        fail(one_line(exc), EXIT_CONFIG)
    except StockadeError as exc:
        fail(f"stockade: {exc}")
    except OSError as exc:
        fail(f"stockade: cannot listen: {exc.strerror or exc}")
