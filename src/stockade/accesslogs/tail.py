"""Follow one log file across rotations: every line read once, none lost, in bounded memory.

:meth:`FollowedFile.poll` reads what was appended since the last poll and returns the
complete lines. It keeps the file open and knows it by device and inode, so it sees each
way a log is rotated:

- **rename and create** (logrotate's default; nginx reopens its logs on ``USR1``): the path
  names a new file. The old one, still open, is read to its end and then kept open and read
  on: the proxy writes to it until it reopens its logs. It is closed once it has not grown
  for ``rotate_wait`` seconds. The new file is read from its start.
- **copytruncate**: the same file is emptied after a copy was taken. The truncation is
  seen when the file is shorter than the position read, or when the bytes just before that
  position are no longer those read (the file was emptied and has grown past it since).
  What was written between the last poll and the copy is in the copy: the newest sibling
  named after the file (``access.log.1``, ``access.log-20260101``; not a compressed one)
  whose bytes at that position are those read is read on from there. Then the file is
  read from its start. Only lines written between the copy and the truncation are lost,
  as copytruncate always loses them: prefer rename and create.
- the file **removed**: the open file is read on until the path names a file again.

A file present at the first poll is read from its end (``start = "end"``: what was logged
before stockade started is not counted again) or its beginning. A file that appears later,
or after a rotation, is new: it is read from its beginning. A line longer than
``max_line`` bytes is dropped (counted in :attr:`FollowedFile.too_long`); at most
``budget`` bytes are read per poll, and :attr:`FollowedFile.behind` says there is more.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from stockade.clock import Clock

__all__ = ["FollowedFile"]

CHUNK: Final = 64 * 1024
BUDGET: Final = 4 * 1024 * 1024
_TAIL: Final = 64  # bytes remembered before the position read, to recognise the file read
_COMPRESSED: Final = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".z", ".zip")
_CANDIDATES: Final = 5


@dataclass
class _Open:
    """One open file: where it was read to, the bytes just before, and the line begun."""

    fd: int
    ident: tuple[int, int]
    offset: int = 0
    tail: bytes = b""
    partial: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # dropping a line that is too long, up to its end
    last_growth: float = 0.0


class FollowedFile:
    """The lines appended to ``path``, whatever rotates it (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        from_start: bool = False,
        rotate_wait: float = 30.0,
        max_line: int = 64 * 1024,
        budget: int = BUDGET,
    ) -> None:
        self.path = path
        self.clock = clock
        self.from_start = from_start
        self.rotate_wait = rotate_wait
        self.max_line = max_line
        self.budget = budget
        self.too_long = 0  # lines dropped for their length
        self.truncations = 0  # copytruncate rotations seen
        self.unrecovered = 0  # of those, the ones whose copy was not found (lines may be lost)
        self.behind = False  # the last poll stopped at its budget: poll again
        self._current: _Open | None = None
        self._retired: list[_Open] = []
        self._first = True

    def poll(self) -> list[bytes]:
        """The complete lines appended since the last poll, without their newline."""
        out: list[bytes] = []
        budget = [self.budget]
        now = self.clock.now()
        for old in list(self._retired):
            if self._read(old, out, budget):
                old.last_growth = now
            elif now - old.last_growth >= self.rotate_wait:
                self._retired.remove(old)
                os.close(old.fd)
        current = self._current
        try:
            status = os.stat(self.path)
        except OSError:
            status = None
        if status is not None and current is not None and (status.st_dev, status.st_ino) != current.ident:
            self._read(current, out, budget)  # to its end, as far as it was written yet
            current.last_growth = now
            self._retired.append(current)
            self._current = current = None
        if status is not None and current is None and stat.S_ISREG(status.st_mode):
            current = self._current = self._open(at_end=self._first and not self.from_start)
        elif current is not None and status is not None and self._truncated(current, status.st_size):
            self.truncations += 1
            self._recover(current, out, budget)
            current.offset, current.tail, current.skipping = 0, b"", False
            current.partial.clear()
        self._first = False
        if current is not None:
            self._read(current, out, budget)
        self.behind = budget[0] <= 0
        return out

    def close(self) -> None:
        for opened in (*self._retired, *([self._current] if self._current is not None else [])):
            os.close(opened.fd)
        self._retired.clear()
        self._current = None

    # -- reading ---------------------------------------------------------------------------

    def _open(self, *, at_end: bool) -> _Open | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None  # gone again between the stat and the open: the next poll sees
        status = os.fstat(fd)  # the identity of what was opened, not of what the path named before
        opened = _Open(fd, (status.st_dev, status.st_ino), last_growth=self.clock.now())
        if at_end and status.st_size:
            opened.offset = status.st_size
            opened.tail = os.pread(fd, min(_TAIL, status.st_size), status.st_size - min(_TAIL, status.st_size))
            opened.skipping = not opened.tail.endswith(b"\n")  # a line being written: not a whole line
        return opened

    def _read(self, opened: _Open, out: list[bytes], budget: list[int]) -> bool:
        """Read ``opened`` on to its end (or the budget); True if anything was read."""
        grew = False
        while budget[0] > 0:
            data = os.pread(opened.fd, min(CHUNK, budget[0]), opened.offset)
            if not data:
                break
            grew = True
            budget[0] -= len(data)
            opened.offset += len(data)
            opened.tail = (opened.tail + data)[-_TAIL:] if len(data) < _TAIL else data[-_TAIL:]
            self._lines(opened, data, out)
        return grew

    def _lines(self, opened: _Open, data: bytes, out: list[bytes]) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if opened.skipping:
                opened.skipping = False
            elif opened.partial:
                opened.partial += data[start:end]
                line = bytes(opened.partial)
                opened.partial.clear()
                self._keep(line, out)
            else:
                self._keep(data[start:end], out)
            start = end + 1
        rest = data[start:]
        if not rest or opened.skipping:
            return
        if len(opened.partial) + len(rest) > self.max_line:
            opened.partial.clear()
            opened.skipping = True
            self.too_long += 1
            return
        opened.partial += rest

    def _keep(self, line: bytes, out: list[bytes]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            self.too_long += 1
            return
        if line:
            out.append(line)

    # -- copytruncate ------------------------------------------------------------------------

    def _truncated(self, opened: _Open, size: int) -> bool:
        if size < opened.offset:
            return True
        if not opened.offset or not opened.tail:
            return False
        return os.pread(opened.fd, len(opened.tail), opened.offset - len(opened.tail)) != opened.tail

    def _recover(self, opened: _Open, out: list[bytes], budget: list[int]) -> None:
        """Read what the copy holds beyond the position read (see the module docstring)."""
        if not opened.offset:
            return
        for candidate in self._copies(opened.ident):
            try:
                fd = os.open(candidate, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                start = opened.offset - len(opened.tail)
                if os.pread(fd, len(opened.tail), start) != opened.tail:
                    continue
                copy = _Open(fd, opened.ident, opened.offset, opened.tail, opened.partial, opened.skipping)
                self._read(copy, out, [max(budget[0], self.budget)])
                return
            finally:
                os.close(fd)
        self.unrecovered += 1

    def _copies(self, ident: tuple[int, int]) -> list[Path]:
        """Siblings named after the file, newest first, that are not it and not compressed."""
        name = self.path.name
        found: list[tuple[float, Path]] = []
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return []
        for entry in entries:
            if entry.name == name or not entry.name.startswith(name) or entry.name.lower().endswith(_COMPRESSED):
                continue
            try:
                status = entry.stat()
            except OSError:
                continue
            if stat.S_ISREG(status.st_mode) and (status.st_dev, status.st_ino) != ident:
                found.append((status.st_mtime, Path(entry.path)))
        found.sort(reverse=True)
        return [path for _mtime, path in found[:_CANDIDATES]]
