"""The decision endpoint's semantics: a proxy's check request in, an answer the proxy understands out.

A proxy the site already runs (nginx, Caddy, Traefik, Envoy, HAProxy, a Kubernetes ingress)
asks stockade about every request before serving it (:mod:`stockade.decision.styles`).
:meth:`DecisionPoint.decide` answers, in this order:

1. A caller that is not one of the configured proxies (``[decision] proxies``) is refused
   with 403 and counted: only a proxy may describe a request, and only its forwarding header
   may name the client.
2. The check request becomes the original request (its style, chosen by the check path);
   one that does not describe a request is answered 400 (the proxy's configuration is
   wrong: a proxy turns that into an error, so the request is not served).
3. The original request becomes the canonical request through the same builder as the
   protecting server's (:func:`~stockade.request.asgi.from_asgi`): the canonical path, host
   and headers, and the client from the proxy's forwarding header, believed as nginx's
   ``real_ip`` does, walking past ``[decision] proxies`` and ``[proxy] trusted``. A check
   request that names no client is a bad one: deciding on the proxy's own address would
   ban the proxy, and with it every visitor.
4. mod_block's IP blocklist, which ``stockade serve`` checks when a client connects, is
   checked on the client of each check request (the client's connection is the proxy's;
   it counts in the ``CONN_*`` counters as a connection each), then the same ladder as the
   protecting server's decides (:mod:`stockade.engine._async.ladder`). Under a style whose
   check request carries the original body (Envoy's ``with_request_body``), the caller's
   ``read_body`` reads as much of it as detection inspects first, as ``stockade serve``
   reads a request's body ahead (:mod:`stockade.request.body`).

The answers are those every one of these proxies understands: 2xx allows the request, 401
and 403 refuse it, and the answer's headers go to the client (and, on 2xx, those the
proxy is told to copy go to the upstream). So:

- allowed: ``200`` with ``X-Stockade-Client-IP`` (the client stockade decided on) and
  ``X-Stockade-Decision-ID``;
- a Basic-auth directory's challenge: ``401`` with its ``WWW-Authenticate``, exactly as
  ``stockade serve`` answers it (credentials are checked and the lockout counts the same);
- every other refusal (a ban, a mod_block rule, a lockout, the store failing closed, a
  request with no safe canonical form): ``403``, with the ban's ``Retry-After`` and body;
- mod_block's ``CLOSE`` is ``403`` too: none of these protocols can tell a proxy to drop
  the client's connection.

Nothing here depends on an HTTP server: the protecting server's decision listener calls
:meth:`DecisionPoint.decide` with what it parsed, and so can another front.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Literal, NamedTuple

from stockade.clock import Clock
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.decision.settings import DecisionSettings
from stockade.decision.styles import CHECK_PATHS, STYLE_NAMED, Original, Style, describe
from stockade.engine._async.ladder import AsyncLadder
from stockade.engine.verdict import CLOSE, Verdict
from stockade.errors import BadCheck, BadRequest
from stockade.netaddr import NetworkSet, normalize_ip
from stockade.request.asgi import from_asgi
from stockade.request.incoming import Incoming
from stockade.request.paths import DEFAULT_POLICY, PathPolicy

log = logging.getLogger("stockade.decision")

Outcome = Literal["allowed", "challenged", "refused", "banned", "closed", "bad_check", "caller_refused"]
CLIENT_HEADER: Final = b"x-stockade-client-ip"
DECISION_HEADER: Final = b"x-stockade-decision-id"
_TEXT: Final = (b"content-type", b"text/plain; charset=utf-8")
_FORBIDDEN: Final = b"Forbidden"
_DROPPED: Final = frozenset({b"content-length", b"connection", b"transfer-encoding"})
_WARN_EVERY: Final = 60.0
# Reads up to the given number of bytes of the check request's body: (body, bytes known beyond
# it), or None when the proxy went away in the middle of it.
BodyReader = Callable[[int], Awaitable[tuple[bytes, int] | None]]
_WARNED_KEYS: Final = 1024
# The native front's reading of a check request (``stockade._native.Request.original``):
# the style's name and the original request's parts, or None for no check path.
NativeDescribe = Callable[[], tuple[str, tuple[str, bytes, bytes, str, list[tuple[bytes, bytes]]]] | None]


class Answer(NamedTuple):
    """What the decision endpoint answers, and why (``outcome``, the ladder's ``verdict``).

    A named tuple: one is built for every check request, and a frozen dataclass costs
    several times as much to build.
    """

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    outcome: Outcome
    verdict: Verdict | None = None
    client: str = ""
    decision_id: str = ""
    reason: str = ""  # for the operator: why a check or a caller was refused


class Prepared(NamedTuple):
    """A check request that describes a request the ladder is to decide.

    ``body``: the check request's body is the original one's (Envoy's ``with_request_body``).
    """

    request: Incoming
    body: bool
    decision_id: str


class DecisionPoint:
    """Answers check requests for one configuration; see the module docstring.

    ``trusted`` are ``[proxy] trusted``: proxies in front of the asking proxy (a CDN),
    whose hops the walk of the forwarding header skips too.
    """

    def __init__(
        self,
        ladder: AsyncLadder,
        settings: DecisionSettings,
        *,
        clock: Clock,
        policy: PathPolicy = DEFAULT_POLICY,
        trusted: Sequence[str] = (),
    ) -> None:
        self.ladder = ladder
        self.settings = settings
        self.clock = clock
        self.policy = policy
        networks = tuple(str(ipaddress.ip_network(n.strip(), strict=False)) for n in settings.proxies)
        self.proxies = NetworkSet.from_strings(networks)
        self.resolver = ClientIpResolver(
            TrustedProxies(tuple(dict.fromkeys((*networks, *trusted))), settings.client_header)
        )
        self._header = settings.client_header
        self._ids = itertools.count(1)
        self._prefix = os.urandom(4).hex()
        # The native front numbers its own decisions under another prefix: ids never repeat.
        self.native_prefix = f"{self._prefix}-n"
        self._warned: dict[str, float] = {}
        self._callers: dict[str, str] = {}  # peer as given -> its address if it may ask, else ""

    async def decide(
        self,
        peer: str,
        method: str,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        read_body: BodyReader | None = None,
    ) -> Answer:
        """The answer to one check request from ``peer`` (ASGI-style header lines, lower-case names).

        ``read_body`` reads the check request's body, given when it has one.
        """
        prepared = await self.prepare(peer, method, target, headers)
        if isinstance(prepared, Answer):
            return prepared
        wanted = self.body_wanted(prepared) if read_body is not None else 0
        if wanted and read_body is not None:
            ahead = await read_body(wanted)
            if ahead is not None:
                prepared.request.give_body(*ahead)
        return await self.conclude(prepared)

    async def prepare(
        self,
        peer: str,
        method: str,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        native: NativeDescribe | None = None,
    ) -> Answer | Prepared:
        """Steps 1 to 3 and the blocklist: the answer already, or the request the ladder is to decide.

        ``native`` reads the check request in Rust instead of :func:`~stockade.decision.styles.describe`
        (the native front's requests). A front that reads a body in a second pass (the native
        front) prepares again with it: this is deterministic for one configuration.
        """
        decision_id = f"{self._prefix}-{next(self._ids):x}"
        address = self._callers.get(peer)
        if address is None:
            address = self._caller(peer)
        if not address:
            self._warn(peer, "decision: refused a check request from %s, which is not in [decision] proxies", peer)
            return _plain(403, _FORBIDDEN, "caller_refused", decision_id, reason=f"{peer} is not in [decision] proxies")
        try:
            described = describe(method, target, headers) if native is None else _described(native())
            if described is None:
                return self._bad_check(f"no such check path: expected {CHECK_PATHS}", decision_id, status=404)
            style, original = described
            request = self._incoming(original, address)
        except BadCheck as exc:
            return self._bad_check(str(exc), decision_id)
        except BadRequest as exc:
            if exc.client != address:  # never the asking proxy itself, when no header named the client
                await self.ladder.refused(exc)
            return _plain(403, _FORBIDDEN, "refused", decision_id, reason=str(exc))
        decided = request.decided
        if decided is None or decided.header is None:
            return self._bad_check(
                f"{style.name}: the check request names no client in {self._header}: set it in the proxy's"
                " configuration",
                decision_id,
            )
        block = self.ladder.block
        if block is not None and block.table.check_connection(request.client) == "close":
            # The client's connection is the proxy's: mod_block's blocklist meets the client here.
            return _answer(CLOSE, request.client, decision_id)
        return Prepared(request, style.body, decision_id)

    def body_wanted(self, prepared: Prepared) -> int:
        """How many bytes of the check request's body detection reads first (0: none)."""
        if not prepared.body or not self.ladder.reads_bodies:
            return 0
        return self.ladder.body_wanted(prepared.request)

    async def conclude(self, prepared: Prepared) -> Answer:
        """The ladder's verdict on a prepared request, as the proxy must hear it."""
        verdict = await self.ladder.decide(prepared.request)
        return _answer(verdict, prepared.request.client, prepared.decision_id)

    def _caller(self, peer: str) -> str:
        """The normalised address of a peer that may ask, ``""`` for one that may not (remembered)."""
        address = normalize_ip(peer)
        allowed = address if address is not None and address in self.proxies else ""
        if len(self._callers) >= _WARNED_KEYS:
            self._callers.clear()
        self._callers[peer] = allowed
        return allowed

    def _incoming(self, original: Original, peer: str) -> Incoming:
        scope: dict[str, Any] = {
            "type": "http",
            "method": original.method,
            "raw_path": original.target,
            "query_string": original.query,
            "headers": original.headers,
            "client": (peer, 0),
            "server": None,
            "scheme": original.scheme,
            "http_version": "1.1",
        }
        return from_asgi(scope, policy=self.policy, resolver=self.resolver, clock=self.clock)

    def _bad_check(self, reason: str, decision_id: str, *, status: int = 400) -> Answer:
        self._warn(reason, "decision: refused a check request: %s", reason)
        return _plain(status, reason.encode("utf-8", "replace") + b"\n", "bad_check", decision_id, reason=reason)

    def _warn(self, key: str, message: str, *args: object) -> None:
        """Logged at most once a minute per ``key``: a flood of bad checks must not flood the log."""
        now = self.clock.now()
        last = self._warned.get(key)
        if last is not None and now - last < _WARN_EVERY:
            return
        if len(self._warned) >= _WARNED_KEYS:
            self._warned.clear()
        self._warned[key] = now
        log.warning(message, *args)


def _described(
    found: tuple[str, tuple[str, bytes, bytes, str, list[tuple[bytes, bytes]]]] | None,
) -> tuple[Style, Original] | None:
    if found is None:
        return None
    name, parts = found
    return STYLE_NAMED[name], Original(*parts)


def _plain(status: int, body: bytes, outcome: Outcome, decision_id: str, *, reason: str = "") -> Answer:
    headers = (_TEXT, (b"content-length", str(len(body)).encode()), (DECISION_HEADER, decision_id.encode()))
    return Answer(status, headers, body, outcome, decision_id=decision_id, reason=reason)


def _answer(verdict: Verdict, client: str, decision_id: str) -> Answer:
    """The verdict of the ladder as the proxy must hear it (see the module docstring)."""
    ident = (DECISION_HEADER, decision_id.encode())
    if verdict.action == "pass":
        allowed = ((CLIENT_HEADER, client.encode("latin-1")), ident, (b"content-length", b"0"))
        return Answer(200, allowed, b"", "allowed", verdict, client, decision_id)
    if verdict.action == "close":
        answer = _plain(403, _FORBIDDEN, "closed", decision_id)
        return Answer(403, answer.headers, answer.body, "closed", verdict, client, decision_id)
    response = verdict.response
    outcome: Outcome = "banned" if verdict.stage == "ban" else "challenged" if verdict.stage == "lockout" else "refused"
    if response is None:
        answer = _plain(403, _FORBIDDEN, outcome, decision_id)
        return Answer(403, answer.headers, answer.body, outcome, verdict, client, decision_id)
    status = 401 if response.status == 401 else 403
    body = response.body
    kept = tuple(header for header in response.headers if header[0].lower() not in _DROPPED)
    headers = (*kept, (b"content-length", str(len(body)).encode()), ident)
    return Answer(status, headers, body, outcome, verdict, client, decision_id)
