"""The BlockTable: global rules then the product's, first match wins, and BFE's counters to the letter."""

from __future__ import annotations

import json

from stockade.conditions import compile_condition
from stockade.core.facts import RequestFacts
from stockade.rules.block import COUNTER_NAMES, BlockCounters, BlockTable
from stockade.rules.decision import PASS, BlockDecision
from stockade.rules.ip_blocklist import parse_ip_blocklist
from stockade.rules.rule_file import BlockRule, RuleSet, parse_rule_file


def rules(config: dict[str, list[tuple[str, str, str]]]) -> RuleSet:
    data = {
        "Version": "1",
        "Config": {
            product: [{"Name": n, "Cond": c, "Action": {"Cmd": cmd, "Params": []}} for n, c, cmd in items]
            for product, items in config.items()
        },
    }
    return parse_rule_file(json.dumps(data))


def request(path: str = "/", host: str = "a.org") -> RequestFacts:
    return RequestFacts(host=host, path=path)


ADMIN = 'req_path_prefix_in("/admin", false)'
API = 'req_path_prefix_in("/api", false)'
ANY = "default_t()"


def counts(table: BlockTable) -> dict[str, int]:
    return {name: value for name, value in table.counters.snapshot().items() if value}


def test_the_counters_start_at_zero_in_bfes_names() -> None:
    assert BlockCounters().snapshot() == dict.fromkeys(COUNTER_NAMES, 0)
    assert list(COUNTER_NAMES) == [
        "CONN_TOTAL",
        "CONN_ACCEPT",
        "CONN_REFUSE",
        "REQ_TOTAL",
        "REQ_ACCEPT",
        "REQ_REFUSE",
        "WRONG_COMMAND",
        "REQ_TO_CHECK",
    ]


def test_connections_are_checked_against_the_blocklist() -> None:
    table = BlockTable(blocklist=parse_ip_blocklist("10.0.0.0/8\n"))
    assert table.check_connection("10.1.2.3") == "close"
    assert table.check_connection("::ffff:10.1.2.3") == "close"
    assert table.check_connection("192.0.2.1") == "accept"
    assert table.check_connection("not an address") == "accept"
    assert counts(table) == {"CONN_TOTAL": 4, "CONN_ACCEPT": 2, "CONN_REFUSE": 2}


def test_first_match_wins_in_file_order() -> None:
    table = BlockTable(rules({"pn": [("allow_api", API, "ALLOW"), ("close_all", ANY, "CLOSE")]}))
    assert table.check_request(request("/api/x"), "pn") == BlockDecision("allow", "allow_api")
    assert table.check_request(request("/x"), "pn") == BlockDecision("close", "close_all")
    assert counts(table) == {"REQ_TOTAL": 2, "REQ_ACCEPT": 1, "REQ_REFUSE": 1, "REQ_TO_CHECK": 2}


def test_a_global_allow_bypasses_the_product_rules() -> None:
    table = BlockTable(rules({"global": [("g_allow", API, "ALLOW")], "pn": [("close_api", API, "CLOSE")]}))
    assert table.check_request(request("/api"), "pn") == BlockDecision("allow", "g_allow")
    assert counts(table) == {"REQ_TOTAL": 1, "REQ_ACCEPT": 1, "REQ_TO_CHECK": 1}


def test_a_global_close_applies_to_products_without_rules() -> None:
    table = BlockTable(rules({"global": [("g_close", ADMIN, "CLOSE")]}))
    assert table.check_request(request("/admin"), "unlisted") == BlockDecision("close", "g_close")
    assert table.check_request(request("/x"), "unlisted") is PASS
    # No product entry and no global match: REQ_TOTAL only (and REQ_TO_CHECK, the global list ran).
    assert counts(table) == {"REQ_TOTAL": 2, "REQ_REFUSE": 1, "REQ_TO_CHECK": 2}


def test_a_product_without_rules_counts_only_req_total() -> None:
    table = BlockTable(rules({"pn": [("c", ADMIN, "CLOSE")]}))
    assert table.check_request(request("/admin"), "other") is PASS
    assert table.check_request(request("/admin"), "") is PASS
    assert counts(table) == {"REQ_TOTAL": 2}


def test_a_product_with_an_empty_list_counts_req_accept() -> None:
    table = BlockTable(rules({"pt": []}))
    assert table.check_request(request(), "pt") is PASS
    assert counts(table) == {"REQ_TOTAL": 1, "REQ_ACCEPT": 1, "REQ_TO_CHECK": 1}


def test_a_product_with_rules_that_do_not_match_counts_req_accept() -> None:
    table = BlockTable(rules({"global": [("g", ADMIN, "CLOSE")], "pn": [("c", API, "CLOSE")]}))
    assert table.check_request(request("/x"), "pn") is PASS
    assert counts(table) == {"REQ_TOTAL": 1, "REQ_ACCEPT": 1, "REQ_TO_CHECK": 1}


def test_the_product_named_global_runs_the_global_list_twice() -> None:
    table = BlockTable(rules({"global": [("g", ADMIN, "CLOSE")]}))
    assert table.check_request(request("/x"), "global") is PASS
    assert counts(table) == {"REQ_TOTAL": 1, "REQ_ACCEPT": 1, "REQ_TO_CHECK": 1}


def test_global_rules_apply_to_a_request_without_a_product() -> None:
    # A deliberate difference from BFE, which refuses such a request before mod_block runs.
    table = BlockTable(rules({"global": [("g_close", ADMIN, "CLOSE"), ("g_allow", API, "ALLOW")], "pn": []}))
    assert table.check_request(request("/admin"), None) == BlockDecision("close", "g_close")
    assert table.check_request(request("/api"), None) == BlockDecision("allow", "g_allow")
    # No product: counted as a product without a rule list (no REQ_ACCEPT on a miss).
    assert table.check_request(request("/x"), None) is PASS
    assert counts(table) == {"REQ_TOTAL": 3, "REQ_REFUSE": 1, "REQ_ACCEPT": 1, "REQ_TO_CHECK": 3}


def test_a_request_without_a_product_meets_no_products_rules() -> None:
    table = BlockTable(rules({"pn": [("c", ANY, "CLOSE")], "": [("empty", ANY, "CLOSE")]}))
    assert table.check_request(request(), None) is PASS
    assert counts(table) == {"REQ_TOTAL": 1}


def test_a_rule_with_an_unknown_command_counts_and_the_search_goes_on() -> None:
    odd = BlockRule("odd", compile_condition(ANY), "LOG")
    close = BlockRule("close_api", compile_condition(API), "CLOSE")
    table = BlockTable(RuleSet.build({"pn": [odd, close]}))
    assert table.check_request(request("/api"), "pn") == BlockDecision("close", "close_api")
    # Nothing decisive: block_info keeps the unknown-command rule's name, REQ_ACCEPT as for no match.
    assert table.check_request(request("/x"), "pn") == BlockDecision("pass", "odd")
    assert counts(table) == {"REQ_TOTAL": 2, "REQ_ACCEPT": 1, "REQ_REFUSE": 1, "WRONG_COMMAND": 2, "REQ_TO_CHECK": 2}


def test_an_unknown_command_in_the_global_list_then_no_product_entry() -> None:
    odd = BlockRule("odd", compile_condition(ANY), "LOG")
    odd2 = BlockRule("odd2", compile_condition(ANY), "LOG")
    table = BlockTable(RuleSet.build({"global": [odd, odd2]}))
    assert table.check_request(request(), "pn") == BlockDecision("pass", "odd2")
    assert counts(table) == {"REQ_TOTAL": 1, "WRONG_COMMAND": 2, "REQ_TO_CHECK": 1}


def test_decisions_are_shared_values() -> None:
    table = BlockTable(rules({"pn": [("c", ANY, "CLOSE")]}))
    first, second = table.check_request(request(), "pn"), table.check_request(request(), "pn")
    assert first is second
    assert first.closes
    assert not PASS.closes


def test_replacing_the_rules_keeps_the_counters() -> None:
    table = BlockTable(rules({"pn": [("c", ANY, "CLOSE")]}))
    table.check_request(request(), "pn")
    table.rules = rules({"pn": [("a", ANY, "ALLOW")]})
    assert table.check_request(request(), "pn") == BlockDecision("allow", "a")
    assert counts(table) == {"REQ_TOTAL": 2, "REQ_ACCEPT": 1, "REQ_REFUSE": 1, "REQ_TO_CHECK": 2}
    assert repr(table.counters).startswith("BlockCounters({'CONN_TOTAL': 0")
