"""Messages between the supervisor and its workers: JSON objects, length-prefixed, on a socketpair.

Each message is a 4-byte big-endian length, then that many bytes of UTF-8 JSON. Both ends
send whole messages and read whole messages; one message is never interleaved with another.

The supervisor's end (:class:`Channel`) is non-blocking and driven by its ``selectors``
loop: it buffers what the worker has not read yet, so a slow worker never blocks the
supervisor. A worker's end (:class:`Link`) runs on the worker's event loop. What the
messages say is :mod:`stockade.server.http.workers`' business (and the app's).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_MESSAGE", "Channel", "ControlError", "Link", "encode"]

_HEADER: Final = struct.Struct("!I")
MAX_MESSAGE: Final = 64 * 1024 * 1024

Message = dict[str, Any]


class ControlError(Exception):
    """The other end sent something that is not a message (a bug, never input from a client)."""


def encode(message: Mapping[str, object]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), default=str).encode()
    return _HEADER.pack(len(body)) + body


def _decode(body: bytes) -> Message:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise ControlError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ControlError("not a JSON object")
    return value


class Channel:
    """The supervisor's end of one worker's socketpair (non-blocking)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)
        self._inbox = bytearray()
        self._outbox = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def pending(self) -> bool:
        """Bytes are waiting for the worker to read them."""
        return bool(self._outbox)

    def send(self, message: Mapping[str, object]) -> None:
        self._outbox += encode(message)
        self.flush()

    def flush(self) -> None:
        """Write what the socket takes now; the rest waits for the next call."""
        while self._outbox:
            try:
                sent = self.sock.send(self._outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the worker is gone; its end is reaped with it
                self._outbox.clear()
                return
            del self._outbox[:sent]

    def receive(self) -> list[Message] | None:
        """The whole messages readable now; ``None`` once the worker closed its end."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return None
            if not data:
                return None
            self._inbox += data
        messages: list[Message] = []
        while len(self._inbox) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._inbox)
            if size > MAX_MESSAGE:
                raise ControlError(f"a message of {size} bytes")
            if len(self._inbox) < _HEADER.size + size:
                break
            body = bytes(self._inbox[_HEADER.size : _HEADER.size + size])
            del self._inbox[: _HEADER.size + size]
            messages.append(_decode(body))
        return messages

    def close(self) -> None:
        self.sock.close()


class Link:
    """A worker's end of its socketpair, on the worker's event loop."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.sock.setblocking(False)
        self._reader, self._writer = await asyncio.open_unix_connection(sock=self.sock, limit=MAX_MESSAGE)

    async def receive(self) -> Message | None:
        """The next message; ``None`` once the supervisor is gone."""
        if self._reader is None:
            raise RuntimeError("the link is not open")
        try:
            header = await self._reader.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            if size > MAX_MESSAGE:
                raise ControlError(f"a message of {size} bytes")
            return _decode(await self._reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def send(self, message: Mapping[str, object]) -> None:
        """Queue a whole message (one write, so messages never interleave)."""
        if self._writer is None or self._writer.is_closing():
            return
        self._writer.write(encode(message))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        else:
            self.sock.close()
