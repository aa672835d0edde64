"""One request as every check reads it: the canonical request (see :mod:`stockade.request`).

Fronts build an :class:`Incoming` once per request (:func:`stockade.request.asgi.from_asgi`,
:func:`stockade.request.wsgi.from_wsgi`, ``stockade replay``); the checks read it and the
backend receives the same canonical parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stockade._native import CanonicalRequest
from stockade.core.client_ip import ClientIp
from stockade.core.facts import RequestFacts, go_upper, host_lower_of
from stockade.engine.settings import NO_LISTENER, Listener


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """What a TLS handshake told about the client, for rules (``ses_tls_*``)."""

    sni: str | None = None
    version: str | None = None
    client_auth: bool = False  # a client certificate was presented and verified
    client_ca: str | None = None  # the issuer of the client certificate, as its RFC 4514 name


class Incoming:
    """One canonical request as the checks need it; ``client`` is the client the guard believes.

    A front gives the cheap parts: the decoded canonical ``path`` and its escaped ``target``
    (what the backend receives), the ``client``, the method, the raw ``query``, the
    canonical ``host`` (``name[:port]``) and the canonical ``headers`` or a
    ``header_lookup`` when it has them; the ``uri`` (``target?query``) when it has it
    built. The full :class:`RequestFacts` that mod_block's rules read are built on first
    use of :attr:`facts` by ``make_facts``: a configuration without rules never pays for
    them, nor a request that the rules' index rules out from the cheap parts alone.
    ``native`` is the front's :class:`~stockade._native.CanonicalRequest` when it has one:
    mod_block's native rules then read the request from it, in one call, rather than from
    this object's attributes and facts. ``authorization`` (the ``Authorization`` header
    values), ``line`` (the request line, for the lockout's events) and a ``listener`` given
    as a function are derived only when a lockout directory asks. Given ``facts``, every
    part is read from them.

    ``body`` is what the checks read of the body (``None``: nothing was read), given by the
    front with :meth:`give_body` before the checks run (:mod:`stockade.request.body`), and
    ``uninspected`` the count of body bytes known to lie beyond it.
    """

    __slots__ = (
        "_authorization",
        "_facts",
        "_headers",
        "_line",
        "_listener",
        "_lookup",
        "_make_facts",
        "body",
        "client",
        "decided",
        "host",
        "known_route",
        "method",
        "native",
        "path",
        "product",
        "proto",
        "query",
        "target",
        "uninspected",
        "uri",
    )

    def __init__(
        self,
        facts: RequestFacts | None = None,
        authorization: Sequence[bytes] | None = None,
        listener: Listener | Callable[[], Listener] = NO_LISTENER,
        line: str = "",
        known_route: bool = False,
        *,
        make_facts: Callable[[], RequestFacts] | None = None,
        path: str = "/",
        target: bytes | None = None,
        client: str = "",
        method: str = "GET",
        query: str = "",
        proto: str = "HTTP/1.1",
        host: str = "",
        headers: Sequence[tuple[bytes, bytes]] | None = None,
        header_lookup: Callable[[str], str] | None = None,
        decided: ClientIp | None = None,
        uri: str | None = None,
        native: CanonicalRequest | None = None,
    ) -> None:
        product = None
        if facts is not None:
            path, client, method = facts.path, facts.client_ip or "", facts.method
            query, proto, host, product = facts.query, facts.proto, facts.host, facts.product
            uri = facts.uri or facts.url
            target = uri.split("?", 1)[0].encode("utf-8", "surrogateescape")
            if header_lookup is None and headers is None:
                header_lookup = facts.header  # detection reads headers through it, as from the other fronts
        elif make_facts is None:
            raise TypeError("Incoming needs facts or make_facts")
        else:
            if target is None:
                target = path.encode("utf-8", "surrogateescape")
            if uri is None:
                text = target.decode("latin-1")
                uri = text + "?" + query if query else text
        self._facts = facts
        self._make_facts = make_facts
        self._authorization = authorization
        self._headers = headers
        self._lookup = header_lookup
        self._line = line
        self._listener = listener
        self.known_route = known_route
        self.path = path
        self.target = target
        self.client = client
        self.decided = decided  # how the client was decided, when a front resolved it
        self.method = method
        self.uri = uri
        self.query = query
        self.proto = proto
        self.host = host
        self.product = product  # a product given with the request (replay's override)
        self.body = facts.body if facts is not None else None
        self.uninspected = 0
        self.native = native  # the front's native canonical request: the checks read it in one call

    @property
    def facts(self) -> RequestFacts:
        facts = self._facts
        if facts is None:
            make = self._make_facts
            if make is None:  # pragma: no cover - the constructor ensures one of the two
                raise TypeError("Incoming needs facts or make_facts")
            facts = self._facts = make()
            facts.body = self.body
        return facts

    def give_body(self, body: bytes, uninspected: int = 0) -> None:
        """The body as the checks read it (the front's read-ahead), for detection and mod_block's rules."""
        self.body = body
        self.uninspected = uninspected
        if self._facts is not None:
            self._facts.body = body

    @property
    def listener(self) -> Listener:
        """The listener that accepted the request (it keys the lockout); given, or found on first use."""
        listener = self._listener
        if not isinstance(listener, Listener):
            listener = self._listener = listener()
        return listener

    @property
    def authorization(self) -> Sequence[bytes]:
        found = self._authorization
        if found is None:
            found = self._authorization = [value for name, value in self._headers or () if name == b"authorization"]
        return found

    @property
    def host_lower(self) -> str:
        return self._facts.host_lower if self._facts is not None else host_lower_of(self.host)

    @property
    def method_upper(self) -> str:
        return go_upper(self.method)

    def header(self, name: str) -> str:
        """The first value of a request header (``name`` in lower case), ``""`` when absent."""
        if self._facts is None and self._lookup is not None:
            return self._lookup(name)
        if self._facts is not None or self._headers is None:
            return self.facts.header(name)
        wanted = name.encode("latin-1")
        size = len(wanted)
        for key, value in self._headers:
            if len(key) == size and (key == wanted or key.lower() == wanted):
                return value.decode("latin-1")
        return ""

    def header_values(self, name: str) -> list[str]:
        """Every value of a request header (``name`` in lower case), in the order sent: detection
        reads them all (a payload in a second ``User-Agent`` line is still read)."""
        if self._facts is None and self._lookup is not None:
            value = self._lookup(name)
            return [value] if value else []
        if self._facts is not None or self._headers is None:
            return [value for key, value in self.facts.headers if key.lower() == name and value]
        wanted = name.encode("latin-1")
        return [value.decode("latin-1") for key, value in self._headers if key.lower() == wanted and value]

    @property
    def line(self) -> str:
        if not self._line:
            self._line = f"{self.method} {self.uri or self.path} {self.proto}"
        return self._line
