"""Hits by rule: mod_block's rules (from the ladder's verdicts) and detection's (from events).

Names come from the configuration, so there are few of them; still, a configuration with
very many rules (or a bug that invents names) cannot grow these tables without bound: past
``limit`` distinct names, the new ones are counted together under :data:`OTHER`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

OTHER: Final = "(other)"
LIMIT: Final = 4096


class Hits:
    """Running totals by name, bounded to ``limit`` names (see the module docstring)."""

    def __init__(self, *, limit: int = LIMIT) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}

    def add(self, name: str, count: int = 1) -> None:
        counts = self.counts
        if name not in counts and len(counts) >= self.limit:
            name = OTHER
        counts[name] = counts.get(name, 0) + count

    def get(self, name: str) -> int:
        return self.counts.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


class DetectionHits:
    """Detection hits by rule and, when the events name them, by category.

    A ``malicious_request`` event names the rule that decided (``rule``) and may name every
    rule that fired (``rules``) and their categories (``categories``); each named rule and
    category counts once per event.
    """

    def __init__(self, *, limit: int = LIMIT) -> None:
        self.rules = Hits(limit=limit)
        self.categories = Hits(limit=limit)

    def record(self, data: Mapping[str, object]) -> None:
        rules = _names(data.get("rules"))
        if not rules:
            rule = data.get("rule")
            rules = (rule,) if isinstance(rule, str) and rule else ()
        for rule in rules:
            self.rules.add(rule)
        for category in _names(data.get("categories")):
            self.categories.add(category)


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(dict.fromkeys(item for item in value if isinstance(item, str) and item))
