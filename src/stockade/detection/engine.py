"""The detection engine: which rules a request fires, its score, and whether it is malicious.

Rules are grouped by target and transformation chain; each group is one RE2 set, so a
request costs one linear pass per group over the joined values of its target (see
:mod:`stockade.detection.parts`), whatever the number of rules. A rule with ``match = "sqli"``
uses its pattern as a cheap filter and confirms each selected value with the SQL tokeniser.
A rule fires at most once per request; the request's score is the sum of the scores of the
rules that fired, and the request is malicious when it reaches the threshold.

Probe rules (files an application may really serve) are skipped for the application's own
routes: a route the router knows, or a path that a site profile (WordPress, Nextcloud, ...)
declares its own.

Most requests repeat values seen a moment ago (the same path, the same User-Agent), so the
rules a target's text fires are remembered for short texts, in a bounded memo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import re2

from stockade.detection import parts
from stockade.detection.pack import MAX_LEVEL, Rule, builtin_pack
from stockade.detection.profiles import PROFILES, Profile
from stockade.detection.request import DEFAULT_BODY_LIMIT, Request, request_from
from stockade.detection.sqli import is_sqli
from stockade.detection.transforms import chain

DEFAULT_THRESHOLD = 5
_MEMO_ENTRIES = 4096
_MEMO_LENGTH = 256
_CONFIRM_LENGTH = 4096  # a value longer than this is tokenised on its first part only
_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.max_mem = 64 << 20


@dataclass(frozen=True, slots=True)
class Settings:
    """What an operator chooses: the level, the threshold, rules off or re-scored, limits, profiles."""

    level: int = 1
    threshold: int = DEFAULT_THRESHOLD
    disabled: frozenset[str] = frozenset()
    scores: Mapping[str, int] = field(default_factory=dict)
    body_limit: int | None = DEFAULT_BODY_LIMIT
    headers: tuple[str, ...] = parts.DEFAULT_HEADERS
    profiles: tuple[str, ...] = ()
    extra_rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that fired, the target it fired on, and the value it saw there."""

    rule: Rule
    target: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of inspecting one request."""

    score: int
    threshold: int
    hits: tuple[Hit, ...]
    uninspected: int = 0

    @property
    def malicious(self) -> bool:
        return self.score >= self.threshold

    @property
    def rule(self) -> str | None:
        """The rule that names the request: the highest-scoring one that fired."""
        if not self.hits:
            return None
        return max(self.hits, key=lambda hit: hit.rule.score).rule.id

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(hit.rule.category for hit in self.hits))


CLEAN = Verdict(0, DEFAULT_THRESHOLD, ())


@dataclass(frozen=True, slots=True)
class _Group:
    target: str
    transform: Callable[[str], str]
    matcher: Any  # re2.Set
    rules: tuple[Rule, ...]
    patterns: tuple[Any, ...]  # per rule: its own compiled pattern (to confirm a tokeniser rule, to explain)


class Engine:
    """The rules of one configuration, compiled; :meth:`inspect` decides on a request."""

    def __init__(self, settings: Settings | None = None, pack: Iterable[Rule] | None = None) -> None:
        self.settings = settings = settings or Settings()
        if not 1 <= settings.level <= MAX_LEVEL:
            raise ValueError(f"invalid level {settings.level!r}: expected 1 to {MAX_LEVEL}")
        rules = [*(builtin_pack() if pack is None else pack), *settings.extra_rules]
        known = {rule.id for rule in rules}
        unknown = sorted((set(settings.disabled) | set(settings.scores)) - known)
        if unknown:
            raise ValueError(f"unknown rule {unknown[0]!r}")
        self.all_rules = tuple(rules)
        self.rules = tuple(
            replace(rule, score=settings.scores.get(rule.id, rule.score))
            for rule in rules
            if rule.level <= settings.level and rule.id not in settings.disabled
        )
        self.profiles: tuple[Profile, ...] = tuple(PROFILES[name] for name in settings.profiles)
        self.headers = tuple(dict.fromkeys(name.lower() for name in settings.headers))
        self._compiled: tuple[tuple[_Group, ...], tuple[str, ...]] | None = None
        self._memo: dict[tuple[str, str], tuple[Hit, ...]] = {}

    def _tables(self) -> tuple[tuple[_Group, ...], tuple[str, ...]]:
        """The compiled rule groups, built on first use (a command that never inspects never pays)."""
        compiled = self._compiled
        if compiled is None:
            groups = self._compile(self.rules)
            compiled = self._compiled = (groups, tuple(dict.fromkeys(group.target for group in groups)))
        return compiled

    @staticmethod
    def _compile(rules: tuple[Rule, ...]) -> tuple[_Group, ...]:
        grouped: dict[tuple[str, tuple[str, ...]], list[Rule]] = {}
        for rule in rules:
            for target in rule.targets:
                grouped.setdefault((target, rule.transforms), []).append(rule)
        groups = []
        for (target, transforms), members in grouped.items():
            matcher = re2.Set.SearchSet(_OPTIONS)
            for rule in members:
                matcher.Add("(?m)" + rule.pattern)
            matcher.Compile()
            patterns = tuple(re2.compile("(?m)" + rule.pattern, options=_OPTIONS) for rule in members)
            groups.append(_Group(target, chain(transforms), matcher, tuple(members), patterns))
        # Groups of the same target run one after another, so a target's text is built once.
        return tuple(sorted(groups, key=lambda group: parts.TARGETS.index(group.target)))

    # -- inspection ---------------------------------------------------------------------------

    def inspect_facts(self, facts: Any, *, known_route: bool = False) -> Verdict:
        """:meth:`inspect` of a :class:`~stockade.core.facts.RequestFacts` or a ladder request."""
        return self.inspect(request_from(facts, self.settings.body_limit), known_route=known_route)

    def inspect(self, request: Request, *, known_route: bool = False) -> Verdict:
        """The rules ``request`` fires and its score. ``known_route``: one of the app's own routes."""
        own = known_route or self._profiled(request.path)
        hits: dict[str, Hit] = {}
        groups, targets = self._tables()
        for target in targets:
            text = self._text(request, target)
            if not text:
                continue
            for hit in self._target_hits(groups, target, text):
                if own and hit.rule.probe:
                    continue
                hits.setdefault(hit.rule.id, hit)
        if not hits:
            return Verdict(0, self.settings.threshold, (), request.uninspected)
        found = tuple(hits.values())
        return Verdict(sum(hit.rule.score for hit in found), self.settings.threshold, found, request.uninspected)

    def _profiled(self, path: str) -> bool:
        return any(profile.owns(path) for profile in self.profiles)

    def _text(self, request: Request, target: str) -> str:
        if target == "path":
            return parts.path_forms(request)
        if target == "args":
            query, body = parts.query_args(request.query), parts.body_args(request)
            return f"{query}\n{body}" if query and body else query or body
        if target == "query_raw":
            return request.query
        if target == "path_raw":
            return request.raw_path
        if target == "cookies":
            return parts.cookie_lines(request)
        if target == "user_agent":
            return request.header("user-agent")
        if target == "referer":
            return request.header("referer")
        if target == "headers":
            return parts.header_lines(request, self.headers)
        return request.method

    def _target_hits(self, groups: tuple[_Group, ...], target: str, text: str) -> tuple[Hit, ...]:
        memo = len(text) <= _MEMO_LENGTH
        if memo:
            found = self._memo.get((target, text))
            if found is not None:
                return found
        hits: list[Hit] = []
        for group in groups:
            if group.target != target:
                continue
            view = group.transform(text)
            matched = group.matcher.Match(view)
            if not matched:
                continue
            for index in sorted(matched):
                rule, pattern = group.rules[index], group.patterns[index]
                if rule.kind == "regex":
                    hits.append(Hit(rule, target, _line_of(pattern, view)))
                    continue
                value = _confirmed(pattern, view, target)
                if value is not None:
                    hits.append(Hit(rule, target, value))
        result = tuple(hits)
        if memo:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            self._memo[(target, text)] = result
        return result


def _confirmed(pattern: Any, view: str, target: str) -> str | None:
    """The first value the pattern selects that the SQL tokeniser reads as an injection."""
    for line in view.split("\n"):
        if not line or pattern.search(line) is None:
            continue
        value = line
        if target in ("args", "cookies"):
            name, sep, rest = line.partition("=")
            if sep and len(name) <= 128:
                value = rest
        if is_sqli(value[:_CONFIRM_LENGTH]):
            return value
    return None


def _line_of(pattern: Any, view: str) -> str:
    """The value (line) a match sits in, cut to a readable length."""
    found = pattern.search(view)
    if found is None:
        return ""
    start = view.rfind("\n", 0, found.start()) + 1
    end = view.find("\n", found.end())
    line = view[start : end if end >= 0 else len(view)]
    return line if len(line) <= 200 else line[:197] + "..."
