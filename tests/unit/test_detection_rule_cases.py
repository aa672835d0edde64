"""Each rule of the third round of issue 15 on a request it must catch and on an ordinary
request that comes close to it (tests/data/detection/rule_cases.jsonl, self-written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from stockade.core.facts import RequestFacts
from stockade.detection import MAX_LEVEL, Engine, Settings, builtin_pack
from stockade.replay import canonical_vector
from stockade.request.paths import DEFAULT_POLICY

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "detection" / "rule_cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line]
ENGINE = Engine()
OPEN = Engine()
OPEN.gated = False
# A rule above level 1 is checked at its own level (a case names it: "level": 2).
LEVELS = {level: Engine(Settings(level=level)) for level in range(2, MAX_LEVEL + 1)}


def engine_for(case: dict[str, Any]) -> Engine:
    return LEVELS[case["level"]] if case.get("level", 1) > 1 else ENGINE


def facts_of(case: dict[str, Any]) -> RequestFacts:
    uri = case["uri"]
    path, _, query = uri.partition("?")
    vector: dict[str, Any] = {
        "method": case.get("method", "GET"),
        "path": unquote(path) or "/",
        "query": query,
        "uri": uri,
        "headers": case.get("headers") or {},
    }
    if "body" in case:
        vector["body"] = case["body"]
    canonical_vector(vector, DEFAULT_POLICY)
    return RequestFacts.from_vector(vector)


def _id(case: dict[str, Any]) -> str:
    return f"{case['rule']}-{case['expect']}-{case['uri'][:40]}"


def test_every_case_names_a_rule_of_the_pack_and_each_rule_has_both_kinds() -> None:
    ids = {rule.id for rule in builtin_pack()}
    kinds: dict[str, set[str]] = {}
    for case in CASES:
        assert case["rule"] in ids, case["rule"]
        kinds.setdefault(case["rule"], set()).add(case["expect"])
    assert all(found == {"hit", "miss"} for found in kinds.values()), kinds


@pytest.mark.parametrize("case", [c for c in CASES if c["expect"] == "hit"], ids=_id)
def test_the_rule_catches_its_attack(case: dict[str, Any]) -> None:
    verdict = engine_for(case).inspect_facts(facts_of(case))
    assert case["rule"] in {hit.rule.id for hit in verdict.hits}
    assert verdict.malicious


@pytest.mark.parametrize("case", [c for c in CASES if c["expect"] == "miss"], ids=_id)
def test_the_ordinary_request_next_to_it_is_left_alone(case: dict[str, Any]) -> None:
    verdict = engine_for(case).inspect_facts(facts_of(case))
    assert case["rule"] not in {hit.rule.id for hit in verdict.hits}
    assert not verdict.malicious, [hit.rule.id for hit in verdict.hits]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_the_gate_hides_none_of_them(case: dict[str, Any]) -> None:
    facts = facts_of(case)
    assert {h.rule.id for h in ENGINE.inspect_facts(facts).hits} == {h.rule.id for h in OPEN.inspect_facts(facts).hits}
