"""Following a log file on disk across real rotations: every line once, none lost, none twice.

A writer holds the log open with O_APPEND, as nginx does, and the rotations are done on the
real file system the way logrotate does them (rename and create, or copy and truncate).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from stockade.accesslogs.tail import FollowedFile
from stockade.clock import ManualClock


class Writer:
    """A proxy writing its access log: the file open for appending until it reopens it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def lines(self, n: int) -> list[bytes]:
        written = []
        for _ in range(n):
            self.count += 1
            line = b"line %d" % self.count
            os.write(self.fd, line + b"\n")
            written.append(line)
        return written

    def raw(self, data: bytes) -> None:
        os.write(self.fd, data)

    def reopen(self) -> None:
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def close(self) -> None:
        os.close(self.fd)


def follow(path: Path, clock: ManualClock | None = None, **options: object) -> FollowedFile:
    return FollowedFile(path, clock=clock or ManualClock(0.0), **options)  # type: ignore[arg-type]


def test_from_the_end_what_was_there_is_not_read(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    writer.lines(3)
    writer.raw(b"half a li")
    followed = follow(log)
    assert followed.poll() == []
    writer.raw(b"ne\n")  # the end of the line being written when stockade started: not a whole line
    assert followed.poll() == []
    assert followed.poll() == []
    assert followed.poll() == []
    assert followed.too_long == 0
    new = writer.lines(2)
    assert followed.poll() == new
    followed.close()
    writer.close()


def test_from_the_start_and_lines_in_pieces(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    first = writer.lines(2)
    followed = follow(log, from_start=True)
    assert followed.poll() == first
    writer.raw(b"abc")
    assert followed.poll() == []
    writer.raw(b"def\r\nghi\n\n")
    assert followed.poll() == [b"abcdef", b"ghi"]
    followed.close()
    writer.close()


def test_rename_and_create_reads_the_old_file_to_its_end_then_the_new(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    clock = ManualClock(0.0)
    writer = Writer(log)
    followed = follow(log, clock, rotate_wait=30)
    followed.poll()
    seen = followed.poll()
    expected = writer.lines(3)
    seen += followed.poll()
    expected += writer.lines(2)  # not read yet when the file is rotated
    os.rename(log, tmp_path / "access.log.1")
    expected += writer.lines(2)  # the proxy writes to the renamed file until it reopens its log
    seen += followed.poll()  # the path names nothing: the open file is read on
    log.touch()  # logrotate's "create"
    expected += writer.lines(1)  # still the old file
    seen += followed.poll()
    writer.reopen()  # nginx -s reopen
    expected += writer.lines(3)
    seen += followed.poll()
    expected += writer.lines(1)
    seen += followed.poll()
    assert seen == expected
    assert len(followed._retired) == 1
    clock.advance(31)
    assert followed.poll() == []
    assert followed._retired == []  # the rotated file is closed once idle for rotate_wait
    followed.close()
    writer.close()


def test_copytruncate_reads_the_lines_it_missed_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    followed = follow(log, from_start=True)
    seen = followed.poll()
    expected = writer.lines(4)
    seen += followed.poll()
    expected += writer.lines(3)  # written after the last poll, before the copy
    shutil.copyfile(log, tmp_path / "access.log.1")
    other = tmp_path / "access.log.old"
    other.write_bytes(b"another file, looked at first but not the copy\n" * 4)
    os.utime(other, (os.stat(log).st_mtime + 60,) * 2)
    os.truncate(log, 0)
    expected += writer.lines(2)
    seen += followed.poll()
    assert seen == expected
    assert (followed.truncations, followed.unrecovered) == (1, 0)
    followed.close()
    writer.close()


def test_a_truncated_file_grown_past_the_position_read_is_still_seen(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    followed = follow(log, from_start=True)
    expected = writer.lines(2)
    seen = followed.poll()
    expected += writer.lines(1)
    shutil.copyfile(log, tmp_path / "access.log-20260101")  # logrotate's dateext
    (tmp_path / "access.log.2.gz").write_bytes(b"compressed, never read")
    os.truncate(log, 0)
    expected += writer.lines(10)  # longer than what was read before the truncation
    seen += followed.poll()
    assert seen == expected
    assert followed.truncations == 1
    followed.close()
    writer.close()


def test_copytruncate_without_a_copy_reads_the_new_content_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    followed = follow(log, from_start=True)
    writer.lines(3)
    followed.poll()
    writer.lines(1)  # lost: no copy holds it
    os.truncate(log, 0)
    after = writer.lines(1)
    assert followed.poll() == after
    assert (followed.truncations, followed.unrecovered) == (1, 1)
    followed.close()
    writer.close()


def test_a_removed_file_is_read_on_and_a_new_one_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    followed = follow(log)
    assert followed.poll() == []  # not there yet
    writer = Writer(log)
    first = writer.lines(2)
    assert followed.poll() == first  # a file that appears later is new: read from its start
    os.unlink(log)
    late = writer.lines(1)
    assert followed.poll() == late
    writer.close()
    again = Writer(log)
    again.count = 10
    new = again.lines(1)
    assert followed.poll() == new == [b"line 11"]
    followed.close()
    again.close()


def test_long_lines_are_dropped_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    followed = follow(log, from_start=True, max_line=16)
    writer.raw(b"x" * 10)
    assert followed.poll() == []
    writer.raw(b"y" * 10 + b"z" * 100 + b"\nshort\n" + b"w" * 40 + b"\nok\n")
    assert followed.poll() == [b"short", b"ok"]
    assert followed.too_long == 2
    followed.close()
    writer.close()


def test_a_poll_reads_at_most_its_budget(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    writer = Writer(log)
    expected = writer.lines(1000)
    followed = follow(log, from_start=True, budget=1024)
    seen: list[bytes] = []
    polls = 0
    while True:
        seen += followed.poll()
        polls += 1
        if not followed.behind:
            break
    assert seen == expected
    assert polls > 5
    followed.close()
    writer.close()
