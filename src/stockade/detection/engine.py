"""The detection engine: which rules a request fires, its score, and whether it is malicious.

The rules of one configuration (the pack, the operator's level, disabled and re-scored
rules, extra rules, site profiles, named headers) are lowered once into the native engine
(``stockade._native.DetectionEngine``, ``native/core/src/detection/``), which reads the
request: the path and its decodings, query arguments, form and JSON body fields up to the
limit, cookies, named headers. Rules are grouped by target and transformation chain, each
group one multi-pattern set; a rule with ``match = "sqli"``, ``"xss"``, ``"script"`` or
``"shell"`` confirms what its pattern selected with that tokeniser. Values arriving encoded
(the query, a form body, the ``Cookie`` header) first meet the gate: one linear scan for
anything any rule could need.

A rule fires at most once per request; the request's score is the sum of the scores of the
rules that fired, and the request is malicious when it reaches the threshold. Probe rules
(files an application may really serve) are skipped for the application's own routes: a
route the router knows, or a path a site profile (WordPress, Nextcloud, ...) owns.

The Python implementation this replaced stays as the test oracle
(``stockade.oracle.detection``); differential tests keep the two equal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from stockade._native import DetectionEngine
from stockade.detection import parts
from stockade.detection.pack import MAX_LEVEL, Rule, builtin_pack
from stockade.detection.profiles import PROFILES, Profile
from stockade.detection.request import DEFAULT_BODY_LIMIT, Request, request_from

DEFAULT_THRESHOLD = 5
# A body's values read by the rules at most (those the gate found something in); the bytes of the
# rest pass uninspected and are counted, as the bytes beyond the body limit are: a crafted form of
# thousands of suspicious-looking fields costs a bounded time. The native engine applies it.
MAX_BODY_VALUES = 256


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

# What ``DetectionEngine`` is built from: the lowered rules, threshold, headers, profiles, body limit.
_NativeArguments: TypeAlias = tuple[
    list[tuple[str, str, str, list[str], list[str], int, bool, list[str]]],
    int,
    list[str],
    list[tuple[list[str], list[str], str]],
    int | None,
]


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
        self._native: DetectionEngine | None = None
        self._clean = Verdict(0, settings.threshold, ())

    def native(self) -> DetectionEngine:
        """The native engine, built on first use (a command that never inspects never pays),
        or taken from a build :func:`build_ahead` began for the same rules and settings."""
        engine = self._native
        if engine is None:
            arguments = self._native_arguments()
            ahead = _take_ahead(arguments)
            engine = self._native = ahead if ahead is not None else DetectionEngine(*arguments)
        return engine

    def _native_arguments(self) -> _NativeArguments:
        return (
            [
                (
                    rule.id,
                    rule.pattern,
                    rule.kind,
                    list(rule.targets),
                    list(rule.transforms),
                    rule.score,
                    rule.probe,
                    list(rule.anchors),
                )
                for rule in self.rules
            ],
            self.settings.threshold,
            list(self.headers),
            [(list(p.prefixes), list(p.files), p.pattern) for p in self.profiles],
            self.settings.body_limit,
        )

    def inspect_facts(self, facts: Any, *, known_route: bool = False) -> Verdict:
        """:meth:`inspect` of a :class:`~stockade.core.facts.RequestFacts` or a ladder request."""
        return self.inspect(request_from(facts, self.settings.body_limit, self.headers), known_route=known_route)

    def inspect(self, request: Request, *, known_route: bool = False) -> Verdict:
        """The rules ``request`` fires and its score. ``known_route``: one of the app's own routes."""
        score, found, uninspected = self.native().inspect(
            request.method,
            request.path,
            request.raw_path,
            request.query,
            request.headers,
            request.content_type,
            request.body,
            request.uninspected,
            known_route,
            self.gated,
        )
        if not found:
            if uninspected:
                return Verdict(0, self.settings.threshold, (), uninspected)
            return self._clean
        rules = self.rules
        hits = tuple(Hit(rules[index], target, value) for index, target, value in found)
        return Verdict(score, self.settings.threshold, hits, uninspected)


class _Ahead:
    """A native engine being built on a thread of its own (the build releases the GIL)."""

    def __init__(self, arguments: _NativeArguments) -> None:
        self.arguments = arguments
        self.engine: DetectionEngine | None = None
        # Not a daemon: an interpreter never exits under a build still running natively.
        self.thread = threading.Thread(target=self._build, name="stockade-detection-build")
        self.thread.start()

    def _build(self) -> None:
        try:
            self.engine = DetectionEngine(*self.arguments)
        except Exception:  # the engine that needs it builds again and reports the error
            self.engine = None

    def take(self) -> DetectionEngine | None:
        self.thread.join()
        return self.engine


# At most one build ahead; the first engine with the same arguments takes it.
_AHEAD: list[_Ahead] = []
_AHEAD_LOCK = threading.Lock()


def build_ahead(settings: Settings | None = None) -> None:
    """Begin building, on another thread, the native engine of ``Engine(settings)`` (the
    built-in pack), so that it compiles while the caller goes on (importing the
    configuration's schema, loading it). The first :meth:`Engine.native` built from the
    very same rules and settings takes it; any other builds its own, as without it."""
    arguments = Engine(settings)._native_arguments()
    with _AHEAD_LOCK:
        if not _AHEAD:
            _AHEAD.append(_Ahead(arguments))


def _take_ahead(arguments: _NativeArguments) -> DetectionEngine | None:
    with _AHEAD_LOCK:
        found = next((ahead for ahead in _AHEAD if ahead.arguments == arguments), None)
        if found is None:
            return None
        _AHEAD.remove(found)
    return found.take()
