"""mod_block at run time: the connection check, the request decision and the module counters.

Two checks, in BFE's order (``bfe.md`` §2.4):

- **Connection** (BFE's ``HandleAccept``, before TLS and before a byte is read): the peer
  address is looked up in the IP blocklist; a listed peer's connection is closed without a
  response.
- **Request** (``HandleFoundProduct``, after the host table named the product): the
  ``global`` rules, then the product's rules, each list in file order; the first rule whose
  condition matches decides. ``CLOSE`` closes the connection without a response, ``ALLOW``
  ends mod_block's processing (later stages still run).

**A deliberate difference from BFE**: a request without a product (the host table maps
its host to none, or there is no host table) still meets the ``global`` rules, as a request
of a product without rules of its own does (and it is counted the same way). BFE refuses
such a request before mod_block runs, so in BFE a global rule never sees it; stockade has
no such earlier refusal, and a ``global`` ``CLOSE`` that let those requests through would
protect nothing. Requests with a product are decided and counted exactly as in BFE.

The counters follow BFE's increments exactly, including its corners: a request whose
product has no rule list and which no global rule matched counts only in ``REQ_TOTAL``; a
product with an empty list counts ``REQ_ACCEPT`` when nothing matches; a matched rule
whose command is neither ``CLOSE`` nor ``ALLOW`` (only from rules made in code) counts
``WRONG_COMMAND`` and the search goes on. ``REQ_TO_CHECK`` (listed in mod_block's
documentation, gone from BFE's code) counts the requests for which at least one rule list
is evaluated. The counters belong to the module, not to a table: reloads never reset them.

:class:`BlockTable` holds the rule set and the blocklist in force; a reload builds new
ones aside and assigns them. The checks are native (``stockade._native``): the rules
loaded from a file (:class:`~stockade.rules.rule_file.RuleSet`, whose conditions the
Python side parsed and checked) carry their native form, which an assignment swaps in
atomically, so a check sees one rule set from start to end; the counters are native
atomics that outlive any swap. :mod:`stockade.rules.oracle` keeps the Python
implementation, which the differential tests hold the native one to. Nothing here does
I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, cast

from stockade._native import BlockCounters
from stockade._native import BlockTable as NativeBlockTable
from stockade.conditions.ruleset import RequestParts
from stockade.ipranges import IPRanges
from stockade.ipsets import IPSet, as_ip_set
from stockade.rules.decision import PASS, BlockDecision
from stockade.rules.rule_file import RuleSet

__all__ = ["COUNTER_NAMES", "PASS", "BlockCounters", "BlockDecision", "BlockTable", "ConnectionDecision"]

ConnectionDecision = Literal["accept", "close"]

COUNTER_NAMES = (
    "CONN_TOTAL",
    "CONN_ACCEPT",
    "CONN_REFUSE",
    "REQ_TOTAL",
    "REQ_ACCEPT",
    "REQ_REFUSE",
    "WRONG_COMMAND",
    "REQ_TO_CHECK",
)

RequestCheck = Callable[[RequestParts, "str | None"], BlockDecision]


class BlockTable:
    """The rules and the blocklist in force, and the counters: :meth:`check_connection`, ``check_request``.

    ``rules`` and ``blocklist`` may be replaced at any time by assignment (that is what a
    reload does); ``counters`` (:class:`BlockCounters`, ``snapshot()`` by BFE's names) live
    as long as the table object, or longer when given to the next one.

    ``check_request(request, product)`` is the decision for a request of ``product``
    (``None``: the host table found no product; only ``global`` applies). ``request`` is a
    :class:`~stockade.core.facts.RequestFacts`, a native request, or a request that builds
    its facts on demand (:class:`~stockade.request.incoming.Incoming`): its path, host,
    method and headers are read first, its facts only when the rules' index lets a rule
    through. It is the native table's own method, bound at construction: no Python frame
    between the caller and the native check.
    """

    __slots__ = ("_native", "_rules", "blocklist", "check_request", "counters")

    def __init__(
        self,
        rules: RuleSet | None = None,
        blocklist: IPSet | IPRanges | None = None,
        counters: BlockCounters | None = None,
    ) -> None:
        self.counters = counters if counters is not None else BlockCounters()
        self._rules = rules if rules is not None else RuleSet.empty()
        self._native = NativeBlockTable(self._rules.native, self.counters, PASS)
        self.check_request = cast(RequestCheck, self._native.check_request)
        self.blocklist = as_ip_set(blocklist) if blocklist is not None else IPSet.from_ranges(())

    @property
    def native(self) -> NativeBlockTable:
        """The native table (the native front evaluates the same rules, counted in the same counters)."""
        return self._native

    @property
    def rules(self) -> RuleSet:
        """The rule set in force; assigning one puts it in force atomically."""
        return self._rules

    @rules.setter
    def rules(self, rules: RuleSet) -> None:
        self._native.set_rules(rules.native)
        self._rules = rules

    def check_connection(self, peer: str) -> ConnectionDecision:
        """``"close"`` if the peer address (socket peer or PROXY-protocol source) is listed, else ``"accept"``."""
        return "close" if self._native.check_connection(self.blocklist.contains(peer)) else "accept"
