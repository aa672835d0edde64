"""Every scenario and invalid file of BFE's mod_block cases, replayed through the public API.

The cases were checked against the real BFE sources. The file is ``tests/compliance/data/
bfe_mod_block.json`` (a copy of the spec's); ``$STOCKADE_BFE_MOD_BLOCK_CASES`` points at
another, such as a newer spec with more scenarios. A scenario marked ``"quirk": true`` must
pass too, unless it is listed in ``DEVIATIONS`` with the reason, and then it must fail.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from stockade.rules.scenarios import check_invalid_blocklist, check_invalid_rules, run_scenario

DATA = Path(__file__).resolve().parent / "data" / "bfe_mod_block.json"
CASES_FILE = Path(os.environ.get("STOCKADE_BFE_MOD_BLOCK_CASES", DATA))
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))
NOW = 1_800_000_000.0

# Quirk scenarios stockade does not reproduce, by name, with the reason (see stockade.rules' docstring).
DEVIATIONS: dict[str, str] = {}

# BFE's own text for the visible invalid rule files (the cases' "reason" paraphrases some).
RULE_ERRORS = {
    "testdata_block_rules_2": "invalid JSON: Expecting property name enclosed in double quotes (line 9, column 13)",
    "not_json": "invalid JSON: Expecting value (line 1, column 1)",
    "no_version": "no Version",
    "no_config": "no Config",
    "config_array": "json: cannot unmarshal array into Config of type ProductRulesFile",
    "rule_not_object": "json: cannot unmarshal string into Config['pn'][0] of type blockRuleFile",
    "cond_null": "Config:ProductRules:pn, blockRule:0, no Cond",
    "missing_name": "Config:ProductRules:pn, blockRule:0, no Name",
    "missing_cmd": "Config:ProductRules:pn, blockRule:0, Action:no Cmd",
    "lowercase_cmd": "Config:ProductRules:pn, blockRule:0, Action:invalid cmd:close",
    "params_null": "Config:ProductRules:pn, blockRule:0, Action:no Params",
    "duplicate_name_in_global": "Config:ProductRules:global, blockRule:1, two rules have same name[g]!",
    "cond_empty": "1:1 syntax error",
    "cond_wrong_arg_type": "1:1 primitive req_path_in arg 1 expect BOOL, got STRING",
    "cond_bad_ip_range": "startIP[10.0.0.9] must <= endIP[10.0.0.1]",
}
BLOCKLIST_ERRORS = {
    "garbage": "load dict: loadFile(): ip_blocklist.data checkLine(): line[invalid ip blocklist content] "
    "err[checkLine(): err, checkSplit(): line invalid ip blocklist content format err]",
    "start_gt_end": "load dict: loadFile(): err, InsertPair failed: startIPStr 1.1.1.5 > endIPStr 1.1.1.1",
    "three_fields": "load dict: loadFile(): ip_blocklist.data checkLine(): line[1.1.1.1 1.1.1.2 1.1.1.3] "
    "err[checkLine(): err, checkSplit(): line 1.1.1.1 1.1.1.2 1.1.1.3 format err]",
    "bad_cidr": "load dict: loadFile(): ip_blocklist.data checkLine(): line[10.0.0.0/33] "
    "err[checkLine(): err, checkSplit(): line 10.0.0.0/33 format err]",
    "meta_pair_count_too_small": "load dict: Max line exceed",
}
# A reason written in BFE's words (not a paraphrase) must appear in the error as it is.
BFE_WORDED = re.compile(r"^(\.\.\.)?(no Version|no Config|Config:|blockRule:|Action:|two rules|Max line exceed)")


def _name(case: dict[str, object]) -> str:
    return str(case.get("name", "?"))


def test_the_case_file_is_the_full_suite() -> None:
    assert len(CASES["scenarios"]) >= 5
    assert len(CASES["invalid_block_rules"]) >= 15
    assert len(CASES["invalid_ip_blocklists"]) >= 5


@pytest.mark.parametrize("scenario", CASES["scenarios"], ids=_name)
def test_scenario(scenario: dict[str, object], tmp_path: Path) -> None:
    result = run_scenario(scenario, tmp_path, now=NOW)
    if scenario.get("quirk") and result.name in DEVIATIONS:
        assert not result.passed, f"this quirk now passes: remove {result.name!r} from DEVIATIONS"
        return
    assert result.passed, "\n".join(result.failures)


@pytest.mark.parametrize("case", CASES["invalid_block_rules"], ids=_name)
def test_invalid_rule_file(case: dict[str, object]) -> None:
    error = check_invalid_rules(case)
    assert error is not None, f"{case['name']} loaded, but BFE rejects it: {case['reason']}"
    name = _name(case)
    if name in RULE_ERRORS:
        assert error.bfe_message == RULE_ERRORS[name]
    reason = str(case.get("reason", ""))
    if BFE_WORDED.match(reason):
        assert reason.removeprefix("...").split(" (")[0] in error.bfe_message


@pytest.mark.parametrize("case", CASES["invalid_ip_blocklists"], ids=_name)
def test_invalid_blocklist(case: dict[str, object]) -> None:
    error = check_invalid_blocklist(case)
    assert error is not None, f"{case['name']} loaded, but BFE rejects it: {case['reason']}"
    name = _name(case)
    if name in BLOCKLIST_ERRORS:
        assert error.bfe_message == BLOCKLIST_ERRORS[name]
    reason = str(case.get("reason", ""))
    if BFE_WORDED.match(reason):
        assert reason.partition(":")[0] in error.bfe_message


@pytest.mark.parametrize("case", CASES["invalid_block_rules"], ids=_name)
def test_an_invalid_rule_file_on_reload_keeps_the_old_rules(case: dict[str, object], tmp_path: Path) -> None:
    good = {
        "Version": "1",
        "Config": {"pn": [{"Name": "r", "Cond": "default_t()", "Action": {"Cmd": "CLOSE", "Params": []}}]},
    }
    scenario = {
        "name": "reload",
        "block_rules": good,
        "ip_blocklist": "",
        "steps": [
            {"op": "request", "product": "pn", "request": {}, "expect": "closed_at_request", "expect_block_rule": "r"},
            {
                "op": "reload_block_rules",
                **{k: case[k] for k in ("block_rules", "block_rules_text") if k in case},
                "expect": "error",
                "expect_error_contains": "err in ProductRuleConfLoad(",
            },
            {
                "op": "request",
                "product": "pn",
                "request": {},
                "expect": "closed_at_request",
                "expect_block_rule": "r",
                "expect_metrics": {"REQ_TOTAL": 2, "REQ_REFUSE": 2},
            },
        ],
    }
    result = run_scenario(scenario, tmp_path, now=NOW)
    assert result.passed, "\n".join(result.failures)


@pytest.mark.parametrize("case", CASES["invalid_ip_blocklists"], ids=_name)
def test_an_invalid_blocklist_on_reload_keeps_the_old_one(case: dict[str, object], tmp_path: Path) -> None:
    scenario = {
        "name": "reload",
        "block_rules": {"Version": "1", "Config": {}},
        "ip_blocklist": "192.0.2.1\n",
        "steps": [
            {"op": "connection", "client_ip": "192.0.2.1", "expect": "closed_at_connection"},
            {
                "op": "reload_ip_blocklist",
                "ip_blocklist": case["ip_blocklist"],
                "expect": "error",
                "expect_error_contains": "err in GlobalIPTableLoad(",
            },
            {
                "op": "connection",
                "client_ip": "192.0.2.1",
                "expect": "closed_at_connection",
                "expect_metrics": {"CONN_TOTAL": 2, "CONN_REFUSE": 2, "CONN_ACCEPT": 0},
            },
        ],
    }
    result = run_scenario(scenario, tmp_path, now=NOW)
    assert result.passed, "\n".join(result.failures)
