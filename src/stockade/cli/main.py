"""Entry point of the ``stockade`` command.

Exit status: 0 on success, 1 on a runtime error (``not_blocked``, ``no_such_directory``,
a store failure), 2 on a usage or configuration error; always with a one-line message.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from stockade import __version__
from stockade.cli.exits import EXIT_CONFIG, EXIT_RUNTIME, fail
from stockade.cli.options import log_options
from stockade.logs import LogFormat, LogLevel, configure_logging

# Each command is imported when it runs, so that ``stockade --version`` and ``--help`` of
# one command never pay for the others (the server, pydantic, the condition primitives).
_COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("stockade.cli.check", "check"),
    "conditions": ("stockade.cli.conditions", "conditions"),
    "detect": ("stockade.cli.detect", "detect"),
    "ip": ("stockade.cli.ip", "ip"),
    "replay": ("stockade.cli.replay", "replay"),
    "serve": ("stockade.cli.serve", "serve"),
    "status": ("stockade.cli.store", "status"),
    "store": ("stockade.cli.store", "store"),
    "users": ("stockade.cli.users", "users"),
    "watch-log": ("stockade.cli.watch_log", "watch_log"),
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = _COMMANDS.get(cmd_name)
        if found is None:
            return None
        module, name = found
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stockade")
@log_options
@click.pass_context
def cli(ctx: click.Context, log_level: LogLevel | None, log_format: LogFormat | None) -> None:
    """Stockade keeps abusers out of web applications."""
    # Every command logs warnings in this format; `serve` refines it with its own options and [log].
    ctx.meta["stockade.log_level"] = log_level
    ctx.meta["stockade.log_format"] = log_format
    configure_logging(log_level or "warning", log_format or "text")


# click >= 8.2 raises this for a group run without a command, with the whole help page as
# its message; older versions print the help and exit 0 themselves.
_NO_COMMAND = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(args: Sequence[str] | None = None) -> None:
    """Run the ``stockade`` command on ``args`` (default: ``sys.argv[1:]``) and exit.

    click's own error display is several lines (usage, a hint, a blank line, the error);
    here every usage error is one line, ``error: <click's message>``, with exit status 2.
    """
    try:
        result = cli.main(args, prog_name="stockade", standalone_mode=False)
    except _NO_COMMAND as exc:
        group = exc.ctx.command
        names = ", ".join(group.list_commands(exc.ctx))
        fail(f"error: Missing command for '{exc.ctx.command_path}'; choose from {names}.", EXIT_CONFIG)
    except click.ClickException as exc:
        fail(f"error: {exc.format_message()}", exc.exit_code)
    except click.Abort:
        fail("error: Aborted!", EXIT_RUNTIME)
    # ``--help``, ``--version`` and ``ctx.exit(n)`` come back as their exit status.
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
