"""Accepting connections: the connection check, the PROXY header, then HTTP (plain or TLS).

Each listening socket gets a reader callback that accepts until the backlog is empty.
Before a byte is read from an accepted connection, the :data:`ConnectionCheck` sees its
peer; a refused connection is closed, having been sent nothing. On a PROXY-protocol
listener, a peer that may not send a PROXY header (:mod:`~.proxy_peers`) is closed even
before that, counted, and logged at most once a minute. From a trusted peer the header is
read exactly: peeked, and only the bytes it spans consumed, so the TLS handshake or HTTP
request behind it is left untouched; the check then runs again on the source address the
proxy reported. Only then does asyncio take the socket (``connect_accepted_socket``), with
TLS on top (:mod:`~.tls_stream`) if the listener has a certificate.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stockade.netaddr import normalize_ip
from stockade.server.http import proxy_protocol
from stockade.server.http.protocol import HttpProtocol
from stockade.server.http.proxy_peers import ProxyPeers, check_proxy_listener
from stockade.server.http.state import ServerState
from stockade.server.http.tls import server_context
from stockade.server.http.tls_stream import TlsConnection
from stockade.server.listeners import bind_all, url_of
from stockade.server.settings import ConnectionCheck, ConnectionFacts, ListenerSpec

log = logging.getLogger("stockade.server.http")

ACCEPT_BATCH = 64
PEEK_BYTES = 536  # a v1 header (107 bytes) or a v2 header with the usual TLVs, in one peek
# How long closing a TLS connection waits for the client's close_notify (asyncio waits 30 s).
TLS_SHUTDOWN_SECONDS = 2.0
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# Told the listener's name for each connection closed because its peer may not send a PROXY header.
ProxyRefused = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BoundListener:
    """A listening socket, its options (``spec.address`` with the real port) and its TLS context."""

    spec: ListenerSpec
    sock: socket.socket
    context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:8080`` (``https`` with TLS; a wildcard as the loopback address)."""
        plain = url_of(self.spec.address)
        return "https" + plain[4:] if self.context is not None else plain


def bind_listeners(specs: Sequence[ListenerSpec]) -> list[BoundListener]:
    """Load every TLS certificate, then bind every address.

    Raises ``ConfigError`` for a PROXY-protocol listener that trusts no peer, ``TlsSetupError``
    or ``ListenError``.
    """
    for spec in specs:
        check_proxy_listener(spec)
    contexts = [server_context(spec.tls) if spec.tls is not None else None for spec in specs]
    sockets, bound = bind_all([spec.address for spec in specs])
    return [
        BoundListener(replace(spec, address=address), sock, context)
        for spec, address, sock, context in zip(specs, bound, sockets, contexts, strict=True)
    ]


class Acceptor:
    """Accepts the connections of one listening socket on the running event loop."""

    def __init__(
        self,
        state: ServerState,
        listener: BoundListener,
        *,
        check: ConnectionCheck | None = None,
        proxy_refused: ProxyRefused | None = None,
    ) -> None:
        self.state = state
        self.sock = listener.sock
        self.spec = listener.spec
        self.check = check
        self.proxy_peers = ProxyPeers(listener.spec) if listener.spec.proxy_protocol != "off" else None
        self.proxy_refused = proxy_refused
        self.context = listener.context
        self.scheme = "https" if self.context is not None else "http"
        self.name = str(listener.spec.address)
        self.check_errors = 0
        self.loop = asyncio.get_running_loop()
        self._accepting = False
        self._readers: set[_ProxyReader] = set()
        self._handovers: set[asyncio.Task[None]] = set()
        self._handshakes: set[TlsConnection] = set()

    def start(self) -> None:
        self.sock.setblocking(False)
        self.loop.add_reader(self.sock.fileno(), self._accept)
        self._accepting = True

    def stop(self) -> None:
        """Accept no more; drop connections still sending their PROXY header or handshaking."""
        if self._accepting:
            self.loop.remove_reader(self.sock.fileno())
            self._accepting = False
        for reader in list(self._readers):
            reader.close()
        for task in self._handovers:
            task.cancel()
        for connection in list(self._handshakes):
            connection.abort()

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.error("cannot accept on %s (%s); trying again in a second", self.name, exc.strerror)
                    self.loop.remove_reader(self.sock.fileno())
                    self.loop.call_later(1.0, self._resume)
                    return
                continue  # the peer gave up while it waited in the backlog
            self._admit(conn, peer)

    def _resume(self) -> None:
        if self._accepting and not self.state.stopping:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def _admit(self, conn: socket.socket, peer: Any) -> None:
        conn.setblocking(False)
        try:
            local = conn.getsockname()
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            conn.close()
            return
        facts = ConnectionFacts(peer=_address(peer), local=_address(local), listener=self.spec, close=conn.close)
        peers = self.proxy_peers
        if peers is not None and not peers.allows(facts.peer[0]):
            try:
                self._refuse_proxy(peers, facts.peer[0])
            finally:
                conn.close()
            return
        if not self.allowed(facts):
            conn.close()
            return
        if self.spec.proxy_protocol != "off":
            reader = _ProxyReader(self, conn, facts)
            self._readers.add(reader)
            reader.start()
            return
        self.hand_over(conn, facts)

    def _refuse_proxy(self, peers: ProxyPeers, peer: str) -> None:
        if peers.refuse(peer, self.state.clock.now()):
            log.warning(
                "closed a connection from %s to %s: that peer may not send a PROXY header (neither in the"
                " listener's proxy_protocol_from nor in [proxy] trusted); more from it within %.0f s are only counted",
                peer,
                self.name,
                peers.interval,
            )
        if self.proxy_refused is not None:
            self.proxy_refused(self.name)

    def allowed(self, facts: ConnectionFacts) -> bool:
        """The connection check's verdict; a check that raises refuses (logged once, then counted)."""
        if self.check is None:
            return True
        try:
            return bool(self.check(facts))
        except Exception:  # a pluggable hook: isolate it, and fail closed
            self.check_errors += 1
            if self.check_errors == 1:
                log.exception("the connection check failed; refusing (further failures are counted)")
            return False

    def hand_over(self, conn: socket.socket, facts: ConnectionFacts) -> None:
        client = facts.source or facts.peer
        task = self.loop.create_task(self._connect(conn, facts, client))
        self._handovers.add(task)
        task.add_done_callback(self._handovers.discard)

    async def _connect(self, conn: socket.socket, facts: ConnectionFacts, client: tuple[str, int]) -> None:
        def protocol() -> HttpProtocol:
            return HttpProtocol(self.state, facts, client, scheme=self.scheme, listener=self.name)

        factory: Callable[[], asyncio.Protocol] = protocol
        if self.context is not None:
            factory = functools.partial(
                TlsConnection,
                self.context,
                protocol,
                handshake_timeout=self.state.limits.header_timeout,
                shutdown_timeout=TLS_SHUTDOWN_SECONDS,
                pending=self._handshakes,
            )
        try:
            await self.loop.connect_accepted_socket(factory, conn)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("connection from %s:%d failed before HTTP: %r", *facts.peer, exc)
            conn.close()


class _ProxyReader:
    """Reads the PROXY header of one connection without consuming a byte past it."""

    def __init__(self, acceptor: Acceptor, conn: socket.socket, facts: ConnectionFacts) -> None:
        self.acceptor = acceptor
        self.conn = conn
        self.facts = facts
        self.versions = acceptor.spec.proxy_protocol
        self.buffer = b""
        self.loop = acceptor.loop
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.loop.add_reader(self.conn.fileno(), self._readable)
        self.timer = self.loop.call_later(self.acceptor.state.limits.header_timeout, self.close)

    def _finish(self) -> None:
        self.loop.remove_reader(self.conn.fileno())
        if self.timer is not None:
            self.timer.cancel()
        self.acceptor._readers.discard(self)

    def close(self) -> None:
        self._finish()
        self.conn.close()

    def _readable(self) -> None:
        versions = self.versions if self.versions != "off" else "any"
        try:
            data = self.conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        try:
            total = proxy_protocol.header_length(self.buffer + data, versions)
        except proxy_protocol.ProxyProtocolError as exc:
            log.debug("closing %s:%d: %s", *self.facts.peer, exc)
            self.close()
            return
        # Until the length is known, every byte seen belongs to the header (header_length's promise).
        take = len(data) if total is None else min(total - len(self.buffer), len(data))
        try:
            self.buffer += self.conn.recv(take)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if total is None or len(self.buffer) < total:
            return
        try:
            header = proxy_protocol.parse(self.buffer, versions)
        except proxy_protocol.ProxyProtocolError as exc:
            log.debug("closing %s:%d: %s", *self.facts.peer, exc)
            self.close()
            return
        self._finish()
        self.facts.source = header.source
        if header.source is not None and not self.acceptor.allowed(self.facts):
            self.conn.close()
            return
        self.acceptor.hand_over(self.conn, self.facts)


def _address(sockaddr: Any) -> tuple[str, int]:
    """``(host, port)`` of a socket address; IPv6 without zone, IPv4-mapped as IPv4."""
    if not isinstance(sockaddr, tuple):
        return (str(sockaddr), 0)
    host = sockaddr[0]
    if ":" in host:
        host = normalize_ip(host) or host
    return (host, sockaddr[1])
