"""Warnings about forwarding headers that the trusted-proxy settings probably got wrong.

Two mistakes show in the traffic, and each is logged once per process:

- forwarding headers (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``) from a peer that is
  not a trusted proxy: they are ignored, which is right for a spoofing client and wrong for
  a proxy missing from ``[proxy] trusted``;
- every request so far came from one private (or loopback) address that is not trusted and
  sent forwarding headers: almost certainly a proxy in front of us, so every client shares
  its address and one abuser locks out or bans everybody.

:meth:`ForwardingWarnings.observe` is cheap enough to call for every request: once both
questions are settled it returns at the first test.
"""

from __future__ import annotations

import ipaddress
import logging

from stockade.core.client_ip import ClientIp

log = logging.getLogger("stockade.server.forwarding")

# Requests from one private address, all with forwarding headers, before it looks like a proxy.
SAME_PEER_REQUESTS = 20


class ForwardingWarnings:
    """Watches :class:`ClientIp` outcomes and logs each misconfiguration warning once."""

    def __init__(self, *, same_peer_requests: int = SAME_PEER_REQUESTS, logger: logging.Logger = log) -> None:
        self.same_peer_requests = same_peer_requests
        self.log = logger
        self.untrusted_warned = False
        self.proxy_warned = False
        self._watching_peer = True  # False once some request breaks "one private peer"
        self._peer: str | None = None
        self._count = 0

    @property
    def watching_peer(self) -> bool:
        """Whether the second question is still open: each request must be observed until it is
        (a front that decides some requests without observing them waits for this)."""
        return self._watching_peer

    @property
    def settled(self) -> bool:
        """Nothing more will be logged."""
        return self.untrusted_warned and not self._watching_peer

    def observe(self, client: ClientIp) -> None:
        """Take note of one request's outcome; log a warning the first time one is due."""
        if self.settled:
            return
        if client.forwarded and not client.trusted and not self.untrusted_warned:
            self.untrusted_warned = True
            self.log.warning(
                "ignoring forwarding headers from %s, which is not a trusted proxy; "
                "if it is a proxy of yours, add it to [proxy] trusted",
                client.peer,
            )
        if self._watching_peer:
            self._watch_peer(client)

    def _watch_peer(self, client: ClientIp) -> None:
        if client.trusted or not client.forwarded or (self._peer is not None and client.peer != self._peer):
            self._watching_peer = False
            return
        if self._peer is None:
            if not _private(client.peer):
                self._watching_peer = False
                return
            self._peer = client.peer
        self._count += 1
        if self._count >= self.same_peer_requests:
            self._watching_peer = False
            self.proxy_warned = True
            self.log.warning(
                "every request so far (%d) came from %s with forwarding headers: it looks like a proxy; "
                "add it to [proxy] trusted, or every client shares its address",
                self._count,
                client.peer,
            )


def _private(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_private
    except ValueError:
        return False
