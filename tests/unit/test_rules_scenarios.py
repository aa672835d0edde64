"""The scenario replay: reload steps (content, path override, expectations), host-table products, mismatches."""

from __future__ import annotations

from pathlib import Path

from stockade.rules.scenarios import run_scenario

CLOSE_ALL = {
    "Version": "1",
    "Config": {"pn": [{"Name": "all", "Cond": "default_t()", "Action": {"Cmd": "CLOSE", "Params": []}}]},
}
ALLOW_ALL = {
    "Version": "2",
    "Config": {"pn": [{"Name": "ok", "Cond": "default_t()", "Action": {"Cmd": "ALLOW", "Params": []}}]},
}


def test_reload_steps_swap_or_keep_and_counters_carry_on(tmp_path: Path) -> None:
    scenario = {
        "name": "reloads",
        "block_rules": CLOSE_ALL,
        "ip_blocklist": "192.0.2.1\n",
        "steps": [
            {
                "op": "request",
                "product": "pn",
                "request": {},
                "expect": "closed_at_request",
                "expect_block_rule": "all",
            },
            {"op": "reload_block_rules", "block_rules_text": "{", "expect": "error_old_table_kept"},
            {"op": "request", "product": "pn", "request": {}, "expect": "closed_at_request"},
            {"op": "reload_block_rules", "block_rules": ALLOW_ALL, "expect": "ok"},
            {"op": "request", "product": "pn", "request": {}, "expect": "allowed", "expect_block_rule": "ok"},
            {
                "op": "reload_ip_blocklist",
                "ip_blocklist": "198.51.100.0/24\n",
                "path": "other.data",
                "expect_error": False,
            },
            {"op": "connection", "client_ip": "198.51.100.9", "expect": "closed_at_connection"},
            {"op": "connection", "client_ip": "192.0.2.1", "expect": "accepted"},
            {"op": "reload_ip_blocklist", "expect": "reloaded"},
            {"op": "connection", "client_ip": "192.0.2.1", "expect": "closed_at_connection"},
            {
                "op": "reload_ip_blocklist",
                "path": "missing.data",
                "expect_error": "no such file",
                "expect_error_contains": "err in GlobalIPTableLoad(",
            },
        ],
        "expect_metrics": {"REQ_TOTAL": 3, "REQ_REFUSE": 2, "REQ_ACCEPT": 1, "CONN_TOTAL": 3, "CONN_REFUSE": 2},
    }
    result = run_scenario(scenario, tmp_path)
    assert result.passed, result.failures


def test_products_from_the_host_table_and_none_meets_no_products_rules(tmp_path: Path) -> None:
    scenario = {
        "name": "hosts",
        "block_rules": CLOSE_ALL,
        "ip_blocklist": "",
        "hosts": {"*.example.org": "pn"},
        "steps": [
            {"op": "request", "request": {"host": "a.example.org:8080"}, "expect": "closed_at_request"},
            {
                "op": "request",
                "request": {"host": "elsewhere.net"},
                "expect": "passed_through",
                "expect_metrics": {"REQ_TOTAL": 2, "REQ_REFUSE": 1, "REQ_ACCEPT": 0},
            },
        ],
    }
    assert run_scenario(scenario, tmp_path).passed


def test_mismatches_are_reported_by_step(tmp_path: Path) -> None:
    scenario = {
        "name": "wrong",
        "block_rules": CLOSE_ALL,
        "ip_blocklist": "",
        "steps": [
            {
                "op": "request",
                "product": "pn",
                "request": {},
                "expect": "allowed",
                "expect_block_rule": "x",
                "note": "n",
            },
            {"op": "reload_block_rules", "block_rules": ALLOW_ALL, "expect": "error"},
            {"op": "dance"},
        ],
        "expect_metrics": {"REQ_TOTAL": 5},
    }
    result = run_scenario(scenario, tmp_path)
    assert result.failures == [
        "step 0 (request: n): expect: expected 'allowed', got 'closed_at_request'",
        "step 0 (request: n): expect_block_rule: expected 'x', got 'all'",
        "step 1 (reload_block_rules): reload: expected an error, got ok",
        "step 2 (dance): unknown op 'dance'",
        "end: REQ_TOTAL: expected 5, got 1",
    ]


def test_a_scenario_whose_files_do_not_load(tmp_path: Path) -> None:
    result = run_scenario({"name": "bad", "block_rules_text": "{", "ip_blocklist": ""}, tmp_path)
    assert result.failures[0].startswith("initial load failed: ")
