"""Whether the files a configuration writes can be written, checked before serving.

``stockade serve`` would find out when it first opens them (the audit logs, the access log,
the SQLite data files), often after it has started listening; ``stockade check`` asks
here first, for every file at once. A file that does not exist yet must be creatable in
its directory; an SQLite data file also needs its directory writable for the ``-wal`` and
``-shm`` files beside it, and when it exists it is opened read-only to check its schema
and integrity (never created, never migrated, so checking is safe beside a running server).
"""

from __future__ import annotations

import os
from pathlib import Path

from stockade.stores.sqlite import inspect_data_file


def existing_ancestor(file: Path) -> Path:
    """The nearest of ``file``'s parent directories that exists (it may be a file, wrongly)."""
    for parent in file.parents:
        if parent.exists():
            return parent
    return Path(file.anchor or ".")


def write_problem(file: Path) -> str | None:
    """What stops a process from appending to ``file`` (creating it and its directories if need be), or ``None``.

    A parent that is no directory is the loader's to report; here it is no problem of its own.
    """
    if file.exists():
        if not file.is_file():
            return f"{file} is not a regular file"
        if not os.access(file, os.W_OK):
            return f"{file} is not writable"
        return None
    parent = existing_ancestor(file)
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create {file}: the directory {parent} is not writable"
    return None


def data_file_problem(file: Path) -> str | None:
    """What is wrong with an SQLite data file and its directory, or ``None`` (a missing file is fine)."""
    problem = write_problem(file)
    if problem is not None:
        return problem
    parent = file.parent
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        return f"the directory {parent} is not writable (SQLite keeps its -wal and -shm files there)"
    if not file.is_file():
        return None
    _, problem = inspect_data_file(file)
    return f"{file}: {problem}" if problem else None
