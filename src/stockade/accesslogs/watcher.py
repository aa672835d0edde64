"""Count what a proxy's access log tells: the responses the decision endpoint never sees.

A decision endpoint hears each request before the upstream answers it; the status the
client got (a 404 of a probe, a 401 of a guessed password) shows only in the proxy's
access log. :class:`LogWatcher` follows the configured logs
(:class:`~stockade.accesslogs.tail.FollowedFile`), reads each line
(:mod:`stockade.accesslogs.formats`) and feeds the guard's bans with it, on the same store:

- the response rules (``[bans] response_rules``: more than ``count`` of these statuses in
  ``window``) count the status against the client;
- with ``detect`` (the default without a decision endpoint, which inspects every request
  already), the detection rules inspect the logged request line, its ``Host``,
  ``User-Agent`` and ``Referer``, and a probe counts a strike.

A ban made this way is enforced wherever the store is read: by the decision endpoint of
this process or of any other sharing the store. So the log alone is enough for a site
where stockade only watches and bans, as fail2ban does.

The client is the logged address; with a ``forwarded_for`` field, the logged
``X-Forwarded-For`` is believed only when the logged address is a trusted proxy
(``[proxy] trusted``), walked as :mod:`stockade.core.client_ip` walks it. Each logged
request becomes a canonical request through :func:`~stockade.request.asgi.from_asgi`, as
a served one does; a request with no safe canonical form has its status counted, on the
raw path, and is not inspected.

The files are polled when ``watchfiles`` reports a change, and every ``poll_interval``
seconds in any case (a rotated file, renamed away, is no longer watched by name).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from stockade.accesslogs.formats import LineError, LogEntry, parser_for
from stockade.accesslogs.settings import LogSettings
from stockade.accesslogs.tail import FollowedFile
from stockade.clock import Clock
from stockade.core.client_ip import XFF, ClientIpResolver, TrustedProxies
from stockade.engine._async.guard import AsyncGuard
from stockade.errors import BadRequest
from stockade.netaddr import normalize_ip
from stockade.request.asgi import from_asgi
from stockade.request.paths import DEFAULT_POLICY, PathPolicy
from stockade.rules.watch import watch_files

__all__ = ["LogWatcher"]

log = logging.getLogger("stockade.accesslogs")


class LogWatcher:
    """Follows the access logs of ``settings`` into the bans of the guard ``guard()`` returns.

    ``guard`` is called for each line, so that a server's reload (a new guard on the same
    store) is followed. ``counts`` receives ``counted``, ``unparsed`` and ``too_long`` (the
    metrics' line counts); ``ready`` is set once every file has been looked at.
    """

    def __init__(
        self,
        settings: LogSettings,
        guard: Callable[[], AsyncGuard | None],
        *,
        clock: Clock,
        trusted: tuple[str, ...] = (),
        policy: PathPolicy = DEFAULT_POLICY,
        counts: MutableMapping[str, int] | None = None,
    ) -> None:
        self.settings = settings
        self.guard = guard
        self.clock = clock
        self.policy = policy
        self.parse = parser_for(settings)
        self.resolver = ClientIpResolver(TrustedProxies(trusted, XFF))
        self.counts: MutableMapping[str, int] = counts if counts is not None else {}
        self.ready = threading.Event()
        self.lines_read = 0  # every line read so far, counted or not (see wait_for_lines)
        self._progress = threading.Condition()
        self.files = [
            FollowedFile(
                path,
                clock=clock,
                from_start=settings.start == "beginning",
                rotate_wait=settings.rotate_wait,
                max_line=settings.max_line_bytes,
            )
            for path in settings.files
        ]
        self._too_long = 0
        self._unrecovered: dict[Path, int] = {}

    async def run(self, stop: asyncio.Event | None = None, *, on_ready: Callable[[], object] | None = None) -> None:
        """Follow the logs until ``stop`` is set or the task is cancelled; ``on_ready`` once they are open."""
        stop = stop or asyncio.Event()
        wake = asyncio.Event()

        async def changed(_names: list[str]) -> None:
            wake.set()

        watch = asyncio.create_task(
            watch_files({str(f.path): str(f.path) for f in self.files}, changed, stop_event=stop, debounce_ms=50)
        )
        try:
            await self.poll()
            self.ready.set()
            for followed in self.files:
                log.info("following %s (%s)", followed.path, self.settings.format)
            if on_ready is not None:
                on_ready()
            while not stop.is_set():
                if not any(f.behind for f in self.files):
                    waiting = asyncio.ensure_future(wake.wait())
                    stopping = asyncio.ensure_future(stop.wait())
                    await asyncio.wait(
                        (waiting, stopping), timeout=self.settings.poll_interval, return_when=asyncio.FIRST_COMPLETED
                    )
                    waiting.cancel()
                    stopping.cancel()
                wake.clear()
                await self.poll()
        finally:
            stop.set()
            await asyncio.wait([watch])
            for followed in self.files:
                followed.close()

    async def poll(self) -> int:
        """Read and count what every file gained; returns the number of lines read."""
        read = 0
        for followed in self.files:
            lines = followed.poll()
            read += len(lines)
            for line in lines:
                await self.count_line(line)
        self._report()
        if read:
            with self._progress:
                self.lines_read += read
                self._progress.notify_all()
        return read

    def wait_for_lines(self, count: int, timeout: float) -> bool:
        """Block (another thread than the watcher's) until ``count`` lines have been read and counted."""
        with self._progress:
            return self._progress.wait_for(lambda: self.lines_read >= count, timeout)

    async def count_line(self, line: bytes) -> None:
        """One line of a log: parsed, then counted against its client."""
        try:
            entry = self.parse(line)
        except LineError:
            self._count("unparsed")
            return
        guard = self.guard()
        if guard is None or not await self.count_entry(guard, entry):
            self._count("unparsed")
            return
        self._count("counted")

    async def count_entry(self, guard: AsyncGuard, entry: LogEntry) -> bool:
        """Feed one entry to the guard's bans; False when it names no client address."""
        forwarded = [(b"x-forwarded-for", entry.forwarded_for.encode("latin-1", "replace"))]
        decided = self.resolver.resolve(entry.client, forwarded if entry.forwarded_for else [])
        client = normalize_ip(decided.address)
        if client is None:
            return False
        bans = guard.bans
        path = ""
        if entry.target is not None:
            try:
                request = from_asgi(self._scope(entry), policy=self.policy, resolver=self.resolver, clock=self.clock)
            except BadRequest as exc:
                path = entry.target.split(b"?", 1)[0].decode("latin-1")
                if self.settings.detect and exc.hostile:
                    await bans.refused(client, exc.reason)
            else:
                path = request.path
                if self.settings.detect:
                    await bans.inspect(client, request)
        await bans.observe_response(client, path, entry.status)
        return True

    def _scope(self, entry: LogEntry) -> MutableMapping[str, Any]:
        target = entry.target or b"/"
        raw_path, _, query = target.partition(b"?")
        headers: list[tuple[bytes, bytes]] = []
        for name, value in ((b"host", entry.host), (b"user-agent", entry.user_agent), (b"referer", entry.referer)):
            if value:
                headers.append((name, value.encode("utf-8", "surrogateescape")))
        if entry.forwarded_for:
            headers.append((b"x-forwarded-for", entry.forwarded_for.encode("latin-1", "replace")))
        version = entry.protocol.removeprefix("HTTP/")
        return {
            "type": "http",
            "method": entry.method or "GET",
            "raw_path": raw_path,
            "query_string": query,
            "headers": headers,
            "client": (entry.client, 0),
            "server": None,
            "scheme": "http",
            "http_version": version if version in ("0.9", "1.0", "1.1", "2", "2.0", "3") else "1.1",
        }

    def _count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def _report(self) -> None:
        too_long = sum(f.too_long for f in self.files)
        if too_long > self._too_long:
            self.counts["too_long"] = self.counts.get("too_long", 0) + too_long - self._too_long
            self._too_long = too_long
        for followed in self.files:
            if followed.unrecovered > self._unrecovered.get(followed.path, 0):
                self._unrecovered[followed.path] = followed.unrecovered
                log.warning(
                    "%s was truncated (copytruncate) and no copy of it was found: lines written since the last"
                    " read may be lost",
                    followed.path,
                )
