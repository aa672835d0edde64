"""Keep-alive HTTP/1.1 connections to the upstream, on asyncio protocols and httptools.

Written by hand because the general clients cost too much on this path (see the
dependency table of STYLE.md: aiohttp's client reached 9-12% of nginx, httpx about 1%).
A :class:`Connection` is an :class:`asyncio.Protocol` that feeds what arrives straight
into an ``httptools.HttpResponseParser``; the parser's callbacks collect the status and
headers and queue body pieces, and wake the single coroutine waiting on the connection.

Flow control: body pieces queue up to :data:`HIGH_WATER` bytes, then the transport stops
reading until the proxy has passed them on to the client; writes wait in :meth:`drain`
while the transport's buffer is full. Every wait on the upstream is bounded by the read
timeout, measured while waiting only (from the request to the first byte, then between
two pieces), never while the proxy is busy sending to a slow client; one coarse timer per
pool checks the waits (to within :data:`TICK_SECONDS`).

A connection goes back to the :class:`UpstreamPool` only when its response was parsed to
the end, the upstream did not say ``close`` and nothing failed; an idle connection the
upstream closes leaves the pool at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from stockade.server.proxy.errors import (
    BadUpstreamResponse,
    ClientGone,
    UpstreamClosed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from stockade.server.proxy.headers import (
    CONNECTION,
    LENGTH,
    PASS,
    RESPONSE_NAMES,
    TRANSFER_ENCODING,
    Headers,
    chunked_last,
    response_name,
    without_listed,
)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

HIGH_WATER = 256 * 1024  # queued response body bytes before reading from the upstream pauses
MAX_RESPONSE_HEAD = 64 * 1024  # bytes of response headers accepted from the upstream
STALL_SECONDS = 0.05  # a wait this long starts watching the client for a disconnect
TICK_SECONDS = 0.05  # how often waits are checked against the read timeout


class Connection(asyncio.Protocol):
    """One connection to the upstream, carrying one exchange at a time."""

    __slots__ = (
        "_active",
        "_buffered",
        "_chunks",
        "_connection",
        "_framed",
        "_head_request",
        "_head_size",
        "_interim",
        "_loop",
        "_parser",
        "_pool",
        "_read_timeout",
        "_reading_paused",
        "_since",
        "_until_eof",
        "_waiter",
        "_watch",
        "_watch_task",
        "_writing_paused",
        "closed",
        "complete",
        "error",
        "headers",
        "headers_done",
        "idle",
        "keep_alive",
        "received",
        "status",
        "transport",
    )

    def __init__(self, pool: UpstreamPool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self._loop = loop
        self._read_timeout = pool.read_timeout
        self._parser = HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle = False
        self._writing_paused = False
        self._reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._since = 0.0  # when the current wait began
        self._watch: Receive | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._connection: list[bytes] = []  # the response's Connection values
        self._framed = False
        self._chunks: list[bytes] = []
        self._head_size = 0
        self._interim = False
        self._begin(False)

    # -- one exchange ------------------------------------------------------------------------

    def _begin(self, head: bool) -> None:
        self.status = 0
        self.headers: Headers = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = True
        self.received = False  # some byte of this exchange's response has arrived
        self.error: UpstreamError | ClientGone | None = None
        self._head_request = head
        self._active = True
        self._until_eof = False
        self._buffered = 0
        self._chunks.clear()

    def begin(self, *, head: bool) -> None:
        """Start a new exchange (``head``: the request is a HEAD, its response has no body)."""
        self._begin(head)

    @property
    def reusable(self) -> bool:
        """The response was read to the end and the connection may carry another request."""
        return self.complete and self.keep_alive and self.error is None and not self.closed

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def writelines(self, data: list[bytes]) -> None:
        if self.transport is not None and not self.closed:
            self.transport.writelines(data)

    @property
    def must_drain(self) -> bool:
        return self._writing_paused

    async def drain(self) -> None:
        """Wait (up to the read timeout) while the upstream does not take what was written.

        Returns early when something arrives from the upstream, so the caller can notice an
        early response; raises when the connection failed.
        """
        if self.error is not None:
            raise self.error
        if self.closed:
            raise UpstreamClosed(f"{self._pool.name} closed the connection", received=self.received)
        if self._writing_paused:
            await self.wait()

    async def response_head(self) -> None:
        """Wait for the response's status and headers; raise what went wrong."""
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            await self.wait()

    def take(self) -> bytes:
        """The body bytes queued so far (possibly empty), resuming reads if they were paused."""
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()  # the list is reused, the bytes are handed over
        self._buffered = 0
        if self._reading_paused:
            self._reading_paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        return data

    async def more(self) -> None:
        """Wait until more of the body or its end has arrived; raise what went wrong."""
        if self._chunks or self.complete:
            return
        if self.error is not None:
            raise self.error
        await self.wait()

    def watch_client(self, receive: Receive) -> None:
        """Watch ``receive`` for the client's disconnect once a wait on the upstream stalls."""
        self._watch = receive

    def start_watch(self) -> None:
        """Watch the client for a disconnect from now on (a streaming response)."""
        if self._watch is not None and self._watch_task is None:
            self._watch_task = self._loop.create_task(self._watch_client(self._watch))

    def end(self) -> None:
        """The exchange is over: stop watching the client."""
        self._active = False
        self._watch = None
        self._waiter = None
        task = self._watch_task
        if task is not None:
            self._watch_task = None
            task.cancel()

    async def _watch_client(self, receive: Receive) -> None:
        # A request with no body may still hold its one (empty) http.request message.
        for _ in range(2):
            message = await receive()
            if message["type"] == "http.disconnect":
                self.abort(ClientGone("the client disconnected"))
                return
            if message.get("more_body", False):
                return  # not a server that follows the ASGI spec: stop watching

    def abort(self, error: UpstreamError | ClientGone) -> None:
        """Fail the exchange with ``error`` and drop the connection at once."""
        if self.error is None:
            self.error = error
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def close(self) -> None:
        """Close the connection (after whatever is buffered is written)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- waiting -----------------------------------------------------------------------------

    def wait(self) -> asyncio.Future[None]:
        """A future done when something happens on the connection (or its wait times out).

        A plain function handing back the future, no coroutine of its own: a waiter left
        behind by a cancelled wait is dropped by :meth:`end`, or replaced by the next wait.
        """
        loop = self._loop
        waiter = loop.create_future()
        self._waiter = waiter
        self._since = loop.time()
        pool = self._pool
        if pool.ticker is None:
            pool.start_ticker(loop)
        return waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def check_wait(self, now: float) -> bool:
        """On the pool's tick: start watching the client, or time out, as the wait demands.

        Returns whether the connection is (still) waiting.
        """
        waiter = self._waiter
        if waiter is None or waiter.done():
            return False
        waited = now - self._since
        if waited >= STALL_SECONDS and self._watch is not None and self._watch_task is None:
            self.start_watch()
        if waited >= self._read_timeout:
            self._timed_out()
            return False
        return True

    def _timed_out(self) -> None:
        what = "more of the response" if self.received else "response"
        self.abort(UpstreamTimeout(f"no {what} from {self._pool.name} within {self._read_timeout:g} s"))

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # create_connection makes a Transport
        self._pool.open.add(self)

    def data_received(self, data: bytes) -> None:
        if not self._active or self.complete:
            # Bytes nobody asked for: the connection's state is unknown, never reuse it.
            self.keep_alive = False
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            self.abort(BadUpstreamResponse(f"{self._pool.name} switched protocols"))
        except HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, UpstreamError) else exc
            self.abort(BadUpstreamResponse(f"malformed response from {self._pool.name}: {cause}"))
        if self._head_request and self.headers_done:
            # httptools cannot be told that a HEAD response has no body; start afresh.
            self._parser = HttpResponseParser(self)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.open.discard(self)
        if self.idle:
            self._pool.discard(self)
            return
        if self._active and not self.complete and self.error is None:
            if self._until_eof and exc is None:
                self.complete = True  # a body delimited by the end of the connection
                self.keep_alive = False
            else:
                reason = f": {exc}" if exc is not None else ""
                self.error = UpstreamClosed(f"{self._pool.name} closed the connection{reason}", received=self.received)
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            raise BadUpstreamResponse("a second response to one request")
        self.headers = []
        self._connection.clear()
        self._framed = False
        self._head_size = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        # headers.response_headers, one header at a time
        size = self._head_size + len(name) + len(value) + 4
        self._head_size = size
        if size > MAX_RESPONSE_HEAD:
            raise BadUpstreamResponse(f"response headers over {MAX_RESPONSE_HEAD} bytes")
        lower, kind = RESPONSE_NAMES.get(name) or response_name(name)
        if kind == PASS:
            self.headers.append((lower, value))
        elif kind == LENGTH:
            self._framed = True
            self.headers.append((lower, value))
        elif kind == CONNECTION:
            self._connection.append(value)
        elif kind == TRANSFER_ENCODING:
            self._framed = chunked_last(value)

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            self._interim = True  # 100 Continue, 103 Early Hints: not passed on
            return
        self.status = status
        self.headers, close = without_listed(self.headers, self._connection)
        framed = self._framed
        self.keep_alive = not close
        self.headers_done = True
        if self._head_request:
            self.complete = True
            self.keep_alive = not close and self._parser.get_http_version() == "1.1"
        elif not framed and status not in (204, 304):
            self._until_eof = True
            self.keep_alive = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._head_request:
            raise BadUpstreamResponse("a body in the response to a HEAD request")
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._head_request:
            return
        self.complete = True
        if self.keep_alive and not self._parser.should_keep_alive():
            self.keep_alive = False
        self._wake()


class UpstreamPool:
    """Idle keep-alive connections to one upstream ``host:port`` (most recently used first)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float, read_timeout: float, max_idle: int) -> None:
        self.host = host
        self.port = port
        self.name = f"{host}:{port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self._idle: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0  # the thread that runs _loop
        self.open: set[Connection] = set()  # every connection not yet lost
        self.ticker: asyncio.TimerHandle | None = None

    def start_ticker(self, loop: asyncio.AbstractEventLoop) -> None:
        """Check the waiting connections every :data:`TICK_SECONDS` while there are any.

        One coarse timer for all, rather than one timer per wait: arming and cancelling a
        timer for every response costs more than the rest of the wait's bookkeeping.
        """
        self.ticker = loop.call_later(TICK_SECONDS, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ticker = None
        now = loop.time()
        waiting = False
        for conn in list(self.open):
            if conn.check_wait(now):
                waiting = True
        if waiting:
            self.start_ticker(loop)

    def running_loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop: the pool's own while it runs in this thread, else asyncio's.

        A thread runs one loop at a time, so the pool's loop running in this thread is the
        running loop. It spares ``asyncio.get_running_loop()``, which on Python 3.11 makes a
        ``getpid()`` system call each time.
        """
        loop = self._loop
        if loop is not None and self._thread == threading.get_ident() and loop.is_running():
            return loop
        return asyncio.get_running_loop()

    def take_idle(self, loop: asyncio.AbstractEventLoop) -> Connection | None:
        """An idle connection that is still open, or None."""
        if loop is not self._loop:
            self.close()  # connections of another event loop cannot be used here
            self.open.clear()
            self._loop = loop
            self._thread = threading.get_ident()
            return None
        idle = self._idle
        while idle:
            conn = idle.pop()
            conn.idle = False
            if not conn.closed:
                return conn
        return None

    async def connect(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """A new connection, within the connect timeout."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(lambda: Connection(self, loop), self.host, self.port)
        except TimeoutError:
            raise UpstreamTimeout(f"no connection to {self.name} within {self.connect_timeout:g} s") from None
        except OSError as exc:
            raise UpstreamUnavailable(f"cannot connect to {self.name}: {exc.strerror or exc}") from None
        return conn

    def release(self, conn: Connection) -> None:
        """End ``conn``'s exchange: keep it for the next request if it may carry one, else close it."""
        conn.end()
        if conn.reusable and len(self._idle) < self.max_idle:
            conn.idle = True
            self._idle.append(conn)
        elif not conn.closed:
            conn.close()

    def discard(self, conn: Connection) -> None:
        """``conn`` was closed by the upstream while idle."""
        conn.idle = False
        if conn in self._idle:
            self._idle.remove(conn)

    def close(self) -> None:
        """Close every idle connection."""
        if self.ticker is not None:
            self.ticker.cancel()
            self.ticker = None
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.idle = False
            conn.close()
