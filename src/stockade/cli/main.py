"""Entry point of the ``stockade`` command.

Exit status: 0 on success, 1 on a runtime error (``not_blocked``, ``no_such_directory``,
a store failure), 2 on a usage or configuration error; always with a one-line message.
"""

from __future__ import annotations

import click

from stockade import __version__
from stockade.cli.check import check
from stockade.cli.conditions import conditions
from stockade.cli.serve import serve
from stockade.cli.users import users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stockade")
def cli() -> None:
    """Stockade keeps abusers out of web applications."""


cli.add_command(serve)
cli.add_command(check)
cli.add_command(users)
cli.add_command(conditions)


def main() -> None:
    cli(prog_name="stockade")


if __name__ == "__main__":
    main()
