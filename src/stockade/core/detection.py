"""Recognising malicious requests: the built-in rule pack (:mod:`stockade.detection`) and the user's rules.

A :class:`Detector` joins the detection engine, which scores the whole request against the
rule pack, to the rules the user writes in the condition language (``additional_rules``):
a request is malicious when its score reaches the threshold, or when a user rule matches.
The guard counts a strike for it; the :class:`Finding` names the rules and categories that
fired, for events and ``replay``.

``rules`` in the configuration chooses rules by id, by category, or by the names of the
first rule pack (``env_file``, ``sql_injection``, ...), which map to the rules that took
their place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from stockade.conditions.ruleset import RuleList
from stockade.core.facts import RequestFacts
from stockade.detection import CATEGORIES, Engine, Rule, Settings, Verdict, builtin_pack, request_from

BUILTIN: tuple[Rule, ...] = builtin_pack()
BUILTIN_NAMES = tuple(rule.id for rule in BUILTIN)

# The first pack's rule names, and the rules of this pack that cover what each caught.
LEGACY_NAMES: dict[str, tuple[str, ...]] = {
    "secret_files": ("secret_files", "config_file"),
    "dotfiles": ("dotfiles", "secret_files"),
    "backup_files": ("backup_files", "dump_file", "backup_archive", "archive_oddity"),
    "cms_admin": ("wordpress_probe", "cms_probe", "db_admin_tool", "server_admin"),
    "path_traversal": ("path_traversal", "traversal_single", "traversal_encoded"),
    "shell_injection": ("shell_command", "shellshock", "windows_command", "log4shell"),
    "sql_injection": ("sqli_tokens", "sqli_functions"),
    "xss_markers": ("xss_html", "xss_script"),
}


def builtin_rules(names: Iterable[str]) -> tuple[Rule, ...]:
    """The built-in rules ``names`` choose, in the pack's order.

    A name is ``"builtin"`` (all of them), a rule id, a category, or a name of the first
    pack. A rule chosen by name is on whatever its level.
    """
    wanted = set(names)
    if "builtin" in wanted:
        return BUILTIN
    ids: set[str] = set()
    for name in wanted:
        if name in LEGACY_NAMES and name not in CATEGORIES:
            ids.update(LEGACY_NAMES[name])
        elif name in CATEGORIES:
            ids.update(rule.id for rule in BUILTIN if rule.category == name)
        elif name in BUILTIN_NAMES:
            ids.add(name)
        else:
            raise ValueError(
                f'unknown rule {name!r}: expected "builtin", a rule id, a category ({", ".join(CATEGORIES[:-1])})'
                " or a name of the first pack"
            )
    return tuple(rule for rule in BUILTIN if rule.id in ids)


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a request is malicious: the rule that names it, all rules and categories, the score."""

    rule: str
    rules: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    score: int = 0


class Probe(Protocol):
    """What detection reads of a request: :class:`RequestFacts`, or a request that builds them lazily."""

    @property
    def path(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def query(self) -> str: ...

    @property
    def facts(self) -> RequestFacts: ...


class Detector:
    """The detection of one configuration: the engine (its rule pack and settings) and the user's rules."""

    def __init__(
        self,
        rules: Engine | Sequence[Rule] | None = None,
        custom: RuleList | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        if isinstance(rules, Engine):
            self.engine = rules
        elif rules is None:
            self.engine = Engine(settings)
        else:
            chosen = tuple(rules)
            # Rules chosen by name are on whatever their level.
            level = max((rule.level for rule in chosen), default=1)
            base = settings or Settings()
            self.engine = Engine(
                Settings(
                    level=max(level, base.level),
                    threshold=base.threshold,
                    disabled=base.disabled & {rule.id for rule in chosen},
                    scores={k: v for k, v in base.scores.items() if k in {rule.id for rule in chosen}},
                    body_limit=base.body_limit,
                    headers=base.headers,
                    profiles=base.profiles,
                ),
                pack=chosen,
            )
        self.custom = custom
        self._empty = not self.engine.rules

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.engine.rules

    def inspect(self, facts: Probe, *, known_route: bool = False) -> Finding | None:
        """Why the request is malicious, or ``None`` for a clean one."""
        if not self._empty:
            verdict = self.engine.inspect(
                request_from(facts, self.engine.settings.body_limit, self.engine.headers), known_route=known_route
            )
            if verdict.malicious:
                return _finding(verdict)
        if self.custom is not None:
            name = self.custom.first_match(facts.facts)
            if name is not None:
                return Finding(name, (name,), ("custom",), 0)
        return None

    def detect(self, facts: Probe, *, known_route: bool = False) -> str | None:
        """The name of the rule that makes the request malicious, or ``None`` for a clean request."""
        finding = self.inspect(facts, known_route=known_route)
        return None if finding is None else finding.rule

    def verdict(self, facts: Probe, *, known_route: bool = False) -> Verdict:
        """The engine's full verdict (every rule that fired, malicious or not): for explain."""
        return self.engine.inspect(
            request_from(facts, self.engine.settings.body_limit, self.engine.headers), known_route=known_route
        )

    def explain(self, facts: Probe, *, known_route: bool = False) -> Explanation:
        """Every rule the request fires, on which part, with which value, and the score: what
        ``stockade detect explain`` prints and the console's tryout shows."""
        return Explanation(self.verdict(facts, known_route=known_route), self.inspect(facts, known_route=known_route))


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the detection makes of one request: the engine's verdict and the finding (the user's rules too)."""

    verdict: Verdict
    finding: Finding | None

    @property
    def malicious(self) -> bool:
        return self.finding is not None

    @property
    def custom(self) -> str | None:
        """The user's condition rule that matched, when it is what makes the request malicious."""
        if self.finding is not None and self.finding.categories == ("custom",):
            return self.finding.rule
        return None

    def lines(self) -> list[str]:
        """The explanation as text, one line a rule: id, category, score, part, value."""
        state = "malicious" if self.malicious else "clean"
        out = [f"{state}: score {self.verdict.score} (threshold {self.verdict.threshold})"]
        for hit in self.verdict.hits:
            rule = hit.rule
            out.append(f"  {rule.id:<26} {rule.category:<18} +{rule.score:<3} {hit.target:<10} {hit.value}")
        if self.custom is not None:
            out.append(f"  {self.custom:<26} custom (additional_rules)")
        if self.verdict.uninspected:
            out.append(f"  ({self.verdict.uninspected} body bytes beyond the limit were not inspected)")
        return out


def _finding(verdict: Verdict) -> Finding:
    rule = verdict.rule or ""
    return Finding(rule, tuple(hit.rule.id for hit in verdict.hits), verdict.categories, verdict.score)
