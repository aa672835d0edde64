"""Listening sockets, bound by the server itself, and the lockout listener of each request.

Lockout keys include the listener's address and port. Binding the sockets here, in the
parent process, means the server knows the real port even for ``:0``, and every forked
worker process serves the very same sockets.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from stockade.engine.settings import Listener
from stockade.errors import ListenError
from stockade.server.listen import ListenAddress

BACKLOG = 2048


def bind_socket(address: ListenAddress) -> socket.socket:
    """Bind and listen on one address; IPv6 sockets are IPv6-only so ``[::]`` and ``0.0.0.0`` can coexist."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address.host, address.port))
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def bind_all(addresses: Sequence[ListenAddress]) -> tuple[list[socket.socket], tuple[ListenAddress, ...]]:
    """Bind every address; returns the sockets and the addresses with their real ports.

    Raises :class:`ListenError` naming the address that could not be bound (none stays bound).
    """
    sockets: list[socket.socket] = []
    for address in addresses:
        try:
            sockets.append(bind_socket(address))
        except OSError as exc:
            for sock in sockets:
                sock.close()
            raise ListenError(str(address), exc) from None
    bound = tuple(a.with_port(int(s.getsockname()[1])) for a, s in zip(addresses, sockets, strict=True))
    return sockets, bound


def url_of(address: ListenAddress) -> str:
    """``http://127.0.0.1:8080`` (wildcards shown as the loopback address a client would use)."""
    host = address.host
    if address.wildcard:
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://[{host}]:{address.port}" if ":" in host else f"http://{host}:{address.port}"


class ListenerMap:
    """Maps ``scope["server"]`` to the lockout listener of the socket that accepted the request."""

    def __init__(self, addresses: Sequence[ListenAddress]) -> None:
        self.listeners = tuple(a.listener for a in addresses) or (Listener(None, 0),)
        self._exact = {(a.host, a.port): a.listener for a in addresses if not a.wildcard}
        self._by_port = {a.port: a.listener for a in addresses if a.wildcard}
        self._fallback = self.listeners[0]

    def lookup(self, server: object) -> Listener:
        if isinstance(server, tuple | list) and len(server) == 2:
            host, port = server
            found = self._exact.get((normalize_ip(str(host)), port))
            if found is not None:
                return found
            found = self._by_port.get(port)
            if found is not None:
                return found
        return self._fallback


def normalize_ip(address: str) -> str:
    """``::ffff:1.2.3.4`` is the IPv4 client ``1.2.3.4``; zone ids and case never split a key."""
    if address.startswith("::ffff:") and "." in address:
        return address[len("::ffff:") :]
    return address.lower()
