"""Every case of BFE's condition vectors, run through the public API.

The vectors were run against the real BFE Go sources. Every case must pass, except quirk
cases (``"quirk": true``) that docs/conditions.md lists under "Deviations from BFE": the list
is read from the doc, so the doc and the code cannot disagree. A listed case that starts to
pass fails here too, so the list never goes stale.

The vector file is found by ``tests/vectors.py`` (``$STOCKADE_BFE_VECTORS`` overrides it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stockade._native import Condition as NativeCondition
from stockade._native import NativeRequest
from stockade.conditions import ConditionError, compile_condition
from stockade.conditions.lowering import lowered
from stockade.conditions.vectors import Case, load_cases, run_case
from stockade.core.facts import RequestFacts
from tests.vectors import condition_vectors

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "conditions.md"
VECTORS = condition_vectors()
NOW = 1_800_000_000.0  # time primitives without X-Bfe-Debug-Time see this instant

# A list item of the deviations section: "- ``cond`` reason", the code span in any number of backticks.
DEVIATION = re.compile(r"^- (?P<ticks>`+)(?P<cond>.+?)(?P=ticks)(?!`)\s*(?P<reason>.*)$")


def parse_deviation(line: str) -> tuple[str, str] | None:
    """``(condition, reason)`` from a list item ``- `cond` — reason``, or None for other lines."""
    item = DEVIATION.match(line)
    if item is None:
        return None
    cond = item["cond"]
    if cond.startswith(" ") and cond.endswith(" ") and cond.strip():  # CommonMark strips one space each side
        cond = cond[1:-1]
    return cond, item["reason"].lstrip(":—- ").strip()


def deviations() -> dict[str, str]:
    """Condition text -> reason, from the list between the DEVIATIONS markers of the doc."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("<!-- BEGIN DEVIATIONS -->") : text.index("<!-- END DEVIATIONS -->")]
    return dict(item for item in map(parse_deviation, section.splitlines()) if item is not None)


def cases() -> list[Case]:
    return load_cases(json.loads(VECTORS.read_text(encoding="utf-8")))


def case_id(case: Case) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.|/-]+", "_", case.cond).strip("_")[:60] or "empty"
    return f"{case.index:03d}-{slug}"


ALL_CASES = cases()
DEVIATIONS = deviations()


def test_the_vector_file_is_the_full_suite() -> None:
    assert len(ALL_CASES) >= 121
    assert any(case.quirk for case in ALL_CASES)


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
def test_case(case: Case) -> None:
    result = run_case(case, now=NOW)
    if case.quirk and case.cond in DEVIATIONS:
        assert not result.passed, "this quirk now passes: remove it from 'Deviations from BFE' in docs/conditions.md"
        return
    assert result.passed, result.describe()


@pytest.mark.parametrize("case", [case for case in ALL_CASES if case.expect is not None], ids=case_id)
def test_case_natively(case: Case) -> None:
    """The native evaluator gives the Python compiler's answer: the expected one, or the listed deviation."""
    try:
        condition = compile_condition(case.cond)
    except ConditionError:
        assert case.cond in DEVIATIONS, f"{case.cond!r} does not compile"
        return
    program = NativeCondition(lowered(condition))
    expected = condition(RequestFacts.from_vector(case.request, now=NOW))
    assert program.matches(NativeRequest.from_facts(RequestFacts.from_vector(case.request, now=NOW))) == expected
    assert program.matches(RequestFacts.from_vector(case.request, now=NOW)) == expected
    if not (case.quirk and case.cond in DEVIATIONS):
        assert expected == case.expect


def test_every_listed_deviation_is_a_quirk_case_with_a_reason() -> None:
    quirks = {case.cond for case in ALL_CASES if case.quirk}
    for cond, reason in DEVIATIONS.items():
        assert cond in quirks, f"{cond!r} is listed as a deviation but is no quirk case of the vectors"
        assert reason, f"the deviation {cond!r} needs a reason"


def test_the_deviation_parser_reads_code_spans() -> None:
    assert parse_deviation('- `req_port_in("8080")` — BFE cuts the port at the first colon') == (
        'req_port_in("8080")',
        "BFE cuts the port at the first colon",
    )
    assert parse_deviation("- `` req_path_in(`/a`, false) `` — raw strings need double backticks") == (
        "req_path_in(`/a`, false)",
        "raw strings need double backticks",
    )
    assert parse_deviation("Some prose.") is None
