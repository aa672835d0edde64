# GENERATED from src/stockade/engine/_async/ladder.py by scripts/unasync.py; edit the source, not this file.
"""The order of checks, in one function that reads like the specification.

For every request, after the connection-level blocklist let the connection in:

1. the allow list (an allowed client is never refused by a ban nor counted);
2. bans: a banned client is refused at once, at the cost of a lookup in the local view:
   no rule is evaluated and nothing is written;
3. mod_block rules, ``global`` then the product's: ``CLOSE`` ends the request without a
   response, ``ALLOW`` ends mod_block's processing only;
4. malicious-request detection: a probe counts a strike against the client (and may ban
   it), and the request goes on, as Phx2Ban lets the probe itself through;
5. lockout directories: HTTP Basic authentication with the login lockout;
6. the application.

Adapters (the protecting server, the middleware, ``stockade replay``) fill an
:class:`Incoming` and act on the :class:`Verdict`; they decide nothing themselves.

Only this file is written by hand; ``scripts/unasync.py`` generates the synchronous twin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from stockade.core.facts import RequestFacts, go_upper, host_lower_of
from stockade.engine._sync.guard import Guard
from stockade.engine.settings import NO_LISTENER, Listener
from stockade.engine.views import Banned
from stockade.rules import BlockReloader, HostTable

Action = Literal["pass", "refuse", "close"]
Stage = Literal["ban", "block", "lockout", "app"]


class ResponseLike(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> tuple[tuple[bytes, bytes], ...]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer the guard gives instead of the application."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class Incoming:
    """One request as the checks need it; ``client`` is the client the guard believes.

    The adapter gives the cheap parts: the normalised ``path``, the ``client``, the method,
    the raw request-target ``uri`` and ``query``, the ``Host`` header, and the raw
    ``headers`` or a ``header_lookup`` when it has them. The full :class:`RequestFacts` that
    mod_block's rules read are built on first use of :attr:`facts` by ``make_facts``: a
    configuration without rules never pays for them, nor a request that the rules' index
    rules out from the cheap parts alone. ``authorization`` (the ``Authorization`` header
    values), ``line`` (the request line, for the lockout's events) and a ``listener`` given
    as a function are derived only when a lockout directory asks. Given ``facts``, every
    part is read from them.
    """

    __slots__ = (
        "_authorization",
        "_facts",
        "_headers",
        "_host",
        "_line",
        "_listener",
        "_lookup",
        "_make_facts",
        "client",
        "known_route",
        "method",
        "path",
        "product",
        "proto",
        "query",
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
        client: str = "",
        method: str = "GET",
        uri: str = "",
        query: str = "",
        proto: str = "HTTP/1.1",
        host: str | None = None,
        headers: Sequence[tuple[bytes, bytes]] | None = None,
        header_lookup: Callable[[str], str] | None = None,
    ) -> None:
        product = None
        if facts is not None:
            path, client, method, uri = facts.path, facts.client_ip or "", facts.method, facts.uri
            query, proto, host, product = facts.query, facts.proto, facts.host, facts.product
        elif make_facts is None:
            raise TypeError("Incoming needs facts or make_facts")
        self._facts = facts
        self._make_facts = make_facts
        self._authorization = authorization
        self._headers = headers
        self._lookup = header_lookup
        self._line = line
        self._listener = listener
        self.known_route = known_route
        self.path = path
        self.client = client
        self.method = method
        self.uri = uri
        self.query = query
        self.proto = proto
        self._host = host
        self.product = product  # a product given with the request (replay's override)

    @property
    def facts(self) -> RequestFacts:
        facts = self._facts
        if facts is None:
            assert self._make_facts is not None
            facts = self._facts = self._make_facts()
        return facts

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
    def host(self) -> str:
        """The first ``Host`` header's value, or ``""``."""
        host = self._host
        if host is None:
            host = self._host = self.header("host")
        return host

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

    @property
    def line(self) -> str:
        if not self._line:
            self._line = f"{self.method} {self.uri or self.path} {self.proto}"
        return self._line


class Gate(Protocol):
    """The authentication of one protected directory (HTTP Basic in the protecting server)."""

    def check(self, guard: Guard, request: Incoming) -> ResponseLike | None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a request: pass it on, answer ``response``, or close the connection."""

    action: Action
    stage: Stage
    response: ResponseLike | None = None
    block_rule: str | None = None  # the mod_block rule that matched, if any
    malicious: str | None = None  # the detection rule the request triggered, if any
    banned: Banned | None = None
    allowed: bool = False  # a mod_block ALLOW rule matched


class Ladder:
    """Runs the checks of :mod:`stockade.engine._sync.ladder` for one configuration."""

    def __init__(
        self,
        guard: Guard,
        *,
        block: BlockReloader | None = None,
        hosts: HostTable | None = None,
        gates: Mapping[str, Gate] | None = None,
    ) -> None:
        self.guard = guard
        self.block = block
        self.hosts = hosts
        self.gates = dict(gates or {})
        settings = guard.bans.settings
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in settings.resp_headers]
        self._ban_headers = (
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(settings.resp_body)).encode()),
            *headers,
        )

    def decide(self, request: Incoming) -> Verdict:
        ip = request.client
        path = request.path
        bans = self.guard.bans
        # 1-2. The allow list, then bans: a banned client costs no rule evaluation, no write.
        exempt = not ip or bans.exempt(ip, path)
        if not exempt:
            banned = bans.banned(ip)
            if banned is not None:
                return Verdict("refuse", "ban", self._ban_response(banned), banned=banned)
        # 3. mod_block: global rules, then the product's; CLOSE ends the request silently.
        block_rule, allowed = None, False
        if self.block is not None:
            product = request.product
            if product is None and self.hosts is not None:
                hosts = self.hosts
                product = hosts.product(request.host) if hosts.reads_host else hosts.default_product
            # A product given with the request (replay's override) wins; "" is a product too, as in BFE.
            decision = self.block.table.check_request(request, product)
            if decision.closes:
                return Verdict("close", "block", block_rule=decision.rule)
            block_rule, allowed = decision.rule, decision.action == "allow"
        # 4. Detection: a probe counts a strike (and may ban); the request goes on.
        malicious = None if exempt else bans.detect(ip, request, known_route=request.known_route)
        # 5. Lockout directories.
        directory = self.guard.protecting(path) if self.gates else None  # only a gate can refuse here
        if directory is not None:
            gate = self.gates.get(directory.path)
            refusal = gate.check(self.guard, request) if gate is not None else None
            if refusal is not None:
                return Verdict("refuse", "lockout", refusal, block_rule, malicious, allowed=allowed)
        # 6. The application.
        if block_rule is None and malicious is None and not allowed:
            return _PASS
        return Verdict("pass", "app", None, block_rule, malicious, allowed=allowed)

    def _ban_response(self, banned: Banned) -> Refusal:
        settings = self.guard.bans.settings
        headers = self._ban_headers
        if banned.retry_after is not None:
            headers = (*headers, (b"retry-after", str(banned.retry_after).encode()))
        return Refusal(settings.resp_status_code, headers, settings.resp_body)


_PASS = Verdict("pass", "app")
