"""mod_block's native tables against the Python implementation they replaced (the oracle).

The decision, the rule left as block info and every counter must be the same after any
sequence of requests, products and reloads; the host table must name the same product;
and a request that builds its facts on demand must not build them when the index rules
every rule out from its path, host, method and headers.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade._native import BlockRules
from stockade.conditions import Condition, compile_condition
from stockade.core.facts import RequestFacts
from stockade.engine._sync.ladder import Incoming
from stockade.errors import ConfigError
from stockade.rules import BlockRule, BlockTable, HostTable, RuleSet
from stockade.rules.decision import PASS, BlockDecision
from stockade.rules.oracle import PythonBlockTable
from tests.unit.test_native_conditions import NOW, RULE_CONDITIONS, compiled, requests

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PRODUCTS = ["global", "p1", "p2", "empty"]
COMMANDS = st.sampled_from(["CLOSE", "ALLOW", "LOG"])


@cache
def condition(text: str) -> Condition:
    return compile_condition(text)


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    products: dict[str, list[BlockRule]] = {}
    for product in draw(st.lists(st.sampled_from(PRODUCTS), unique=True, max_size=4)):
        rules = []
        for index, text in enumerate(draw(st.lists(RULE_CONDITIONS, max_size=6))):
            built = compiled(text)
            if built is not None and product != "empty":
                rules.append(BlockRule(f"{product}-{index}", built, draw(COMMANDS)))
        products[product] = rules
    return RuleSet.build(products, version="v")


REQUEST_PRODUCTS = st.sampled_from([None, "p1", "p2", "global", "empty", "nope", ""])


@SETTINGS
@given(
    st.lists(rule_sets(), min_size=1, max_size=3),
    st.lists(st.tuples(requests(), REQUEST_PRODUCTS, st.booleans()), min_size=1, max_size=8),
)
def test_decisions_and_counters_are_the_oracle_s(
    sets: list[RuleSet], steps: list[tuple[dict[str, object], str | None, bool]]
) -> None:
    table, oracle = BlockTable(sets[0]), PythonBlockTable(sets[0])
    reloads = iter(sets[1:])
    for request, product, reload in steps:
        if reload:
            new = next(reloads, None)
            if new is not None:
                table.rules = oracle.rules = new
        expected = oracle.check_request(RequestFacts.from_vector(request, now=NOW), product)
        got = table.check_request(RequestFacts.from_vector(request, now=NOW), product)
        assert got == expected, (request, product)
        assert table.counters.snapshot() == oracle.counters.snapshot()


def test_a_decision_is_the_rule_s_own_object_and_pass_is_pass() -> None:
    rules = RuleSet.build(
        {
            "global": [BlockRule("log", condition('req_path_prefix_in("/x", false)'), "LOG")],
            "p": [
                BlockRule("admin", condition('req_path_prefix_in("/admin", false)'), "CLOSE"),
                BlockRule("health", condition('req_path_in("/health", false)'), "ALLOW"),
            ],
        }
    )
    table = BlockTable(rules)
    assert table.check_request(RequestFacts(path="/admin/x"), "p") == BlockDecision("close", "admin")
    assert table.check_request(RequestFacts(path="/health"), "p") == BlockDecision("allow", "health")
    assert table.check_request(RequestFacts(path="/"), "p") is PASS
    assert table.check_request(RequestFacts(path="/x"), "p") == BlockDecision("pass", "log")
    assert table.counters.snapshot() == {
        "CONN_TOTAL": 0,
        "CONN_ACCEPT": 0,
        "CONN_REFUSE": 0,
        "REQ_TOTAL": 4,
        "REQ_ACCEPT": 3,
        "REQ_REFUSE": 1,
        "WRONG_COMMAND": 1,
        "REQ_TO_CHECK": 4,
    }


def test_counters_carry_over_to_the_next_table() -> None:
    first = BlockTable(RuleSet.build({"global": [BlockRule("all", condition("default_t()"), "CLOSE")]}))
    first.check_request(RequestFacts(), None)
    first.check_connection("192.0.2.1")
    second = BlockTable(RuleSet.empty(), counters=first.counters)
    second.check_request(RequestFacts(), None)
    assert second.counters.snapshot()["REQ_TOTAL"] == 2
    assert second.counters.conn_total == 1
    assert second.counters.req_refuse == 1


def lazy(request: dict[str, object], built: list[int]) -> Incoming:
    """The request as an adapter hands it over: raw parts now, facts on demand (counted)."""
    headers = {str(name).lower(): value for name, value in dict(request.get("headers", {})).items()}  # type: ignore[call-overload]

    def make_facts() -> RequestFacts:
        built.append(1)
        return RequestFacts.from_vector(request, now=NOW)

    def header(name: str) -> str:
        value = headers.get(name, "")
        return str(value[0] if isinstance(value, list) else value)

    return Incoming(
        make_facts=make_facts,
        path=str(request.get("path", "/")),
        method=str(request.get("method", "GET")),
        host=str(request.get("host", "")),
        query=str(request.get("query", "")),
        header_lookup=header,
    )


@SETTINGS
@given(rule_sets(), st.lists(st.tuples(requests(), REQUEST_PRODUCTS), min_size=1, max_size=5))
def test_a_lazy_request_gets_the_same_decision(
    rules: RuleSet, steps: list[tuple[dict[str, object], str | None]]
) -> None:
    table, oracle = BlockTable(rules), PythonBlockTable(rules)
    for request, product in steps:
        built: list[int] = []
        expected = oracle.check_request(lazy(request, []), product)
        assert table.check_request(lazy(request, built), product) == expected, (request, product)
        assert table.counters.snapshot() == oracle.counters.snapshot()


def test_the_index_spares_a_clean_request_its_facts() -> None:
    rules = RuleSet.build(
        {
            "global": [
                BlockRule("admin", condition('req_host_in("a.com") && req_path_prefix_in("/admin", false)'), "CLOSE"),
                BlockRule(
                    "git",
                    condition('req_path_prefix_in("/.git", false) && req_cip_range("1.0.0.0", "1.0.0.9")'),
                    "CLOSE",
                ),
                BlockRule("trace", condition('req_method_in("TRACE") && req_cookie_key_in("a")'), "CLOSE"),
                BlockRule("tools", condition('req_ua_regmatch("(?i)sqlmap|nikto")'), "CLOSE"),
            ]
        }
    )
    table = BlockTable(rules)
    built: list[int] = []
    clean = {"host": "b.com", "path": "/", "method": "GET", "headers": {"User-Agent": "Mozilla/5.0"}}
    assert table.check_request(lazy(clean, built), None) is PASS
    assert not built
    tool = {**clean, "headers": {"User-Agent": "Nikto/2"}}
    assert table.check_request(lazy(tool, built), None) == BlockDecision("close", "tools")
    git = {**clean, "path": "/.git/config", "client_ip": "1.0.0.5"}
    assert table.check_request(lazy(git, built), None) == BlockDecision("close", "git")
    assert built == [1]  # only the client address needed the facts


def test_a_request_whose_facts_fail_raises() -> None:
    def broken() -> RequestFacts:
        raise RuntimeError("no facts")

    table = BlockTable(
        RuleSet.build({"global": [BlockRule("ip", condition('req_cip_range("1.0.0.0", "1.0.0.9")'), "CLOSE")]})
    )
    request = Incoming(make_facts=broken, path="/")
    with pytest.raises(RuntimeError, match=r"^no facts$"):
        table.check_request(request, None)


def test_the_native_rules_of_a_rule_set_are_built_with_it() -> None:
    rules = RuleSet.build({"p": [BlockRule("a", condition('req_host_in("a.com")'), "CLOSE")], "q": []})
    assert isinstance(rules.native, BlockRules)
    assert len(rules.native) == 1
    p_stats = rules.native.index_stats("p")
    assert p_stats is not None
    assert p_stats["host"] == 1
    assert sum(p_stats.values()) == 1
    q_stats = rules.native.index_stats("q")
    assert q_stats is not None
    assert sum(q_stats.values()) == 0
    assert rules.native.index_stats("r") is None


# -- the host table -------------------------------------------------------------------------

PATTERNS = st.sampled_from(
    ["a.com", "A.COM.", "*.a.com", "*.b.a.com", "x.example.org", "*.example.org", "straße.de", "*.\u212a.com", "[::1]"]
)
# fmt: off
REQUEST_HOSTS = st.one_of(
    st.sampled_from(
        ["a.com", "A.Com:8080", "b.a.com", "c.b.a.com", "a.com.", "x.EXAMPLE.org", "y.example.org", "STRASSE.DE",
         "straße.de", "k.com", "x.k.com", "[::1]:80", "::1", "", ":80", "a.com:80:90"]
    ),
    st.text(alphabet="aAbBkK.:[]\u212aß-", max_size=12),
)
# fmt: on


@SETTINGS
@given(
    st.dictionaries(PATTERNS, st.sampled_from(["p1", "p2", "p3"]), max_size=5),
    st.sampled_from([None, "web"]),
    st.lists(REQUEST_HOSTS, min_size=1, max_size=8),
)
def test_the_host_table_names_the_oracle_s_product(
    hosts: dict[str, str], default: str | None, names: list[str]
) -> None:
    try:
        table = HostTable(hosts, default)
    except ConfigError:  # conflicting entries, tested elsewhere
        return
    for name in names:
        assert table.product(name) == table.python_product(name), (hosts, name)
