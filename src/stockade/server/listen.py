"""Listen addresses: ``127.0.0.1:8080``, ``[::1]:8080``, ``0.0.0.0:8080``, ``[::]:8080``, ``:8080``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from stockade.engine.settings import Listener


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """An address the server binds; ``host`` is a normalised IP literal without brackets."""

    host: str
    port: int

    @property
    def wildcard(self) -> bool:
        return self.host in ("0.0.0.0", "::")  # noqa: S104 - naming the wildcard, not binding

    @property
    def listener(self) -> Listener:
        """How lockout keys see this socket: the reference keys by bind address, ``any`` for wildcards."""
        return Listener(None if self.wildcard else self.host, self.port)

    def with_port(self, port: int) -> ListenAddress:
        return ListenAddress(self.host, port)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(spec: str) -> ListenAddress:
    """Parse ``host:port`` (an IP literal, not a host name); raises ``ValueError`` saying what is accepted."""
    accepted = "expected 'IPv4:port', '[IPv6]:port' or ':port' with a port from 0 to 65535"
    host, sep, port_text = spec.rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(accepted)
    port = int(port_text)
    if port > 65535:
        raise ValueError(accepted)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        version = 6
    elif host in ("", "*"):
        host, version = "0.0.0.0", 4  # noqa: S104 - ':port' means every address, as documented
    else:
        version = 4
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(accepted) from None
    if address.version != version:
        raise ValueError(accepted)
    return ListenAddress(str(address), port)
