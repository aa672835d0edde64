"""Rule-based blocking as BFE's ``mod_block`` does it, reading BFE's files unchanged.

- :mod:`~stockade.rules.bfe_conf`: ``mod_block.conf`` (gcfg), which names the two data files;
- :mod:`~stockade.rules.rule_file`: ``block_rules.data``, per-product rules that CLOSE or ALLOW;
- :mod:`~stockade.rules.ip_blocklist` and :mod:`~stockade.rules.iptable`: ``ip_blocklist.data``
  and its lookup structure;
- :mod:`~stockade.rules.block`: the :class:`BlockTable` that checks connections and requests
  and keeps BFE's counters;
- :mod:`~stockade.rules.hosts`: the host table that names a request's product;
- :mod:`~stockade.rules.reload` and :mod:`~stockade.rules.watch`: reloads that build aside
  and swap atomically, on demand or when the files change.

Typical use::

    reloader = BlockReloader.from_conf("conf/mod_block/mod_block.conf")  # or .open(rules, blocklist)
    table = reloader.table
    if table.check_connection(peer_ip) == "close": ...      # close before reading a byte
    decision = table.check_request(facts, hosts.product(facts.host))
    if decision.action == "close": ...                       # close without a response
    reloader.reload_rules()                                  # -> ReloadResult; old rules kept on error
    table.counters.snapshot()                                # {"CONN_TOTAL": ..., "REQ_TO_CHECK": ...}

Deviations from BFE (everything else is reproduced, quirks included):

- With several bad products, BFE reports one at random (Go map order); stockade the first
  in file order.
- BFE sorts blocklist ranges with a ``>=`` comparison and an unstable sort; when a range
  starting at ``::`` (``::/0`` .. ``::/7``, or a pair ``:: x``) merges with another, BFE may
  keep a zeroed placeholder instead and then miss addresses it lists. stockade keeps the
  merged range.
- ``mod_block.conf``: every problem is reported at once, where gcfg stops at its first.
- The host table (stockade's own configuration, not a BFE file) ignores one trailing dot.
- A request whose host maps to no product (or with no host table at all) still meets the
  ``global`` rules, counted as a request of a product without rules; BFE refuses it before
  mod_block runs, so its global rules never see it.
"""

from stockade.rules.bfe_conf import ModuleConf, load_module_conf, parse_module_conf
from stockade.rules.block import COUNTER_NAMES, BlockCounters, BlockTable, ConnectionDecision
from stockade.rules.decision import PASS, BlockDecision
from stockade.rules.hosts import HostTable
from stockade.rules.ip_blocklist import load_ip_blocklist, parse_ip_blocklist
from stockade.rules.iptable import IPTable
from stockade.rules.reload import BlockReloader, ReloadResult
from stockade.rules.rule_file import BlockRule, ProductRules, RuleSet, load_rule_file, parse_rule_file

__all__ = [
    "COUNTER_NAMES",
    "PASS",
    "BlockCounters",
    "BlockDecision",
    "BlockReloader",
    "BlockRule",
    "BlockTable",
    "ConnectionDecision",
    "HostTable",
    "IPTable",
    "ModuleConf",
    "ProductRules",
    "ReloadResult",
    "RuleSet",
    "load_ip_blocklist",
    "load_module_conf",
    "load_rule_file",
    "parse_ip_blocklist",
    "parse_module_conf",
    "parse_rule_file",
]
