"""RuleList: the first rule in order that matches wins, whatever the index skips."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.conditions import Condition, RuleList, compile_condition, registry
from stockade.conditions.registry import Matcher, PrimitiveSpec
from stockade.core.facts import RequestFacts
from stockade.engine._sync.ladder import Incoming


@cache
def compiled(text: str) -> Condition:
    return compile_condition(text)


def rules(*pairs: tuple[str, str]) -> RuleList:
    return RuleList([(name, compiled(text)) for name, text in pairs])


def facts(**request: object) -> RequestFacts:
    return RequestFacts.from_vector(request)


def linear(pairs: list[tuple[str, Condition]], request: RequestFacts) -> int | None:
    """The reference: try every rule in order."""
    for index, (_, condition) in enumerate(pairs):
        if condition(request):
            return index
    return None


def test_the_first_matching_rule_in_order_wins() -> None:
    table = rules(
        ("admin", 'req_host_in("a.com") && req_path_prefix_in("/admin", false)'),
        ("posts", 'req_method_in("POST")'),
        ("a-host", 'req_host_in("a.com")'),
        ("git", 'req_path_prefix_in("/.git", false)'),
    )
    assert table.first_match(facts(host="a.com", path="/admin/x", method="POST")) == "admin"
    assert table.first_match(facts(host="A.COM:443", path="/x", method="POST")) == "posts"
    assert table.first_match(facts(host="a.com", path="/.git/config")) == "a-host"
    assert table.first_match(facts(host="b.com", path="/.git/config")) == "git"
    assert table.first_match(facts(host="b.com", path="/")) is None
    assert table.first_index(facts(host="b.com", path="/.git/config")) == 3
    assert len(table) == 4
    assert table.names == ("admin", "posts", "a-host", "git")


def test_rules_an_index_excludes_are_not_even_candidates() -> None:
    table = rules(
        ("host", 'req_host_in("a.com")'),
        ("prefix", 'req_path_prefix_in("/api|/static", false)'),
        ("method", 'req_method_in("DELETE")'),
        ("always", 'req_header_key_in("X-Scanner")'),
    )
    assert table.candidates(facts(host="b.com", path="/index")) == ["always"]
    assert table.candidates(facts(host="b.com", path="/index", method="delete")) == ["method", "always"]
    assert table.candidates(facts(host="a.com", path="/api/v1")) == ["host", "prefix", "always"]


def test_literal_signatures_are_tried_only_when_one_of_their_words_is_there() -> None:
    table = rules(
        ("sqlmap", 'req_ua_regmatch("(?i)sqlmap|havij")'),
        ("nikto", '(req_ua_regmatch("(?i)nikto") && req_method_in("GET|POST")) || req_ua_regmatch("(?i)nmap")'),
        ("regexp", 'req_ua_regmatch("^curl/[0-9]")'),
        ("zgrab", 'req_ua_regmatch("(?i)zgrab")'),
        ("masscan", 'req_ua_regmatch("(?i)masscan")'),
    )
    assert table.candidates(facts(headers={"User-Agent": "Mozilla/5.0"})) == ["regexp"]
    assert table.candidates(facts(headers={"User-Agent": "sqlmap/1.7"})) == [
        "sqlmap", "nikto", "regexp", "zgrab", "masscan"
    ]  # fmt: skip
    assert table.first_match(facts(headers={"User-Agent": "Nikto/2.5"})) == "nikto"
    assert table.first_match(facts(headers={"User-Agent": "MASSCAN/1.3"})) == "masscan"
    assert table.first_match(facts(headers={"User-Agent": "NMAP scripting"})) == "nikto"
    # RE2 folds the Kelvin sign into k: text that is not ASCII is always tried.
    assert table.first_match(facts(headers={"User-Agent": "NI\u212aTO"})) == "nikto"
    assert table.first_match(facts(headers={"User-Agent": "curl/8"})) == "regexp"
    assert table.first_match(facts()) is None


def test_a_few_signatures_are_tried_with_the_rules_tried_anyway() -> None:
    table = rules(("sqlmap", 'req_ua_regmatch("sqlmap")'), ("regexp", 'req_ua_regmatch("^curl/[0-9]")'))
    assert table.candidates(facts(headers={"User-Agent": "Mozilla/5.0"})) == ["sqlmap", "regexp"]
    alone = rules(("sqlmap", 'req_ua_regmatch("sqlmap")'))
    assert alone.candidates(facts(headers={"User-Agent": "Mozilla/5.0"})) == []


def test_repeated_names_and_empty_lists() -> None:
    assert RuleList([]).first_match(facts()) is None
    table = rules(("same", 'req_method_in("PUT")'), ("same", 'req_method_in("GET")'))
    assert table.first_match(facts(method="GET")) == "same"
    assert table.first_index(facts(method="GET")) == 1


def test_a_rule_that_raises_is_false_and_the_others_still_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(facts: RequestFacts) -> bool:
        raise RuntimeError("boom")

    spec = PrimitiveSpec("boom_t", (), "Always raises.", lambda: Matcher(test=explode))
    monkeypatch.setitem(registry.REGISTRY, "boom_t", spec)
    boom = compile_condition("boom_t()")
    table = RuleList([("boom", boom), ("get", compile_condition('req_method_in("GET")'))])
    assert table.first_match(facts(method="GET")) == "get"
    assert table.first_match(facts(method="PUT")) is None
    assert boom.errors == 2  # the group fell back to the rules' own conditions, which counted it


# -- the index never changes the answer --------------------------------------------------

HOSTS = ["a.com", "A.com", "b.org", "www.a.com", ""]
PREFIXES = ["/", "/a", "/ab", "/a/b", "/B", "", "/a|/b"]
UA_PATTERNS = ["sqlmap", "(?i)nikto|masscan", "curl/", "bot", "(?i)K", "^wget", "a.b"]
AGENTS = ["", "sqlmap/1.5", "Mozilla NIKTO", "curl/8.0", "robot", "\u212a", "Wget", "wget", "aXb", "none"]
TERMS = st.one_of(
    st.builds(lambda hosts: f'req_host_in("{"|".join(hosts)}")', st.lists(st.sampled_from(HOSTS[:-1]), min_size=1)),
    st.builds(
        lambda prefix, ci: f'req_path_prefix_in("{prefix}", {str(ci).lower()})',
        st.sampled_from(PREFIXES),
        st.booleans(),
    ),
    st.builds(lambda prefix: f'req_path_element_prefix_in("{prefix}", false)', st.sampled_from(["/a", "/ab", "/"])),
    st.builds(lambda methods: f'req_method_in("{methods}")', st.sampled_from(["GET", "POST|put", "DELETE"])),
    st.builds(lambda suffix: f'req_host_suffix_in("{suffix}")', st.sampled_from([".com", "a.com", ".org"])),
    st.builds(lambda pattern: f'req_ua_regmatch("{pattern}")', st.sampled_from(UA_PATTERNS)),
    st.builds(lambda pattern: f'req_path_regmatch("{pattern}")', st.sampled_from(["/ab|/x", "(?i)/b", "c$"])),
    st.just("default_t()"),
)
CONDITIONS = st.recursive(
    TERMS,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} && {b}", inner, inner),
        st.builds(lambda a, b: f"({a} || {b})", inner, inner),
        st.builds(lambda a, b: f"{a} || {b}", inner, inner),  # binds tighter than a surrounding &&
        st.builds(lambda a: f"!({a})", inner),
    ),
    max_leaves=4,
)
REQUESTS = st.fixed_dictionaries(
    {
        "host": st.sampled_from([*HOSTS, "a.com:8080", "WWW.A.COM", "c.net"]),
        "path": st.sampled_from(["/", "/a", "/ab", "/abc", "/a/b/c", "/B", "/b", "/A", "/x"]),
        "method": st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
        "headers": st.one_of(st.just({}), st.builds(lambda ua: {"User-Agent": ua}, st.sampled_from(AGENTS))),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CONDITIONS, min_size=1, max_size=12), st.lists(REQUESTS, min_size=1, max_size=6))
def test_first_match_equals_a_linear_scan(texts: list[str], requests: list[dict[str, object]]) -> None:
    pairs = [(f"rule-{i}", compiled(text)) for i, text in enumerate(texts)]
    table = RuleList(pairs)
    for request in requests:
        expected = linear(pairs, RequestFacts.from_vector(request))
        request_facts = RequestFacts.from_vector(request)
        assert table.first_index(request_facts) == expected, (texts, request)
        assert table.first_match(request_facts) == (None if expected is None else f"rule-{expected}")
        if expected is not None:
            assert f"rule-{expected}" in table.candidates(request_facts)


def lazy_request(request: dict[str, object]) -> tuple[Incoming, list[int]]:
    """The request as an adapter hands it over: raw header bytes, facts built on demand (counted)."""
    raw = [(b"host", str(request["host"]).encode("utf-8"))]
    raw += [(name.lower().encode(), value.encode("utf-8")) for name, value in dict(request["headers"]).items()]  # type: ignore[call-overload]
    text = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
    built: list[int] = []

    def make_facts() -> RequestFacts:
        built.append(1)
        return RequestFacts.from_vector({**request, "host": text.pop("host"), "headers": text})

    method = str(request["method"])
    host = str(request["host"])
    return Incoming(make_facts=make_facts, path=str(request["path"]), method=method, host=host, headers=raw), built


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CONDITIONS, min_size=1, max_size=12), st.lists(REQUESTS, min_size=1, max_size=6))
def test_a_request_with_lazy_facts_gets_the_same_answer(texts: list[str], requests: list[dict[str, object]]) -> None:
    pairs = [(f"rule-{i}", compiled(text)) for i, text in enumerate(texts)]
    table = RuleList(pairs)
    for request in requests:
        incoming, built = lazy_request(request)
        expected = linear(pairs, lazy_request(request)[0].facts)
        assert table.first_index_of(incoming) == expected, (texts, request)
        if table.excludes(incoming):
            assert expected is None
            assert not built  # ruled out from the raw parts alone


def test_an_index_on_raw_parts_needs_no_facts() -> None:
    table = rules(
        ("admin", 'req_path_prefix_in("/admin", false) && req_method_in("POST")'),
        ("tool", 'req_ua_regmatch("(?i)sqlmap|nikto")'),
        ("a-host", 'req_host_in("a.com")'),
    )
    clean, built = lazy_request({"host": "b.com:8080", "path": "/", "method": "GET", "headers": {"User-Agent": "x"}})
    assert table.excludes(clean)
    assert table.first_index_of(clean) is None
    assert not built
    tool, built = lazy_request({"host": "b.com", "path": "/", "method": "GET", "headers": {"User-Agent": "Nikto/2"}})
    assert table.first_index_of(tool) == 1
    assert built
    host, _ = lazy_request({"host": "A.COM:443", "path": "/", "method": "GET", "headers": {}})
    assert table.first_index_of(host) == 2
    # A rule the index tries for every request needs the facts every time.
    always = rules(("scanner", 'req_header_key_in("X-Scanner")'))
    request, built = lazy_request({"host": "b.com", "path": "/", "method": "GET", "headers": {}})
    assert not always.excludes(request)
    assert always.first_index_of(request) is None
    assert built


def test_many_prefix_lengths_take_the_startswith_gate() -> None:
    prefixes = ["/a", "/ab", "/abc", "/abcd", "/abcde", "/abcdef", "/abcdefg", "/x/y/z/w"]
    pairs = [(f"p{i}", compiled(f'req_path_prefix_in("{p}", false)')) for i, p in enumerate(prefixes)]
    table = RuleList(pairs)
    for path in ["/", "/a", "/abcdefgh", "/abz", "/x/y/z/w/v", "/x/y", "/b"]:
        request, _ = lazy_request({"host": "h", "path": path, "method": "GET", "headers": {}})
        expected = linear(pairs, RequestFacts.from_vector({"path": path}))
        assert table.first_index(RequestFacts.from_vector({"path": path})) == expected, path
        assert table.first_index_of(request) == expected, path
        assert table.excludes(request) == (expected is None), path
