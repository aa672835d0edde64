"""``stockade serve``: run the protecting server of a configuration file."""

from __future__ import annotations

from pathlib import Path

import click

from stockade.cli.config_file import config_option, one_line
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.cli.options import log_options
from stockade.config import Config
from stockade.errors import ConfigError, StockadeError
from stockade.logs import LogFormat, LogLevel, configure_logging
from stockade.server.run import serve as run_server


@click.command()
@config_option
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Threads of the native front (default: [server] workers).",
)
@log_options
def serve(config_path: Path, workers: int | None, log_level: LogLevel | None, log_format: LogFormat | None) -> None:
    """Serve static files with Basic-auth directories and login lockout."""
    context = click.get_current_context()
    chosen_level = log_level or context.meta.get("stockade.log_level")
    chosen_format = log_format or context.meta.get("stockade.log_format")

    def configure(config: Config) -> None:
        # The command line first, then [log] of the configuration.
        configure_logging(chosen_level or config.raw.log.level, chosen_format or config.raw.log.format)

    try:
        run_server(config_path, workers=workers, on_config=configure)
    except ConfigError as exc:
        fail(one_line(exc), EXIT_CONFIG)
    except StockadeError as exc:
        fail(f"stockade: {exc}")
    except OSError as exc:
        fail(f"stockade: {exc.strerror or exc}")
