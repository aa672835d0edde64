"""The detection engine in Python: the oracle of the native one (``stockade._native.DetectionEngine``).

What follows describes the algorithm both implement.

A request is read as values by target (see :mod:`stockade.detection.parts`). Values that
arrive encoded (the query, a form body, the ``Cookie`` header) first meet the gate (see
:mod:`stockade.detection.gate`): one linear scan for anything any rule could need; only the
fields it finds something in are decoded and inspected, so a clean request costs a few scans
and dictionary lookups.

A value is inspected by the rules of its target, grouped by transformation chain; each group
is one RE2 set, so a value costs one linear pass per group whatever the number of rules. A
rule with ``match = "sqli"``, ``"xss"``, ``"script"`` or ``"shell"`` uses its pattern as a
cheap filter and confirms the value with that tokeniser. A rule fires at most once per
request; the request's score is the sum of the scores of the rules that fired, and the
request is malicious when it reaches the threshold.

Probe rules (files an application may really serve) are skipped for the application's own
routes: a route the router knows, or a path that a site profile (WordPress, Nextcloud, ...)
declares its own.

Most requests repeat parts seen a moment ago (the same path, the same User-Agent, the same
cookies), so what each part fires is remembered whole, and what each short value fires too,
in bounded memos emptied when full: a request made of known parts costs dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import re2

from stockade.detection.engine import Hit, Settings, Verdict
from stockade.detection.pack import MAX_LEVEL, Rule, builtin_pack
from stockade.detection.parts import GATED_TARGETS
from stockade.detection.profiles import PROFILES, Profile
from stockade.detection.request import Request, request_from
from stockade.oracle.detection import parts
from stockade.oracle.detection.gate import Anchors, Gate, compile_gate
from stockade.oracle.detection.shell import is_shell, is_shell_strict
from stockade.oracle.detection.sqli import is_sqli
from stockade.oracle.detection.transforms import TRANSFORMS
from stockade.oracle.detection.xss import is_xss, script_context

_MEMO_ENTRIES = 4096
_MEMO_LENGTH = 256
_PART_LENGTH = 1024  # a path, query or header longer than this is read every time
_CONFIRM_LENGTH = 4096  # a value longer than this is tokenised on its first part only
# A body's values read by the rules at most (those the gate found something in); the bytes of the
# rest pass uninspected and are counted, as the bytes beyond the body limit are: a crafted form of
# thousands of suspicious-looking fields costs a bounded time.
MAX_BODY_VALUES = 256
_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.max_mem = 64 << 20

# The tokenisers that confirm a value a rule's pattern selected.
MATCHERS: dict[str, Callable[[str], bool]] = {
    "sqli": is_sqli,
    "xss": is_xss,
    "script": script_context,
    "shell": is_shell,
}
# Headers use ";", "&" and parentheses of their own (User-Agent, Referer): commands need more there.
_HEADER_MATCHERS: dict[str, Callable[[str], bool]] = {**MATCHERS, "shell": is_shell_strict}
_NAMED = ("args", "cookies")  # targets whose values are "name=value" lines
_NAME_KINDS = ("sqli", "xss", "script")  # tokenisers that read a field's name too


@dataclass(frozen=True, slots=True)
class _Group:
    transforms: tuple[str, ...]
    matcher: Any  # re2.Set
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class _Gates:
    """The gate of the value targets, in its three readings (see :mod:`stockade.detection.gate`)."""

    query: Gate  # a raw query or form body
    cookie: Gate  # a raw Cookie header
    json: Gate  # a raw JSON body
    value: Gate  # one decoded value


@dataclass(frozen=True, slots=True)
class _Tables:
    groups: dict[str, tuple[_Group, ...]]
    gates: _Gates | None  # None: a rule without anchors reads arguments; every value is read
    header_gate: Gate | None  # for any_header; None: every header is read


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
        self.gated = True  # tests compare the verdicts with the gate off
        self._compiled: _Tables | None = None
        self._memo: dict[tuple[str, str], tuple[Hit, ...]] = {}
        self._paths: dict[tuple[str, str], tuple[Hit, ...]] = {}
        self._queries: dict[str, tuple[Hit, ...]] = {}
        self._header_memo: dict[tuple[str, str], tuple[Hit, ...]] = {}
        self._clean = Verdict(0, settings.threshold, ())

    def _tables(self) -> _Tables:
        """The compiled rules, built on first use (a command that never inspects never pays)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _Tables(_compile(self.rules), _gates(self.rules), _header_gate(self.rules))
        return compiled

    # -- inspection ---------------------------------------------------------------------------

    def inspect_facts(self, facts: Any, *, known_route: bool = False) -> Verdict:
        """:meth:`inspect` of a :class:`~stockade.core.facts.RequestFacts` or a ladder request."""
        return self.inspect(request_from(facts, self.settings.body_limit, self.headers), known_route=known_route)

    def inspect(self, request: Request, *, known_route: bool = False) -> Verdict:
        """The rules ``request`` fires and its score. ``known_route``: one of the app's own routes."""
        tables = self._tables()
        found = self._path_hits(request, tables)
        uninspected = request.uninspected
        if request.query:
            found += self._query_hits(request.query, tables)
        if request.body:
            body_hits, skipped = self._body_hits(request, tables)
            found += body_hits
            uninspected += skipped
        for name, value in request.headers:
            if value:
                found += self._header_hits(name, value, tables)
        if request.method != "GET" and "method" in tables.groups:
            found += self._value_hits(tables, "method", request.method)
        if not found:
            if uninspected:
                return Verdict(0, self.settings.threshold, (), uninspected)
            return self._clean
        own = known_route or any(profile.owns(request.path) for profile in self.profiles)
        hits: dict[str, Hit] = {}
        for hit in found:
            if not (own and hit.rule.probe):
                hits.setdefault(hit.rule.id, hit)
        chosen = tuple(hits.values())
        return Verdict(sum(hit.rule.score for hit in chosen), self.settings.threshold, chosen, uninspected)

    # Each part of a request is remembered whole (most requests repeat the path, the query, the
    # User-Agent or the cookies of one a moment ago); a part not seen before is read value by value.

    def _path_hits(self, request: Request, tables: _Tables) -> tuple[Hit, ...]:
        key = (request.path, request.raw_path)
        found = self._paths.get(key)
        if found is not None:
            return found
        hits: tuple[Hit, ...] = ()
        for form in parts.path_forms(request):
            hits += self._value_hits(tables, "path", form)
        if request.raw_path and "path_raw" in tables.groups:
            hits += self._value_hits(tables, "path_raw", request.raw_path)
        return _remember(self._paths, key, hits, len(request.path) + len(request.raw_path))

    def _query_hits(self, query: str, tables: _Tables) -> tuple[Hit, ...]:
        found = self._queries.get(query)
        if found is not None:
            return found
        gates = tables.gates if self.gated else None
        data = query.encode("utf-8", "surrogateescape")
        hits: tuple[Hit, ...] = ()
        if gates is None or gates.query.find(data) >= 0:
            hits = self._value_hits(tables, "query_raw", query)
            for line in parts.fields(data, b"&", None if gates is None else gates.query):
                hits += self._value_hits(tables, "args", line)
        return _remember(self._queries, query, hits, len(query))

    def _body_hits(self, request: Request, tables: _Tables) -> tuple[tuple[Hit, ...], int]:
        """The hits of the body's values, and the bytes of the values beyond :data:`MAX_BODY_VALUES`."""
        gates = tables.gates if self.gated else None
        hits: tuple[Hit, ...] = ()
        lines = parts.body_values(
            request,
            None if gates is None else gates.query,
            None if gates is None else gates.json,
            None if gates is None else gates.value,
        )
        for line in lines[:MAX_BODY_VALUES]:
            hits += self._value_hits(tables, "args", line)
        skipped = sum(len(line.encode("utf-8", "surrogateescape")) for line in lines[MAX_BODY_VALUES:])
        return hits, skipped

    def _header_hits(self, name: str, value: str, tables: _Tables) -> tuple[Hit, ...]:
        key = (name, value)
        found = self._header_memo.get(key)
        if found is not None:
            return found
        lowered = name.lower()
        hits: tuple[Hit, ...] = ()
        if lowered == "cookie":
            gates = tables.gates if self.gated else None
            data = value.encode("utf-8", "surrogateescape")
            for line in parts.fields(data, b";", None if gates is None else gates.cookie, plus=False):
                hits += self._value_hits(tables, "cookies", line)
            return _remember(self._header_memo, key, hits, len(value))
        if lowered == "user-agent":
            hits += self._value_hits(tables, "user_agent", value)
        elif lowered == "referer":
            hits += self._value_hits(tables, "referer", value)
        if lowered in self.headers:
            hits += self._value_hits(tables, "headers", value)
        gate = tables.header_gate if self.gated else None
        if "any_header" in tables.groups and (gate is None or gate.touches(value)):
            hits += self._value_hits(tables, "any_header", value)
        return _remember(self._header_memo, key, hits, len(value))

    def _value_hits(self, tables: _Tables, target: str, text: str) -> tuple[Hit, ...]:
        groups = tables.groups.get(target)
        if not groups:
            return ()
        memo = len(text) <= _MEMO_LENGTH
        if memo:
            found = self._memo.get((target, text))
            if found is not None:
                return found
        hits: list[Hit] = []
        views: dict[tuple[str, ...], str] = {(): text}
        for group in groups:
            view = _view(views, group.transforms)
            matched = group.matcher.Match(view)
            if not matched:
                continue
            for index in sorted(matched):
                rule = group.rules[index]
                if rule.kind == "regex" or _confirmed(rule.kind, view, target):
                    hits.append(Hit(rule, target, _shown(view)))
        result = tuple(hits)
        if memo:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            self._memo[(target, text)] = result
        return result


def _view(views: dict[tuple[str, ...], str], transforms: tuple[str, ...]) -> str:
    """``transforms`` applied to the value, from the longest chain already computed (decode once)."""
    found = views.get(transforms)
    if found is not None:
        return found
    done = len(transforms) - 1
    while done > 0 and transforms[:done] not in views:
        done -= 1
    text = views[transforms[:done]]
    for index in range(done, len(transforms)):
        text = TRANSFORMS[transforms[index]](text)
        views[transforms[: index + 1]] = text
    return text


def _remember(memo: dict[Any, tuple[Hit, ...]], key: Any, hits: tuple[Hit, ...], size: int) -> tuple[Hit, ...]:
    """Keep ``hits`` for ``key`` when the part is short; the memo is emptied when full (bounded)."""
    if size <= _PART_LENGTH:
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[key] = hits
    return hits


def _compile(rules: tuple[Rule, ...]) -> dict[str, tuple[_Group, ...]]:
    grouped: dict[tuple[str, tuple[str, ...]], list[Rule]] = {}
    for rule in rules:
        for target in rule.targets:
            grouped.setdefault((target, rule.transforms), []).append(rule)
    out: dict[str, list[_Group]] = {}
    for (target, transforms), members in grouped.items():
        matcher = re2.Set.SearchSet(_OPTIONS)
        for rule in members:
            matcher.Add("(?m)" + rule.pattern)
        matcher.Compile()
        out.setdefault(target, []).append(_Group(transforms, matcher, tuple(members)))
    return {target: tuple(groups) for target, groups in out.items()}


def _anchors(rules: tuple[Rule, ...], targets: tuple[str, ...]) -> Anchors | None:
    """Every anchor of the rules reading ``targets``, or ``None`` when one of them has none."""
    anchors: list[str] = []
    for rule in rules:
        if any(target in targets for target in rule.targets):
            if not rule.anchors:
                return None
            anchors += rule.anchors
    return Anchors.of(anchors)


def _header_gate(rules: tuple[Rule, ...]) -> Gate | None:
    found = _anchors(rules, ("any_header",))
    return None if found is None else compile_gate(found, encoded=False)


def _gates(rules: tuple[Rule, ...]) -> _Gates | None:
    """The gates of the encoded targets (query, body, cookies), or ``None`` when a rule reading them has no anchors."""
    found = _anchors(rules, GATED_TARGETS)
    if found is None:
        return None
    return _Gates(
        query=compile_gate(found, "&=+", separator="&"),
        cookie=compile_gate(found, ";=", separator=";"),
        json=compile_gate(found, '"{}[],:', encoded=False, json=True),
        value=compile_gate(found, encoded=False),
    )


def _confirmed(kind: str, view: str, target: str) -> bool:
    """Whether the tokeniser of ``kind`` reads the value (or, for a named field, its name) as an attack."""
    if target in _NAMED:
        matcher = MATCHERS[kind]
        name, sep, rest = view.partition("=")
        if sep:
            if matcher(rest[:_CONFIRM_LENGTH]):
                return True
            return kind in _NAME_KINDS and len(name) > 2 and matcher(name[:_CONFIRM_LENGTH])
        return matcher(view[:_CONFIRM_LENGTH])
    matcher = _HEADER_MATCHERS[kind] if target in ("headers", "user_agent", "referer", "any_header") else MATCHERS[kind]
    return matcher(view[:_CONFIRM_LENGTH])


def _shown(value: str) -> str:
    """A value cut to a readable length."""
    return value if len(value) <= 200 else value[:197] + "..."
