"""Protected directories matched by URL path prefix on segment boundaries.

The reference matches directory keys as unanchored regular expressions, so ``/a/secure``
also protects ``/a/secure2``; here ``/secure`` protects ``/secure`` and everything under
``/secure/``, nothing else, and the longest matching directory wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


def normalize_directory(path: str) -> str:
    """``/secure/`` and ``/secure`` name the same directory; ``/`` stays ``/``."""
    if not path.startswith("/"):
        raise ValueError(f"directory path {path!r} must start with '/'")
    stripped = path.rstrip("/")
    return stripped or "/"


class DirectoryTable(Generic[T]):
    """Finds the protected directory that covers a normalised request path."""

    def __init__(self, entries: Mapping[str, T] | Iterable[tuple[str, T]]) -> None:
        items = entries.items() if isinstance(entries, Mapping) else entries
        self._entries: dict[str, T] = {normalize_directory(path): value for path, value in items}
        # Longest first, so that /a/b wins over /a.
        self._ordered = sorted(self._entries.items(), key=lambda item: len(item[0]), reverse=True)
        # Every match starts with one of these: one C-level test rules most requests out.
        self._starts = tuple(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def get(self, path: str) -> T | None:
        return self._entries.get(path)

    def match(self, request_path: str) -> tuple[str, T] | None:
        if not request_path.startswith(self._starts):
            return None
        for prefix, value in self._ordered:
            if prefix in ("/", request_path) or request_path.startswith(prefix + "/"):
                return prefix, value
        return None
