"""``stockade serve``: run the protecting server of a configuration file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stockade.errors import ConfigError, StockadeError
from stockade.server.run import serve as run_server


@click.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The stockade.toml to serve.",
)
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
        click.echo(str(exc), err=True)
        sys.exit(2)
    except StockadeError as exc:
        click.echo(f"stockade: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"stockade: cannot listen: {exc.strerror or exc}", err=True)
        sys.exit(1)
