"""Client-IP resolution in pure Python: the oracle of the native one.

The rules are described in :mod:`stockade.core.client_ip`. This resolver returns the same
:class:`~stockade.core.client_ip.ClientIp` objects, which the differential tests compare
with the native resolver's.
"""

from __future__ import annotations

from collections.abc import Sequence

from stockade.core.client_ip import FORWARDING_HEADERS, X_REAL_IP, XFF, ClientIp, ProxyTrust
from stockade.errors import InvalidArgument
from stockade.netaddr import NetworkSet, normalize_ip

_NAMES = {name.encode(): name for name in FORWARDING_HEADERS}
_NAME_LENGTHS = frozenset(len(name) for name in FORWARDING_HEADERS)
_PEER_CACHE_SIZE = 4096
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_OWS = " \t"


class ClientIpResolver:
    """Decides the client address of each request from its peer and its forwarding headers."""

    __slots__ = ("_peers", "header", "trusted")

    def __init__(self, proxies: ProxyTrust) -> None:
        name = proxies.header
        if not isinstance(name, str) or name.lower() not in FORWARDING_HEADERS:
            raise InvalidArgument("forwarding header", name, ", ".join(FORWARDING_HEADERS))
        self.header: str = name.lower()
        self.trusted = NetworkSet.from_strings(proxies.networks)
        # Peers repeat (keep-alive, proxies): remember their spelling, trust, and the answer
        # for a request without forwarding headers (the common case, built once).
        self._peers: dict[str, ClientIp] = {}

    def _peer(self, peer: str) -> ClientIp:
        known = self._peers.get(peer)
        if known is None:
            address = normalize_ip(peer)
            known = ClientIp(peer, peer) if address is None else ClientIp(address, address, address in self.trusted)
            if len(self._peers) >= _PEER_CACHE_SIZE:
                self._peers.clear()
            self._peers[peer] = known
        return known

    def resolve(self, peer: str, headers: Sequence[tuple[bytes, bytes]]) -> ClientIp:
        """The client of a request from ``peer`` with these (ASGI-style) header lines."""
        plain = self._peer(peer)
        address, trusted = plain.address, plain.trusted
        lines: list[bytes] | None = None
        forwarded = False
        wanted = self.header
        for name, value in headers:
            if len(name) not in _NAME_LENGTHS:
                continue
            known = _NAMES.get(name) or _NAMES.get(name.lower())
            if known is None:
                continue
            forwarded = True
            if not trusted:
                break
            if known == wanted:
                if lines is None:
                    lines = []
                lines.append(value)
        if not forwarded:
            return plain
        if lines is None:
            return ClientIp(address, address, trusted, None, forwarded)
        text = [line.decode("latin-1") for line in lines]
        if wanted == X_REAL_IP:
            client = _node(text[-1].strip(_OWS))
        else:
            hops = _xff_hops(text) if wanted == XFF else _forwarded_hops(text)
            client = self._walk(hops) if hops else None  # only empty elements: as if absent
        if client is None:
            return ClientIp(address, address, trusted, None, forwarded)
        return ClientIp(client, address, trusted, wanted, forwarded)

    def _walk(self, hops: list[str | None]) -> str | None:
        """The first untrusted hop from the right; the last good one if garbage comes first."""
        last_good: str | None = None
        for hop in reversed(hops):
            if hop is None:
                return last_good
            if hop not in self.trusted:
                return hop
            last_good = hop
        return last_good


def _xff_hops(lines: list[str]) -> list[str | None]:
    """The hops of ``X-Forwarded-For`` lines, left to right; ``None`` for a bad one."""
    hops: list[str | None] = []
    for line in lines:
        for raw in line.split(","):
            entry = raw.strip(_OWS)
            if entry:
                hops.append(_node(entry))
    return hops


def _forwarded_hops(lines: list[str]) -> list[str | None]:
    """The ``for=`` nodes of ``Forwarded`` lines, left to right; ``None`` for unusable ones."""
    hops: list[str | None] = []
    for line in lines:
        for raw in line.split(","):
            element = raw.strip(_OWS)
            if not element:
                continue
            params = _forwarded_pairs(element)
            node = None if params is None else params.get("for")
            hops.append(None if node is None else _node(node))
    return hops


def _forwarded_pairs(element: str) -> dict[str, str] | None:
    """``name=value`` pairs of one element, values unquoted; ``None`` if it is malformed."""
    pairs = _split_pairs(element)
    if pairs is None:
        return None
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.lower()
        if not sep or not name or not _TCHAR.issuperset(name) or name in params:
            return None  # RFC 7239: a parameter occurs at most once in an element
        unquoted = _unquote(value)
        if unquoted is None:
            return None
        params[name] = unquoted
    return params


def _split_pairs(element: str) -> list[str] | None:
    """The non-empty pairs of an element, split at semicolons outside quoted strings."""
    pairs: list[str] = []
    start = 0
    quoted = escaped = False
    for i, char in enumerate(element):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ";":
            pairs.append(element[start:i].strip(_OWS))
            start = i + 1
    if quoted:
        return None
    pairs.append(element[start:].strip(_OWS))
    return [pair for pair in pairs if pair]


def _unquote(value: str) -> str | None:
    """A token or a quoted-string, as its text; ``None`` if it is neither."""
    if not value.startswith('"'):
        return value if value and '"' not in value and "\\" not in value and value.isprintable() else None
    if len(value) < 2 or not value.endswith('"'):
        return None
    out: list[str] = []
    escaped = False
    for char in value[1:-1]:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return None
        else:
            out.append(char)
    if escaped:
        return None
    return "".join(out)


def _node(text: str) -> str | None:
    """The address of a node (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``), or ``None``.

    ``unknown`` and obfuscated identifiers (``_x``) are not addresses; neither is an
    obfuscated port after a real address, which is fine (``[::1]:_p`` is ``::1``).
    """
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            return None
        rest = text[close + 1 :]
        if rest and not (rest.startswith(":") and _port(rest[1:])):
            return None
        inner = text[1:close]
        return normalize_ip(inner) if ":" in inner else None
    address = normalize_ip(text)
    if address is not None or text.count(":") != 1:
        return address
    host, _, port = text.partition(":")
    return normalize_ip(host) if _port(port) else None


def _port(text: str) -> bool:
    if text.startswith("_"):
        return len(text) > 1 and all(c.isascii() and (c.isalnum() or c in "._-") for c in text[1:])
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()
