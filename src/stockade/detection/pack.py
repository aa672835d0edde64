"""Rule packs as data: the built-in ``rules.toml`` and the operator's own, checked when loaded.

A pack is a TOML file of ``[[rule]]`` tables (the built-in one documents every key). Loading
checks every rule and reports all problems at once, each naming the file, the rule and the
field: an unknown target or transformation, a pattern RE2 cannot compile, a score or level
out of range. A rule is immutable once loaded; operators change scores and levels through
settings, never by editing the shipped file.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import re2

from stockade._native import detection_pattern_problem
from stockade.detection.parts import TARGETS
from stockade.detection.transforms import TRANSFORMS
from stockade.errors import ConfigError, ConfigIssue

Kind = Literal["regex", "sqli", "xss", "script", "shell"]
KINDS: tuple[Kind, ...] = ("regex", "sqli", "xss", "script", "shell")
CATEGORIES = (
    "admin_cms",
    "web_shells",
    "command_injection",
    "cve_exploit",
    "other_injection",
    "path_traversal",
    "scanner",
    "sensitive_files",
    "sql_injection",
    "xss",
    "custom",
)
MAX_LEVEL = 4
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_BOUNDARIES = {"word": (r"\b", r"\b"), "segment": (r"(?:^|/)", r"(?:/|$)"), "none": ("", "")}


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule; see ``rules.toml`` for the meaning of each field."""

    id: str
    category: str
    description: str
    targets: tuple[str, ...]
    transforms: tuple[str, ...]
    pattern: str
    kind: Kind = "regex"
    score: int = 5
    level: int = 1
    probe: bool = False
    anchors: tuple[str, ...] = ()


@functools.cache
def builtin_pack() -> tuple[Rule, ...]:
    """The rules shipped in the package (read once: the rules are frozen, the tuple too)."""
    return parse_pack(_builtin_text(), "stockade/detection/rules.toml", check_patterns=False)


def _builtin_text() -> str:
    return resources.files("stockade.detection").joinpath("rules.toml").read_text(encoding="utf-8")


def builtin_anchor_sets() -> dict[str, tuple[str, ...]]:
    """The named anchor sets of the built-in pack (``set:shell``, ``set:sql``, ...), which operators' packs may use."""
    table = tomllib.loads(_builtin_text()).get("anchors", {})
    return {name: tuple(words) for name, words in table.items()}


def load_pack(path: str | Path) -> tuple[Rule, ...]:
    """An operator's rule file, in the built-in pack's format."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the rule file: {exc.strerror}")]) from None
    return parse_pack(text, str(path))


def parse_pack(text: str, file: str, *, check_patterns: bool = True) -> tuple[Rule, ...]:
    """The rules of a pack's text; ``check_patterns=False`` trusts the patterns (the shipped pack, tested)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [ConfigIssue("", f"not valid TOML: {exc}")]) from None
    tables = document.get("rule", [])
    issues: list[ConfigIssue] = []
    unknown = sorted(set(document) - {"rule", "anchors"})
    if unknown:
        issues.append(ConfigIssue(unknown[0], "unknown key: a pack holds [anchors] and [[rule]] tables"))
    sets = _anchor_sets(document.get("anchors", {}), issues, file)
    if not isinstance(tables, list):
        raise ConfigError(file, [ConfigIssue("rule", "expected [[rule]] tables")])
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        rule = _rule(table, f"rule[{index}]", issues, check_patterns, sets)
        if rule is None:
            continue
        if rule.id in seen:
            issues.append(ConfigIssue(f"rule[{index}].id", "duplicate rule id", rule.id, True))
        seen.add(rule.id)
        rules.append(rule)
    if issues:
        raise ConfigError(file, issues)
    return tuple(rules)


def _anchor_sets(table: object, issues: list[ConfigIssue], file: str) -> dict[str, tuple[str, ...]]:
    """The ``[anchors]`` table: named lists a rule's ``anchors`` may include as ``"set:name"``."""
    if not isinstance(table, dict):
        issues.append(ConfigIssue("anchors", "expected a table of named arrays of strings"))
        return {}
    sets: dict[str, tuple[str, ...]] = {}
    if not file.startswith("stockade/"):
        sets.update(builtin_anchor_sets())
    for name, words in table.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w and " " not in w for w in words):
            issues.append(ConfigIssue(f"anchors.{name}", "expected an array of non-empty strings without spaces"))
            continue
        sets[name] = tuple(words)
    return sets


def _rule(
    table: Any, where: str, issues: list[ConfigIssue], check_patterns: bool, sets: dict[str, tuple[str, ...]]
) -> Rule | None:
    if not isinstance(table, dict):
        issues.append(ConfigIssue(where, "expected a table"))
        return None
    before = len(issues)
    allowed = {
        "id",
        "category",
        "description",
        "targets",
        "transforms",
        "pattern",
        "words",
        "boundary",
        "match",
        "score",
        "level",
        "probe",
        "anchors",
    }
    for key in sorted(set(table) - allowed):
        issues.append(ConfigIssue(f"{where}.{key}", f"unknown key: expected one of {', '.join(sorted(allowed))}"))
    rule_id = table.get("id")
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        issues.append(
            ConfigIssue(f"{where}.id", "expected a lower-case name of letters, digits, '-', '_', '.'", rule_id, True)
        )
        rule_id = "?"
    else:
        where = f"rule {rule_id!r}"
    category = table.get("category", "custom")
    if category not in CATEGORIES:
        issues.append(ConfigIssue(f"{where}.category", f"expected one of {', '.join(CATEGORIES)}", category, True))
    targets = _names(table.get("targets"), TARGETS, f"{where}.targets", issues, required=True)
    transforms = _names(table.get("transforms", []), tuple(TRANSFORMS), f"{where}.transforms", issues)
    kind = table.get("match", "regex")
    if kind not in KINDS:
        issues.append(ConfigIssue(f"{where}.match", f"expected one of {', '.join(KINDS)}", kind, True))
    pattern = _pattern(table, where, issues, check_patterns)
    score = table.get("score", 5)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        issues.append(ConfigIssue(f"{where}.score", "expected an integer from 0 to 100", score, True))
    level = table.get("level", 1)
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
        issues.append(ConfigIssue(f"{where}.level", f"expected an integer from 1 to {MAX_LEVEL}", level, True))
    probe = table.get("probe", False)
    if not isinstance(probe, bool):
        issues.append(ConfigIssue(f"{where}.probe", "expected true or false", probe, True))
    anchors = _anchors(table.get("anchors", []), sets, f"{where}.anchors", issues)
    description = table.get("description", "")
    if not isinstance(description, str):
        issues.append(ConfigIssue(f"{where}.description", "expected a string", description, True))
    if len(issues) > before:
        return None
    return Rule(rule_id, category, description, targets, transforms, pattern, kind, score, level, probe, tuple(anchors))


def _anchors(value: object, sets: dict[str, tuple[str, ...]], where: str, issues: list[ConfigIssue]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(a, str) and a and " " not in a for a in value):
        issues.append(ConfigIssue(where, "expected an array of non-empty strings without spaces", value, True))
        return []
    out: list[str] = []
    for item in value:
        if item.startswith("set:"):
            if item[4:] not in sets:
                issues.append(
                    ConfigIssue(where, f"unknown anchor set: expected set:{' or set:'.join(sorted(sets))}", item, True)
                )
                continue
            out += sets[item[4:]]
        else:
            out.append(item)
    return out


def _names(
    value: object, accepted: tuple[str, ...], where: str, issues: list[ConfigIssue], *, required: bool = False
) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or (required and not items):
        issues.append(ConfigIssue(where, f"expected an array of {', '.join(accepted)}", value, True))
        return ()
    for item in items:
        if item not in accepted:
            issues.append(ConfigIssue(where, f"expected an array of {', '.join(accepted)}", item, True))
    return tuple(items)


def _pattern(table: dict[str, Any], where: str, issues: list[ConfigIssue], check: bool) -> str:
    pattern, words = table.get("pattern"), table.get("words")
    if (pattern is None) == (words is None):
        issues.append(ConfigIssue(where, "expected either pattern or words"))
        return ""
    if words is not None:
        boundary = table.get("boundary", "word")
        if boundary not in _BOUNDARIES:
            issues.append(ConfigIssue(f"{where}.boundary", 'expected "word", "segment" or "none"', boundary, True))
            return ""
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
            issues.append(ConfigIssue(f"{where}.words", "expected an array of non-empty strings", words, True))
            return ""
        before, after = _BOUNDARIES[boundary]
        return before + "(?:" + "|".join(re2.escape(w) for w in words) + ")" + after
    if not isinstance(pattern, str) or not pattern:
        issues.append(ConfigIssue(f"{where}.pattern", "expected a non-empty string", pattern, True))
        return ""
    if check:
        try:
            re2.compile(pattern)
        except re2.error as exc:
            issues.append(ConfigIssue(f"{where}.pattern", f"not a valid RE2 expression: {exc}", pattern, True))
            return ""
        problem = detection_pattern_problem(pattern)
        if problem is not None:  # RE2 syntax the native engine does not read (\C, octal escapes)
            issues.append(ConfigIssue(f"{where}.pattern", problem, pattern, True))
            return ""
    return pattern
