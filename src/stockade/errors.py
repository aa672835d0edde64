"""One exception tree, rooted at :class:`StockadeError`.

Every error carries structured fields (file, line, field path, user, directory) and
builds its message in ``__str__``, so callers can both show it and act on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class StockadeError(Exception):
    """Root of every error stockade raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a configuration file."""

    path: str
    message: str
    value: object = None
    has_value: bool = False

    def __str__(self) -> str:
        where = self.path or "(top level)"
        if self.has_value:
            return f"{where}: {self.message} (got {self.value!r})"
        return f"{where}: {self.message}"


class ConfigError(StockadeError):
    """A configuration file (or a file it names) is invalid.

    All issues are collected and reported at once.
    """

    def __init__(self, file: str | None, issues: Sequence[ConfigIssue]) -> None:
        super().__init__(file, tuple(issues))
        self.file = file
        self.issues = tuple(issues)

    def __str__(self) -> str:
        head = f"{self.file}: " if self.file else ""
        if len(self.issues) == 1:
            return f"{head}{self.issues[0]}"
        lines = [f"{head}{len(self.issues)} problems:"]
        lines.extend(f"  - {issue}" for issue in self.issues)
        return "\n".join(lines)


class FileFormatError(StockadeError):
    """A data file (htpasswd, rule file, blocklist) has a bad line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(file, line, message)
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class InvalidArgument(StockadeError, ValueError):
    """An API argument is out of range or of the wrong kind."""

    def __init__(self, name: str, value: object, accepted: str) -> None:
        super().__init__(name, value, accepted)
        self.name = name
        self.value = value
        self.accepted = accepted

    def __str__(self) -> str:
        return f"invalid {self.name} {self.value!r}: expected {self.accepted}"


class LockoutError(StockadeError):
    """Base of the errors of the login lockout API."""


class NoSuchDirectory(LockoutError):
    """The directory named in an API call is not a configured protected directory."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.directory = directory

    def __str__(self) -> str:
        return f"no_such_directory: {self.directory!r} is not a protected directory"


class NotBlocked(LockoutError):
    """``unblock_user`` found no block record for the user."""

    def __init__(self, user: str, directory: str | None) -> None:
        super().__init__(user, directory)
        self.user = user
        self.directory = directory

    def __str__(self) -> str:
        where = f"in {self.directory!r}" if self.directory is not None else "in any directory"
        return f"not_blocked: user {self.user!r} is not blocked {where}"


class StoreError(StockadeError):
    """The state store failed (I/O error, corrupt file, unreachable server)."""

    def __init__(self, store: str, operation: str, cause: BaseException | str) -> None:
        super().__init__(store, operation, cause)
        self.store = store
        self.operation = operation
        self.cause = cause

    def __str__(self) -> str:
        return f"store {self.store} failed during {self.operation}: {self.cause}"
