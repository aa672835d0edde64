"""The exit statuses of the ``stockade`` command and its one-line failure.

Exit status: 0 on success, 1 on a runtime error (``not_blocked``, ``no_such_directory``,
an invalid argument, a store failure), 2 on a usage or configuration error. Every error is
one line on stderr, so scripts and log collectors can take it whole. This module imports
nothing of stockade's, so that the entry point stays light.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_RUNTIME) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    click.echo(" ".join(message.splitlines()), err=True)
    sys.exit(code)
