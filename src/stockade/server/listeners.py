"""The lockout listener of each request.

Lockout keys include the listener's address and port: the native front binds the sockets
before anything is served, so the real port is known even for ``:0``, and each request
names the local address that accepted it.
"""

from __future__ import annotations

from collections.abc import Sequence

from stockade.engine.settings import Listener
from stockade.server.listen import ListenAddress


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
