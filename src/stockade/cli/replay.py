"""``stockade replay``: recorded traffic through the guard with a simulated clock.

The input is read as a stream, in pieces of about a megabyte (a log of millions of lines
never sits in memory whole), and the output goes out in large writes. With ``--progress``, or when
stderr is a terminal and the replay takes a while, a line on stderr tells how far it got
(the share of the file read, when its size is known) and how fast (lines a second).

The configuration's schema, the guard and the stores are imported only when a replay runs,
after the built-in detection rules began compiling on another thread
(:func:`stockade.detection.engine.build_ahead`): the two overlap, and the replay's first
access-log line finds the engine built when the configuration keeps the default
detection settings (any other configuration builds its own, as before). The price: a
replay of JSON events alone, or a configuration that fails to load, now waits for that
build (a fraction of a second, on the other core) before the command exits.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

import click

from stockade.cli.config_file import config_option, one_line
from stockade.cli.exits import EXIT_CONFIG, fail
from stockade.clock import monotonic
from stockade.errors import ConfigError, InvalidArgument, StoreError

if TYPE_CHECKING:
    from stockade.replay import Replay

# Output is written in pieces of about this many characters.
_CHUNK = 1 << 16
# Input is read in pieces of at most this many bytes (whatever a pipe has ready, up to it).
_READ = 1 << 20
# A progress line at most this often (seconds); when it shows by itself (a terminal), the
# first one only after this long, so that short replays stay quiet.
PROGRESS_EVERY = 0.5


@click.command()
@config_option
@click.argument("events", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--store", "store_url", metavar="URL", help="Replay on this store instead of a fresh in-memory one.")
@click.option("--callbacks", is_flag=True, help="Call the configured event callbacks (never called by default).")
@click.option(
    "--fast/--no-fast",
    default=True,
    help="Replay the clean access-log lines natively [default]; --no-fast: every line in Python (same output).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress on stderr [default: when stderr is a terminal].",
)
def replay(
    *, config_path: Path, events: Path, store_url: str | None, callbacks: bool, fast: bool, progress: bool | None
) -> None:
    """Feed EVENTS (JSON lines or a combined access log; - for stdin) through the guard.

    One JSON line per event, with the client's address (ip) and the request's path, then
    {"counters": {...}} with every mod_block counter. The configured callbacks are not
    called unless --callbacks is given (their modules are not even imported).
    """
    _build_detection_ahead(config_path)
    from stockade.config import load_config  # noqa: PLC0415 - after the build began (see the module docs)
    from stockade.replay import Replay  # noqa: PLC0415 - likewise

    try:
        config = load_config(config_path, import_callbacks=callbacks)
    except ConfigError as exc:
        fail(one_line(exc), EXIT_CONFIG)
    try:
        source: BinaryIO = sys.stdin.buffer if str(events) == "-" else events.open("rb")
    except OSError as exc:
        fail(f"error: cannot read {events}: {exc.strerror or exc}", EXIT_CONFIG)
    meter = Progress(_size(source), sys.stderr, asked=progress)
    try:
        session = Replay(config, store_url, callbacks=callbacks, native=fast)
        asyncio.run(_run(session, meter.chunks(source), meter))
    except (StoreError, InvalidArgument) as exc:
        fail(f"error: {exc}")
    except OSError as exc:
        fail(f"error: cannot read {events}: {exc.strerror or exc}")
    finally:
        if source is not sys.stdin.buffer:
            source.close()


def _build_detection_ahead(config_path: Path) -> None:
    """Begin compiling the default detection engine on another thread when the
    configuration has a ``[bans]`` table (a quick look at the TOML: the full load and its
    errors come after)."""
    try:
        with config_path.open("rb") as file:
            bans = tomllib.load(file).get("bans")
    except (OSError, ValueError):
        return
    if isinstance(bans, dict) and bans.get("enabled", True) is not False:
        from stockade.detection.engine import build_ahead  # noqa: PLC0415 - only when a replay runs

        build_ahead()


async def _run(session: Replay, chunks: Iterator[bytes], meter: Progress) -> None:
    out: list[str] = []
    size = 0
    try:
        async for text in session.stream(chunks):
            out.append(text)
            size += len(text)
            if size >= _CHUNK:
                _write(out)
                size = 0
            meter.tick()
        _write(out)
        meter.done()
    finally:
        await session.close()


def _write(out: list[str]) -> None:
    if out:
        sys.stdout.write("".join(out))
        out.clear()
    sys.stdout.flush()


def _size(source: BinaryIO) -> int | None:
    """The size of a regular file (None for a pipe or a terminal: no percentage then)."""
    try:
        stat = os.fstat(source.fileno())
    except (OSError, ValueError):
        return None
    return stat.st_size if stat.st_mode & 0o170000 == 0o100000 else None


class Progress:
    """How far a replay got, on stderr: ``replay: 42% of 1.2 GB, 1,234,567 lines, 80,123 lines/s``.

    ``asked``: ``--progress`` (True), ``--no-progress`` (False) or neither (None: shown when
    the stream is a terminal, and only once the replay has run for :data:`PROGRESS_EVERY`
    seconds). On a terminal one line is rewritten in place; elsewhere each report is a
    line of its own. Reports come at most every :data:`PROGRESS_EVERY` seconds, and a last
    one at the end (with ``--progress`` always, otherwise when one came before).
    """

    def __init__(self, total: int | None, stream: TextIO, *, asked: bool | None) -> None:
        self.total = total
        self.stream = stream
        self.terminal = stream.isatty()
        self.shown = self.terminal if asked is None else asked
        self.always = asked is True
        self.read = 0
        self.count = 0
        self.started = monotonic()
        self._next = self.started + PROGRESS_EVERY
        self._reported = False

    def chunks(self, source: BinaryIO) -> Iterator[bytes]:
        """The bytes of ``source`` in pieces (what is ready, up to :data:`_READ`), their
        lines counted as they are read (a last line without a newline too)."""
        ended = True
        read = getattr(source, "read1", source.read)  # read1: what a pipe has, not a full piece
        while chunk := read(_READ):
            self.read += len(chunk)
            self.count += chunk.count(b"\n")
            ended = chunk.endswith(b"\n")
            yield chunk
        if not ended:
            self.count += 1

    def tick(self) -> None:
        if self.shown and monotonic() >= self._next:
            self._report()

    def done(self) -> None:
        if self.shown and (self.always or self._reported):
            self._report(final=True)

    def _report(self, *, final: bool = False) -> None:
        now = monotonic()
        self._next = now + PROGRESS_EVERY
        rate = self.count / max(now - self.started, 1e-6)
        share = "" if not self.total else f"{min(100, self.read * 100 // self.total)}% of {_size_text(self.total)}, "
        text = f"replay: {share}{self.count:,} lines, {rate:,.0f} lines/s"
        if self.terminal:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._reported = True


def _size_text(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"
