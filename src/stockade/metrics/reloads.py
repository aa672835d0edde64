"""The reloads of this process: when, how they ended, and the errors of a refused one, one a line."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from stockade.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ReloadRecord:
    at: float
    ok: bool
    errors: tuple[str, ...] = ()


class Reloads:
    """The last ``keep`` reloads, newest last."""

    def __init__(self, *, keep: int = 20) -> None:
        self._records: deque[ReloadRecord] = deque(maxlen=keep)

    def succeeded(self, at: float) -> None:
        self._records.append(ReloadRecord(at, True))

    def failed(self, at: float, error: BaseException) -> None:
        self._records.append(ReloadRecord(at, False, problem_lines(error)))

    @property
    def last(self) -> ReloadRecord | None:
        return self._records[-1] if self._records else None

    def recent(self) -> list[ReloadRecord]:
        """Newest first."""
        return list(reversed(self._records))


def problem_lines(error: BaseException) -> tuple[str, ...]:
    """One line per problem: a configuration's issues each with its file, other errors line by line."""
    if isinstance(error, ConfigError) and error.issues:
        head = f"{error.file}: " if error.file else ""
        return tuple(f"{head}{issue}" for issue in error.issues)
    lines = tuple(line.strip() for line in str(error).splitlines() if line.strip())
    return lines or (type(error).__name__,)
