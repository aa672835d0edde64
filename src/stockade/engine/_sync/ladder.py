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

Fronts (the protecting server, the middleware, ``stockade replay``) build the canonical
request (:class:`~stockade.request.incoming.Incoming`), read the part of its body that
detection inspects when :meth:`Ladder.body_wanted` asks, and act on the
:class:`~stockade.engine.verdict.Verdict`; they decide nothing themselves.

Only this file is written by hand; ``scripts/unasync.py`` generates the synchronous twin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from stockade.engine._sync.guard import Guard
from stockade.engine.verdict import PASS, Action, Banned, Refusal, ResponseLike, Stage, Verdict
from stockade.errors import BadRequest
from stockade.request.incoming import Incoming
from stockade.rules import BlockReloader, HostTable

__all__ = ["Action", "Gate", "Ladder", "Incoming", "Refusal", "ResponseLike", "Stage", "Verdict"]


class Gate(Protocol):
    """The authentication of one protected directory (HTTP Basic in the protecting server)."""

    def check(self, guard: Guard, request: Incoming) -> ResponseLike | None: ...


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
        # False when detection reads no body of any request: fronts then skip body_wanted.
        self.reads_bodies = guard.bans.body_limit > 0
        settings = guard.bans.settings
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in settings.resp_headers]
        self._ban_headers = (
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(settings.resp_body)).encode()),
            *headers,
        )

    def body_wanted(self, request: Incoming) -> int:
        """How many bytes of the body a front reads before :meth:`decide`, 0 for none.

        Detection inspects a body up to ``[bans] body_limit``, and a malicious body must count
        before the app runs: the front reads that much ahead (:mod:`stockade.request.body`)
        and gives it to the request. A request detection will not inspect (detection off,
        an exempt client or path, a client known to be banned) reads nothing ahead.
        """
        return self.guard.bans.body_wanted(request.client, request.path)

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
            return PASS
        return Verdict("pass", "app", None, block_rule, malicious, allowed=allowed)

    def refused(self, error: BadRequest) -> str | None:
        """A request the front refused (400) before :meth:`decide`: a hostile one (a path that
        climbs above the root, a hidden dot segment, ...) counts against its client as a
        malicious request does. Returns the rule that counted it, if any."""
        if not error.hostile or not error.client:
            return None
        return self.guard.bans.refused(error.client, error.reason)

    def ban_refusal(self) -> Refusal:
        """The answer a banned client gets, before its ``Retry-After`` (the native ladder's copy)."""
        settings = self.guard.bans.settings
        return Refusal(settings.resp_status_code, self._ban_headers, settings.resp_body)

    def _ban_response(self, banned: Banned) -> Refusal:
        settings = self.guard.bans.settings
        headers = self._ban_headers
        if banned.retry_after is not None:
            headers = (*headers, (b"retry-after", str(banned.retry_after).encode()))
        return Refusal(settings.resp_status_code, headers, settings.resp_body)
