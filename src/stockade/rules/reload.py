"""Load mod_block's files and reload them into a live :class:`BlockTable`: build aside, swap atomically.

As BFE's reload endpoints (``mod_block.product_rule_table`` and
``mod_block.global_ip_table``, ``bfe.md`` §2.6): a reload reads and validates the whole
file, then replaces the table in force in one assignment, nothing merged; on any error the
old table stays and the error is returned, in BFE's words
(``err in ProductRuleConfLoad(<path>):<error>``) and in a person's (the file, the product,
the rule's index and name, the condition with a caret under the mistake). An optional
``path`` reads another file for this one reload, as BFE's ``?path=`` does; the configured
path stays the default. Counters are never reset; failed reloads are counted per file.

The initial load (:meth:`BlockReloader.open`) raises instead, as BFE's ``Init`` fails.
Reloads are serialised by a lock, so that two triggers at once (a file change and a
``SIGHUP``) install the file as read last. This module reads files but holds no clock
and starts nothing; :mod:`stockade.rules.watch` calls it when the files change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from stockade.errors import BlockFileError
from stockade.ipsets import load_blocklist
from stockade.rules.bfe_conf import ModuleConf, load_module_conf
from stockade.rules.block import BlockTable
from stockade.rules.iptable import DEFAULT_CACHE_SIZE
from stockade.rules.rule_file import load_rule_file

__all__ = ["BlockReloader", "ReloadResult", "Target"]

Target = Literal["block_rules", "ip_blocklist"]

_BFE_LOADER: dict[str, str] = {"block_rules": "ProductRuleConfLoad", "ip_blocklist": "GlobalIPTableLoad"}


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """The outcome of one reload: ``ok``, or the ``error`` with BFE's answer in ``message``."""

    target: Target
    path: str
    error: BlockFileError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        """BFE's reply: ``""`` on success, else ``err in ProductRuleConfLoad(<path>):<error>`` (GlobalIPTableLoad)."""
        if self.error is None:
            return ""
        return f"err in {_BFE_LOADER[self.target]}({self.path}):{self.error.bfe_message}"

    @property
    def detail(self) -> str:
        """The error for a person (several lines for a condition error), ``""`` on success."""
        return "" if self.error is None else str(self.error)

    def as_dict(self) -> dict[str, str]:
        """``{"reload": "ok"}`` or ``{"reload": "error", "error": ..., "detail": ...}``, for APIs and replay."""
        if self.error is None:
            return {"reload": "ok", "target": self.target, "path": self.path}
        return {
            "reload": "error",
            "target": self.target,
            "path": self.path,
            "error": self.message,
            "detail": self.detail,
        }


class BlockReloader:
    """The files of one :class:`BlockTable` and how to reload them.

    ``rules_path`` and ``blocklist_path`` are the configured files (as resolved from
    ``mod_block.conf`` or given directly); ``errors`` counts failed reloads per target.
    The blocklist is the native set (:func:`stockade.ipsets.load_blocklist`), which keeps
    no cache of answers: ``cache_size`` is accepted for the Python table's callers and unused.
    """

    def __init__(
        self, table: BlockTable, rules_path: str, blocklist_path: str, *, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self.table = table
        self.rules_path = rules_path
        self.blocklist_path = blocklist_path
        self.cache_size = cache_size
        self.errors: dict[Target, int] = {"block_rules": 0, "ip_blocklist": 0}
        self.last: dict[Target, ReloadResult] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, rules_path: str, blocklist_path: str, *, cache_size: int = DEFAULT_CACHE_SIZE) -> BlockReloader:
        """Load both files (the blocklist first, as BFE) into a new table; raise the first :class:`BlockFileError`."""
        blocklist = load_blocklist(blocklist_path)
        rules = load_rule_file(rules_path)
        return cls(BlockTable(rules, blocklist), rules_path, blocklist_path, cache_size=cache_size)

    @classmethod
    def from_conf(cls, conf: str | ModuleConf, *, conf_root: str | None = None) -> BlockReloader:
        """Load the files that ``mod_block.conf`` names (a path, or a parsed :class:`ModuleConf`)."""
        settings = conf if isinstance(conf, ModuleConf) else load_module_conf(conf, conf_root)
        return cls.open(settings.product_rule_path, settings.ip_blocklist_path)

    def reload_rules(self, path: str | None = None) -> ReloadResult:
        """Reload ``block_rules.data`` (or ``path`` this once); on error the rules in force stay."""
        source = path or self.rules_path
        with self._lock:
            try:
                rules = load_rule_file(source)
            except BlockFileError as exc:
                return self._failed("block_rules", source, exc)
            self.table.rules = rules
        return self._done(ReloadResult("block_rules", source))

    def reload_ip_blocklist(self, path: str | None = None) -> ReloadResult:
        """Reload ``ip_blocklist.data`` (or ``path`` this once); on error the blocklist in force stays."""
        source = path or self.blocklist_path
        with self._lock:
            try:
                blocklist = load_blocklist(source)
            except BlockFileError as exc:
                return self._failed("ip_blocklist", source, exc)
            self.table.blocklist = blocklist
        return self._done(ReloadResult("ip_blocklist", source))

    def reload(self, target: Target, path: str | None = None) -> ReloadResult:
        """Reload one target by name (``block_rules`` or ``ip_blocklist``)."""
        if target == "block_rules":
            return self.reload_rules(path)
        return self.reload_ip_blocklist(path)

    def reload_all(self) -> list[ReloadResult]:
        """Reload both configured files (what ``SIGHUP`` does); each one independently."""
        return [self.reload_ip_blocklist(), self.reload_rules()]

    def counters(self) -> dict[str, int]:
        """Failed reloads by BFE's reload handler name, for the metrics: ``RELOAD_ERROR_PRODUCT_RULE_TABLE`` ..."""
        return {
            "RELOAD_ERROR_PRODUCT_RULE_TABLE": self.errors["block_rules"],
            "RELOAD_ERROR_GLOBAL_IP_TABLE": self.errors["ip_blocklist"],
        }

    def _failed(self, target: Target, path: str, error: BlockFileError) -> ReloadResult:
        self.errors[target] += 1
        return self._done(ReloadResult(target, path, error))

    def _done(self, result: ReloadResult) -> ReloadResult:
        self.last[result.target] = result
        return result
