"""TLS on an accepted connection, with a half-close: a client done sending still reads its answers.

asyncio's SSL transport (and uvloop's, a port of it) ends the connection as soon as the
client's ``close_notify`` arrives, or a TCP end of input: it sends its own ``close_notify``
and drops whatever the application writes after. A client that finishes its request that
way (``SSL_shutdown`` after the last request, or ``shutdown(SHUT_WR)`` under TLS) never
reads the answer, though the request was whole and may have had its effect upstream.

So the server runs TLS itself, on memory BIOs over the plain transport, as asyncio does,
and treats either signal as the end of the client's input: the HTTP protocol gets
``eof_received`` and may keep the connection open to send its answers, then closes it with
its own ``close_notify``. A TCP end of input is not handed to OpenSSL, which would fail
every later write after an end without ``close_notify``; a request cut short by it is
incomplete by HTTP framing and is dropped by the HTTP protocol, so a truncation gains an
attacker nothing.

- The handshake must finish within ``handshake_timeout``; a failed one closes the
  connection (logged at debug level), before any HTTP.
- Closing sends ``close_notify`` and keeps reading (dropping what arrives) until the
  client's own, its end of input, or ``shutdown_timeout``, so that a client still sending
  does not get a reset that destroys the answer in flight.
- Renegotiation is off (:func:`~.tls.server_context`), so a write never waits on a read.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

log = logging.getLogger("stockade.server.http")

READ_SIZE = 64 * 1024
_HANDSHAKE, _OPEN, _CLOSING, _CLOSED = range(4)


class TlsConnection(asyncio.Protocol):
    """The protocol of the plain socket: TLS records in and out, plaintext to the HTTP protocol."""

    def __init__(
        self,
        context: ssl.SSLContext,
        app_factory: Callable[[], asyncio.Protocol],
        *,
        handshake_timeout: float,
        shutdown_timeout: float,
        pending: set[TlsConnection] | None = None,
    ) -> None:
        self.context = context
        self.app_factory = app_factory
        self.handshake_timeout = handshake_timeout
        self.shutdown_timeout = shutdown_timeout
        self.pending = pending  # connections still handshaking, for the acceptor to drop on stop
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.ssl = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.raw: asyncio.Transport
        self.app: asyncio.Protocol | None = None
        self.transport: TlsTransport | None = None
        self.state = _HANDSHAKE
        self.client_done = False  # close_notify or end of input from the client
        self.raw_eof = False  # the TCP end of input (kept from OpenSSL: see the module docstring)
        self.app_reading = True
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    # -- the plain transport's callbacks ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw = transport  # type: ignore[assignment]  # connect_accepted_socket gives a Transport
        if self.pending is not None:
            self.pending.add(self)
        self._timer = self._loop.call_later(self.handshake_timeout, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        if self.state == _CLOSED or (self.client_done and self.state == _OPEN):
            return
        self.incoming.write(data)
        if self.state == _HANDSHAKE:
            self._handshake()
        elif self.state == _OPEN:
            self._read()
        else:
            self._read_to_close()

    def eof_received(self) -> bool | None:
        self.raw_eof = True
        if self.state != _OPEN:
            return None  # handshaking or closing: nothing more to wait for
        self._read()  # the app hears of the end once it has read everything before it
        return True if self.state == _OPEN else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
        self._cancel_timer()
        if self.pending is not None:
            self.pending.discard(self)
        if self.app is not None:
            self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.app is not None:
            self.app.pause_writing()

    def resume_writing(self) -> None:
        if self.app is not None:
            self.app.resume_writing()

    # -- TLS --------------------------------------------------------------------------------

    def _handshake(self) -> None:
        try:
            self.ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, ValueError) as exc:
            log.debug("TLS handshake with %s failed: %r", self.raw.get_extra_info("peername"), exc)
            self.state = _CLOSED
            self._cancel_timer()
            self._flush()  # the alert, if any, then the end
            self.raw.close()
            return
        self._cancel_timer()
        if self.pending is not None:
            self.pending.discard(self)
        self._flush()
        self.state = _OPEN
        self.transport = TlsTransport(self)
        self.app = self.app_factory()
        self.app.connection_made(self.transport)
        self._read()  # application data that came with the end of the handshake

    def _handshake_timed_out(self) -> None:
        if self.state == _HANDSHAKE:
            log.debug("TLS handshake with %s timed out", self.raw.get_extra_info("peername"))
            self.abort()

    def _read(self) -> None:
        app = self.app
        while self.state == _OPEN and self.app_reading and not self.client_done and app is not None:
            try:
                data = self.ssl.read(READ_SIZE)
            except ssl.SSLWantReadError:
                if self.raw_eof:
                    self._client_finished()
                break
            except ssl.SSLZeroReturnError:
                data = b""
            except ssl.SSLError as exc:
                log.debug("TLS error from %s: %r", self.raw.get_extra_info("peername"), exc)
                self.abort()
                return
            if not data:
                self._client_finished()
                break
            app.data_received(data)
        self._flush()  # a key update or a post-handshake message may need an answer

    def _client_finished(self) -> None:
        """The client sends no more (close_notify or end of input): the app decides whether to answer."""
        self.client_done = True
        if self.app is not None and not self.app.eof_received():
            self.close()

    def resume(self) -> None:
        self.app_reading = True
        if self.state == _OPEN and not self.client_done:
            if not self.raw_eof:
                self.raw.resume_reading()
            self._loop.call_soon(self._read)  # records already received, and the end if it came

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.state != _OPEN or not data:
            return
        view = memoryview(data)
        try:
            while view:
                written = self.ssl.write(view)
                view = view[written:]
        except ssl.SSLError as exc:
            log.debug("TLS write to %s failed: %r", self.raw.get_extra_info("peername"), exc)
            self.abort()
            return
        self._flush()

    def close(self) -> None:
        """Send close_notify, then wait (bounded) for the client's before closing the socket."""
        if self.state in (_CLOSING, _CLOSED):
            return
        if self.state == _HANDSHAKE:
            self.abort()
            return
        self.state = _CLOSING
        try:
            self.ssl.unwrap()
        except ssl.SSLWantReadError:
            pass  # sent ours; the client's is still to come
        except ssl.SSLError:
            self._flush()
            self.raw.close()
            return
        self._flush()
        if self.client_done or self.raw_eof:
            self.raw.close()
            return
        self._timer = self._loop.call_later(self.shutdown_timeout, self.raw.close)
        self.raw.resume_reading()
        self._read_to_close()

    def _read_to_close(self) -> None:
        """While closing: drop what the client still sends, until its close_notify."""
        while True:
            try:
                if not self.ssl.read(READ_SIZE):
                    break
            except ssl.SSLWantReadError:
                return
            except ssl.SSLError:
                break
        self._cancel_timer()
        self.raw.close()

    def abort(self) -> None:
        self.state = _CLOSED
        self._cancel_timer()
        self.raw.abort()

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.raw.write(data)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TlsTransport(asyncio.Transport):
    """What the HTTP protocol writes to and reads from: plaintext, encrypted by its :class:`TlsConnection`."""

    def __init__(self, connection: TlsConnection) -> None:
        super().__init__()
        self._connection = connection

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        connection = self._connection
        if name == "ssl_object":
            return connection.ssl
        if name == "sslcontext":
            return connection.context
        if name == "peercert":
            return connection.ssl.getpeercert()
        if name == "cipher":
            return connection.ssl.cipher()
        return connection.raw.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._connection.state != _OPEN or self._connection.raw.is_closing()

    def close(self) -> None:
        self._connection.close()

    def abort(self) -> None:
        self._connection.abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._connection.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._connection.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        raise NotImplementedError("TLS has no half-close on the server's side")

    def can_write_eof(self) -> bool:
        return False

    def pause_reading(self) -> None:
        self._connection.app_reading = False
        self._connection.raw.pause_reading()

    def resume_reading(self) -> None:
        self._connection.resume()

    def is_reading(self) -> bool:
        return self._connection.app_reading

    def get_write_buffer_size(self) -> int:
        return self._connection.raw.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._connection.raw.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._connection.raw.set_write_buffer_limits(high, low)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._connection.app = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        app = self._connection.app
        assert app is not None
        return app
