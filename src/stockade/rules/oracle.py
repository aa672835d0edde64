"""mod_block's request and connection checks in Python: the test oracle of the native ones.

:class:`stockade.rules.block.BlockTable` decides natively (``stockade._native``). This is
the Python implementation it replaced, kept so that differential tests can hold the native
one to it (``tests/unit/test_native_block.py``): the same rules (BFE's order, the index of
:class:`~stockade.conditions.RuleList`) and the same counter increments. Nothing in
production uses it.
"""

from __future__ import annotations

from stockade.conditions.ruleset import RequestParts
from stockade.core.facts import RequestFacts
from stockade.rules.block import COUNTER_NAMES, ConnectionDecision
from stockade.rules.decision import PASS, BlockDecision
from stockade.rules.iptable import IPTable
from stockade.rules.rule_file import GLOBAL, ProductRules, RuleSet

__all__ = ["PythonBlockCounters", "PythonBlockTable"]


class PythonBlockCounters:
    """The module counters, as BFE names them in ``snapshot()``: ``CONN_TOTAL`` ... ``REQ_TO_CHECK``.

    Plain ints, incremented in place: exact under one event loop; threads sharing a table
    could in principle lose an increment (BFE's are atomic), never a decision.
    """

    __slots__ = (
        "conn_accept",
        "conn_refuse",
        "conn_total",
        "req_accept",
        "req_refuse",
        "req_to_check",
        "req_total",
        "wrong_command",
    )

    def __init__(self) -> None:
        self.conn_total = self.conn_accept = self.conn_refuse = 0
        self.req_total = self.req_accept = self.req_refuse = 0
        self.wrong_command = self.req_to_check = 0

    def snapshot(self) -> dict[str, int]:
        """Every counter by its BFE name (the Prometheus name is ``mod_block_`` plus it)."""
        return {name: getattr(self, name.lower()) for name in COUNTER_NAMES}

    def __repr__(self) -> str:
        return f"PythonBlockCounters({self.snapshot()})"


class PythonBlockTable:
    """The rules and the blocklist in force, and the counters: :meth:`check_connection`, :meth:`check_request`.

    ``rules`` and ``blocklist`` may be replaced at any time by assignment (that is what a
    reload does); ``counters`` live as long as the table object.
    """

    __slots__ = ("blocklist", "counters", "rules")

    def __init__(
        self,
        rules: RuleSet | None = None,
        blocklist: IPTable | None = None,
        counters: PythonBlockCounters | None = None,
    ) -> None:
        self.rules = rules if rules is not None else RuleSet.empty()
        self.blocklist = blocklist if blocklist is not None else IPTable()
        self.counters = counters if counters is not None else PythonBlockCounters()

    def check_connection(self, peer: str) -> ConnectionDecision:
        """``"close"`` if the peer address (socket peer or PROXY-protocol source) is listed, else ``"accept"``."""
        counters = self.counters
        counters.conn_total += 1
        if self.blocklist.contains(peer):
            counters.conn_refuse += 1
            return "close"
        counters.conn_accept += 1
        return "accept"

    def check_request(self, facts: RequestParts, product: str | None) -> BlockDecision:
        """The decision for a request of ``product`` (None: the host table found no product; only ``global`` applies).

        ``facts`` may be a request that builds its :class:`RequestFacts` on demand: they are
        built only when the rules' index lets a rule through.
        """
        counters = self.counters
        counters.req_total += 1
        products = self.rules.products
        shared = products.get(GLOBAL)
        own = None if product is None else products.get(product)
        if shared is None and own is None:
            return PASS
        counters.req_to_check += 1
        info: str | None = None
        if shared is not None and not shared.index.excludes(facts):
            decision, info = self._process(shared, facts, info)
            if decision is not None:
                return decision
        if own is None:  # BFE returns here without counting REQ_ACCEPT
            return PASS if info is None else BlockDecision("pass", info)
        if not own.index.excludes(facts):
            decision, info = self._process(own, facts, info)
            if decision is not None:
                return decision
        counters.req_accept += 1
        return PASS if info is None else BlockDecision("pass", info)

    def _process(
        self, rules: ProductRules, facts: RequestParts, info: str | None
    ) -> tuple[BlockDecision | None, str | None]:
        """The first decisive match of one list (one its index did not rule out), and the name left in block_info."""
        index = rules.index.first_index(facts.facts)
        while index is not None:
            decision = rules.decisions[index]
            if decision is not None:
                if decision.action == "allow":
                    self.counters.req_accept += 1
                else:
                    self.counters.req_refuse += 1
                return decision, decision.rule
            self.counters.wrong_command += 1
            info = rules.rules[index].name
            index = _next_match(rules, facts.facts, index + 1)
        return None, info


def _next_match(rules: ProductRules, facts: RequestFacts, start: int) -> int | None:
    """The next matching rule from ``start`` on, by a plain scan (only after a rule with an unknown command)."""
    for index in range(start, len(rules.rules)):
        if rules.rules[index].condition(facts):
            return index
    return None
