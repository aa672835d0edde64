"""Entry point of the ``stockade`` command.

Exit status: 0 on success, 1 on a runtime error (``not_blocked``, ``no_such_directory``,
a store failure), 2 on a usage or configuration error; always with a one-line message.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from stockade import __version__
from stockade.cli.check import check
from stockade.cli.common import EXIT_CONFIG, EXIT_RUNTIME, fail
from stockade.cli.conditions import conditions
from stockade.cli.detect import detect
from stockade.cli.ip import ip
from stockade.cli.replay import replay
from stockade.cli.serve import serve
from stockade.cli.store import status, store
from stockade.cli.users import users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stockade")
def cli() -> None:
    """Stockade keeps abusers out of web applications."""


cli.add_command(serve)
cli.add_command(check)
cli.add_command(users)
cli.add_command(conditions)
cli.add_command(detect)
cli.add_command(ip)
cli.add_command(replay)
cli.add_command(store)
cli.add_command(status)


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
