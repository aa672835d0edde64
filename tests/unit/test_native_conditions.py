"""The native evaluation of conditions against the Python compiler, its oracle.

Every primitive, with arguments and requests drawn by hypothesis, must give the same answer
natively (on a request copied into native memory, and on the Python facts read part by
part) as the Python compiled condition; so must trees of them, rule lists with their
indexes, Go's case folding over every code point, and regular expressions built from
pieces of Go's syntax. The BFE condition vectors run natively in
``tests/compliance/test_bfe_conditions.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from stockade._native import Condition as NativeCondition
from stockade._native import NativeRequest, RuleIndex, _go_fold, regex_problem
from stockade.conditions import Condition, ConditionError, RuleList, compile_condition, registry
from stockade.conditions.lowering import lower, lowered
from stockade.core.facts import RequestFacts, go_lower, go_upper
from stockade.errors import InvalidArgument

NOW = 1_800_000_000.5
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def compiled(text: str) -> Condition | None:
    try:
        return compile_condition(text)
    except ConditionError:
        return None


@cache
def native(text: str) -> NativeCondition:
    condition = compiled(text)
    assert condition is not None
    return NativeCondition(lowered(condition))


def answers(text: str, request: dict[str, object], now: float = NOW) -> tuple[bool, bool, bool] | None:
    """Python's answer, the native answer on a native copy, and on the Python facts; None if it does not build."""
    condition = compiled(text)
    if condition is None:
        return None
    facts = RequestFacts.from_vector(request, now=now)
    expected = condition(facts)
    assert condition.errors == 0
    program = native(text)
    copy = NativeRequest.from_facts(RequestFacts.from_vector(request, now=now))
    return expected, program.matches(copy), program.matches(RequestFacts.from_vector(request, now=now))


def assert_same(text: str, request: dict[str, object], now: float = NOW) -> None:
    got = answers(text, request, now)
    if got is not None:
        python, native_copy, native_facts = got
        assert native_copy == python, (text, request)
        assert native_facts == python, (text, request)


# -- what requests and arguments are drawn from --------------------------------------------

# Characters where Go, Python and Rust could disagree: case folding with no simple mapping
# (sharp s), folding into ASCII (long s, the Kelvin sign, dotless i, dotted I), Unicode white
# space, escapes.
TRICKY = (
    "aAkKsSzZ09 -_./:;=&%+?#@é\u212a\u017f\u00df\u0130\u0131\u03a3\u03c3\u03c2\u00a0\u3000\u0085\"'\\|,*[](){}^$~!\t\n"
)
TEXT = st.text(alphabet=TRICKY, max_size=12)


def pool(*values: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), TEXT)


METHODS = pool("GET", "get", "POST", "Delete", "PUT", "TRACE", "ǅ")
HOSTS = pool("a.com", "A.COM:8080", "www.a.com", "[::1]:80", ":8080", "x.Example.org.", "straße.de", "\u212a.com", "")
PATHS = pool("/", "/a", "/ab", "/a/b", "/API/v1", "/api", "/x.php", "/é/ß", "/\u212a", "/%2e%2e/", "")
QUERIES = pool(
    "", "a=1&b=2", "a=%zz&b=x+y", "a;b=1&c=2", "k=%C3%A9", "=&&x", "a", "k=%FF&k=2", "id=1+union+select", "?"
)
HEADER_NAMES = st.sampled_from(["User-Agent", "X-Attack", "Accept", "X-Empty", "Referer", "x-bfe-debug-time", "Cookie"])
DEBUG_TIMES = pool(
    "20240101000000Z",
    "20240101120000H",
    " 20240101000000 z x",
    "20240230000000Z",
    "2024010112000Z",
    "+999010100000Z",
    "20271231235959Y",
    "",
    "bad",
)
HEADER_VALUES = pool("Mozilla/5.0", "sqlmap/1.5", "NIKTO", "curl/8", "", "text/html", "a=1; b=2", "é")
COOKIE_LINES = pool("a=1; b=2", 'session="x"; lang=en', "bad name=1; c=x y; a=3", "d=4\u00a0", "=x", "a")
IPS = st.sampled_from(
    ["1.2.3.4", "10.0.0.5", "10.255.255.255", "2001:db8::1", "::ffff:10.0.0.1", "bad", "", "192.0.2.1"]
)
BODIES = pool(
    '{"a": {"b": [1, 2.50, {"c": "x"}]}, "n": null, "t": true, "model": "gpt-4"}',
    '{"a": 1e400, "b": -0.0, "c": "\\ud83dx", "d": [], "e": {"k" : [ 1 ]}}',
    '{"a": 1,}',
    '[1, "two", {"a": "x"}]',
    '{"dot.key": 7, "a": "evil/x"}',
    "not json",
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, object]:
    request: dict[str, object] = {
        "method": draw(METHODS),
        "host": draw(HOSTS),
        "path": draw(PATHS),
        "query": draw(QUERIES),
        "proto": draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"])),
    }
    headers: dict[str, object] = {}
    for name in draw(st.lists(HEADER_NAMES, max_size=4, unique=True)):
        if name == "x-bfe-debug-time":
            headers[name] = draw(DEBUG_TIMES)
        elif name == "Cookie":
            headers[name] = draw(st.lists(COOKIE_LINES, min_size=1, max_size=2))
        else:
            headers[name] = draw(st.one_of(HEADER_VALUES, st.lists(HEADER_VALUES, min_size=1, max_size=2)))
    request["headers"] = headers
    for key in ("client_ip", "remote_ip", "vip"):
        if draw(st.booleans()):
            request[key] = draw(IPS)
    request["secure"] = draw(st.booleans())
    request["session_proto"] = draw(st.sampled_from([None, "https", "h2", "HTTPS"]))
    request["tls"] = {
        "sni": draw(st.sampled_from([None, "", "a.com", "A.COM", "\u212a.com"])),
        "client_auth": draw(st.booleans()),
        "client_ca": draw(st.sampled_from([None, "", "Root CA", "root ca"])),
    }
    request["trusted"] = draw(st.booleans())
    request["host_tag"] = draw(st.sampled_from([None, "", "tag", "TAG"]))
    request["tags"] = draw(st.sampled_from([{}, {"clientIP": ["blocklist:1", "x"]}, {"clientIP": ["blocklist"]}]))
    request["context"] = draw(st.sampled_from([{}, {"k": "v"}, {"k": 1}, {"k": "V", "": "v"}]))
    if draw(st.booleans()):
        request["body"] = draw(BODIES)
    if draw(st.booleans()):
        request["response"] = {
            "code": draw(st.sampled_from([0, 200, 403, 500])),
            "headers": draw(st.sampled_from([{}, {"X-Cache": "HIT"}, {"X-Cache": ""}])),
        }
    return request


def patterns(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(values, min_size=1, max_size=3).map("|".join)


BOOL = st.sampled_from(["true", "false"])
IP_RANGES = st.sampled_from(
    [
        ("1.2.3.0", "1.2.3.255"),
        ("10.0.0.0", "10.255.255.255"),
        ("::", "::ffff:ffff:ffff"),
        ("2001:db8::", "2001:db8::ffff"),
        ("0.0.0.0", "255.255.255.255"),
    ]
)
HASHES = st.sampled_from(["0", "0-4999", "5000-9999", "5535|4624|9575", "100-199|0", " 1 - 9999 "])
TIME_RANGES = st.sampled_from(
    [
        ("20240101000000Z", "20240101000000Z"),
        ("20231231000000Z", "20240102000000Z"),
        ("20000101000000Z", "20991231235959Z"),
        ("20240101080000H", "20240101090000H"),
    ]
)
DAY_RANGES = st.sampled_from(
    [("000000Z", "235959Z"), ("080000H", "090000H"), ("235959Z", "235959Z"), ("000000A", "120000A")]
)
REGEXES = st.sampled_from(
    [
        "(?i)sqlmap|nikto",
        "^/a",
        "b$",
        "^$",
        r"\d+",
        r"\w\b",
        "(?i)k",
        "[a-z]{2,}",
        r"\.php$",
        "é|ß",
        r"^[^/]*$",
        r"\p{Greek}",
        "(?i)\u017f",
        "a{,3}",
        r"\Qa.b\E",
        "[[:upper:]]",
        ".",
        "(?s).",
        "%2e",
    ]
)
JSON_PATHS = st.sampled_from(["a", "a.b", "a.b.1", "a.b.#", "n", "t", "model", "c", r"dot\.key", "0", "2.a", "a.*", ""])
HEADER_KEYS = st.sampled_from(["User-Agent", "user-agent", "X-Attack", "x-empty", "Cookie", "X-Bfe-Debug-Time"])
QUERY_KEYS = st.sampled_from(["a", "b", "k", "id", "c", "x", ""])
COOKIE_NAMES = st.sampled_from(["a", "b", "session", "lang", "c", "d"])
IP_LISTS = st.lists(st.sampled_from(["1.2.3.4", "10.0.0.5", "2001:db8::1", "::ffff:1.2.3.4", "192.0.2.1"]), min_size=1)


def raw(text: str) -> str:
    """A raw string literal of the condition language (no backquotes, no CR in the text)."""
    return "`" + text.replace("`", "").replace("\r", "") + "`"


# Each primitive: how to draw its arguments (each already written as a literal).
Args = st.SearchStrategy[list[str]]


def strings(*parts: st.SearchStrategy[str]) -> Args:
    return st.tuples(*parts).map(lambda values: [raw(value) for value in values])


def mixed(*parts: st.SearchStrategy[str]) -> Args:
    """Literals already written (raw strings and booleans)."""
    return st.tuples(*parts).map(list)


def lit(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return values.map(raw)


PRIMITIVES: dict[str, Args] = {
    "default_t": st.just([]),
    "req_cip_trusted": st.just([]),
    "req_cip_range": IP_RANGES.map(lambda pair: [raw(pair[0]), raw(pair[1])]),
    "req_cip_hash_in": strings(HASHES),
    "req_vip_in": IP_LISTS.map(lambda ips: [raw("|".join(ips))]),
    "req_vip_range": IP_RANGES.map(lambda pair: [raw(pair[0]), raw(pair[1])]),
    "req_proto_match": strings(pool("HTTP/1.1", "http/1.0", "https", "H2", "https|h2")),
    "req_proto_secure": st.just([]),
    "req_host_in": strings(patterns(pool("a.com", "A.COM", "www.a.com", "[", "x.example.org.", "STRASSE.DE", "k.com"))),
    "req_host_regmatch": strings(REGEXES),
    "req_host_suffix_in": strings(patterns(pool(".com", "A.COM", ".org.", "", "ẞE"))),
    "req_host_tag_in": strings(patterns(pool("tag", "", "Tag"))),
    "req_path_in": mixed(lit(patterns(PATHS)), BOOL),
    "req_path_prefix_in": mixed(lit(patterns(PATHS)), BOOL),
    "req_path_suffix_in": mixed(lit(patterns(pool(".php", "/b", "", "ß"))), BOOL),
    "req_path_contain": mixed(lit(patterns(pool("a", "/../", "%2e", "", "\u212a"))), BOOL),
    "req_path_regmatch": strings(REGEXES),
    "req_path_element_prefix_in": mixed(lit(patterns(pool("/a", "/a/", "/API", "/", ""))), BOOL),
    "req_url_regmatch": strings(REGEXES),
    "req_query_key_in": strings(patterns(QUERY_KEYS)),
    "req_query_key_prefix_in": strings(patterns(QUERY_KEYS)),
    "req_query_exist": st.just([]),
    "req_query_value_in": mixed(lit(QUERY_KEYS), lit(patterns(pool("1", "x y", "é", ""))), BOOL),
    "req_query_value_prefix_in": mixed(lit(QUERY_KEYS), lit(patterns(pool("1", "X", ""))), BOOL),
    "req_query_value_suffix_in": mixed(lit(QUERY_KEYS), lit(patterns(pool("1", "y", ""))), BOOL),
    "req_query_value_contain": mixed(lit(QUERY_KEYS), lit(patterns(pool("union", "UNION", ""))), BOOL),
    "req_query_value_regmatch": mixed(lit(QUERY_KEYS), lit(REGEXES)),
    "req_query_value_hash_in": mixed(lit(QUERY_KEYS), lit(HASHES), BOOL),
    "req_cookie_key_in": strings(patterns(COOKIE_NAMES)),
    "req_cookie_value_in": mixed(lit(COOKIE_NAMES), lit(patterns(pool("1", "x", "EN", ""))), BOOL),
    "req_cookie_value_prefix_in": mixed(lit(COOKIE_NAMES), lit(patterns(pool("1", "X", ""))), BOOL),
    "req_cookie_value_suffix_in": mixed(lit(COOKIE_NAMES), lit(patterns(pool("1", "n", ""))), BOOL),
    "req_cookie_value_contain": mixed(lit(COOKIE_NAMES), lit(patterns(pool("x", "E", ""))), BOOL),
    "req_cookie_value_hash_in": mixed(lit(COOKIE_NAMES), lit(HASHES), BOOL),
    "req_port_in": strings(patterns(pool("80", "8080", "", "443"))),
    "req_tag_match": strings(st.sampled_from(["clientIP", "x"]), st.sampled_from(["blocklist", "x", ""])),
    "req_ua_regmatch": strings(REGEXES),
    "req_header_key_in": strings(patterns(HEADER_KEYS)),
    "req_header_value_in": mixed(lit(HEADER_KEYS), lit(patterns(HEADER_VALUES)), BOOL),
    "req_header_value_prefix_in": mixed(lit(HEADER_KEYS), lit(patterns(HEADER_VALUES)), BOOL),
    "req_header_value_suffix_in": mixed(lit(HEADER_KEYS), lit(patterns(HEADER_VALUES)), BOOL),
    "req_header_value_contain": mixed(lit(HEADER_KEYS), lit(patterns(HEADER_VALUES)), BOOL),
    "req_header_value_regmatch": mixed(lit(HEADER_KEYS), lit(REGEXES)),
    "req_header_value_hash_in": mixed(lit(HEADER_KEYS), lit(HASHES), BOOL),
    "req_method_in": strings(patterns(METHODS)),
    "req_context_value_in": mixed(lit(st.sampled_from(["k", ""])), lit(patterns(pool("v", "V", ""))), BOOL),
    "req_body_json_in": mixed(
        lit(JSON_PATHS), lit(patterns(pool("1", "2.5", "x", "", "gpt-4", "true", "+Inf", "-0"))), BOOL
    ),
    "req_body_json_prefix_in": mixed(lit(JSON_PATHS), lit(patterns(pool("evil/", "[", "{", "", "X"))), BOOL),
    "res_code_in": strings(patterns(pool("200", "0", "403"))),
    "res_header_key_in": strings(patterns(pool("X-Cache", "x-cache", "Other"))),
    "res_header_value_in": mixed(lit(pool("X-Cache", "Other")), lit(patterns(pool("HIT", "hit", ""))), BOOL),
    "ses_vip_range": IP_RANGES.map(lambda pair: [raw(pair[0]), raw(pair[1])]),
    "ses_sip_range": IP_RANGES.map(lambda pair: [raw(pair[0]), raw(pair[1])]),
    "ses_tls_sni_in": strings(patterns(pool("a.com", "A.COM", "k.com", ""))),
    "ses_tls_client_auth": st.just([]),
    "ses_tls_client_ca_in": strings(patterns(pool("Root CA", "root ca", ""))),
    "bfe_time_range": TIME_RANGES.map(lambda pair: [raw(pair[0]), raw(pair[1])]),
    "bfe_periodic_time_range": DAY_RANGES.map(lambda pair: [raw(pair[0]), raw(pair[1]), raw("")]),
}


@st.composite
def calls(draw: st.DrawFn, name: str | None = None) -> str:
    chosen = name if name is not None else draw(st.sampled_from(sorted(PRIMITIVES)))
    return f"{chosen}({', '.join(draw(PRIMITIVES[chosen]))})"


NOWS = st.sampled_from([NOW, 1_704_067_200.0, 1_704_096_000.25, float("nan"), 0.0, -1.5])


def test_every_primitive_is_drawn() -> None:
    assert sorted(PRIMITIVES) == registry.names()


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_primitive_matches_python(name: str, data: st.DataObject) -> None:
    text = data.draw(calls(name))
    request = data.draw(requests())
    now = data.draw(NOWS)
    assert_same(text, request, now)


CONDITIONS = st.recursive(
    calls(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} && {b}", inner, inner),
        st.builds(lambda a, b: f"({a} || {b})", inner, inner),
        st.builds(lambda a, b: f"{a} || {b}", inner, inner),
        st.builds(lambda a: f"!{a}", inner),
        st.builds(lambda a: f"!({a})", inner),
    ),
    max_leaves=6,
)


@SETTINGS
@given(CONDITIONS, requests(), NOWS)
def test_trees_of_primitives_match_python(text: str, request: dict[str, object], now: float) -> None:
    assert_same(text, request, now)


def test_deep_trees_neither_recurse_nor_differ() -> None:
    depth = 5000
    text = "(" * depth + 'req_method_in("GET")' + ")" * depth
    negated = "!" * (depth + 1) + 'req_method_in("GET")'
    chain = " && ".join(['req_method_in("GET")'] * depth) + ' || req_path_in("/", false)'
    for condition, expected in ((text, True), (negated, False), (chain, True)):
        assert answers(condition, {"method": "GET"}) == (expected, expected, expected)


def test_the_precedence_is_bfe_s() -> None:
    # || binds tighter than &&: a && b || c is a && (b || c).
    assert answers("default_t() || !default_t() && !default_t()", {}) == (False, False, False)
    assert answers('req_method_in("POST") && req_method_in("GET") || default_t()', {}) == (False, False, False)


# -- lowering -------------------------------------------------------------------------------


def test_lowering_flattens_chains_and_cancels_pairs_of_nots() -> None:
    condition = compile_condition("default_t() && req_proto_secure() && !!req_cip_trusted() || !req_query_exist()")
    assert lowered(condition) == [
        ("and", 3),
        ("true",),
        ("secure",),
        ("or", 2),
        ("trusted",),
        ("not",),
        ("query_exist",),
    ]


def test_a_primitive_without_a_native_form_cannot_be_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registry.PrimitiveSpec("plain_t", (), "No native form.", lambda: registry.Matcher(test=lambda facts: True))
    monkeypatch.setitem(registry.REGISTRY, "plain_t", spec)
    condition = compile_condition("plain_t() && default_t()")
    assert lower(condition.tree, condition.matchers) is None
    with pytest.raises(ValueError, match="without a native form"):
        lowered(condition)


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([], "ends before its last operand"),
        ([("and", 2), ("true",)], "ends before its last operand"),
        ([("true",), ("true",)], "after the end of the condition"),
        ([("or", 0)], "without operands"),
        ([("match", ("host",), ("regex", "a{5000}"))], "invalid repeat count"),
        ([("ip_range", "client", b"\0" * 16, b"\0" * 10 + b"\xff\xff" + b"\0" * 4)], "different families"),
        ([("time_range", 5, 4)], "ends before it starts"),
        ([("match", ("host",), ("hash", False, [(5, 10_000)]))], "past 9999"),
    ],
)
def test_a_malformed_lowered_condition_is_refused(items: list[tuple[object, ...]], problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        NativeCondition(items)


@pytest.mark.parametrize(
    "item",
    [
        ("bogus",),
        ("match", ("host",)),
        ("match", ("nowhere",), ("in", True, [])),
        ("ip_in", "vip", [b"1234"]),
        "and",
        ("and", "2"),
    ],
)
def test_a_malformed_item_names_itself(item: object) -> None:
    with pytest.raises(InvalidArgument, match="lowered condition item 0"):
        NativeCondition([item])


# -- regular expressions --------------------------------------------------------------------

# fmt: off
PIECES = st.sampled_from(
    [
        "a", "K", "é", "\u212a", "\u017f", ".", r"\.", r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\b", r"\B",
        "[a-c]", "[^a]", "[[:alpha:]]", r"[\d_]", "[]a]", "[a&&b]", "[[a]", "[-a]", r"[\x41-\x43]", "^", "$",
        r"\pL", r"\p{Greek}", r"\PL", r"\p{^Greek}", "(?i)", "(?s)", "(?m)", "(?U)", "(?i:", "(", "(?:", ")",
        "|", "*", "+", "?", "{2}", "{1,3}", "{,2}", "{01}", "{", "}", r"\Q.*\E", r"\x41", r"\x{212A}", r"\101",
        r"\<", r"\>", r"\ ", r"\A", r"\z", "\n", " ", "[ \t]", r"\n", "#", "~", "&", "-",
    ]
)
# fmt: on
REGEX_TEXTS = st.text(alphabet="aAbBcCkK_ \t\n.é\u212a\u017f\u03a3\u03c3<>{}#&-~01*[]", max_size=10)


@SETTINGS
@given(st.lists(PIECES, min_size=1, max_size=6).map("".join), st.lists(REGEX_TEXTS, min_size=1, max_size=5))
@example(r"(?i)\w", ["\u212a", "\u017f", "é"])
@example(r"\bx\b", ["éxé", " x "])
@example(r"[a&&b]", ["&", "a"])
def test_regular_expressions_mean_what_re2_means(pattern: str, texts: list[str]) -> None:
    text = f"req_path_regmatch({raw(pattern)})"
    condition = compiled(text)
    if condition is None:
        # Python (RE2) refused it, or the native engine did and Python then refused it too.
        return
    assert regex_problem(pattern) is None
    for value in texts:
        assert_same(text, {"path": value})


def test_a_pattern_the_native_engine_cannot_run_is_refused_when_the_condition_is_built() -> None:
    # RE2 takes this nesting; the native engine caps nesting to keep its parser's stack bounded.
    pattern = "(" * 300 + "a" + ")" * 300
    assert regex_problem(pattern) is not None
    with pytest.raises(ConditionError, match="compile regexp err"):
        compile_condition(f"req_path_regmatch(`{pattern}`)")


# -- case folding ---------------------------------------------------------------------------


@pytest.mark.parametrize(("native_upper", "python_fold"), [(True, go_upper), (False, go_lower)])
def test_case_folding_is_the_python_side_s_for_every_code_point(
    native_upper: bool, python_fold: Callable[[str], str]
) -> None:
    text = "".join(chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code < 0xE000)
    assert _go_fold(text, upper=native_upper) == python_fold(text).encode("utf-8")
    undecodable = "a\udce2\udc82b"  # the bytes e2 82, kept as surrogate escapes
    assert _go_fold(undecodable, upper=native_upper) == python_fold(undecodable).encode("utf-8")


# -- rule lists and their index -------------------------------------------------------------

RULE_TERMS = st.one_of(
    st.builds(
        lambda hosts: f"req_host_in({raw('|'.join(hosts))})",
        st.lists(st.sampled_from(["a.com", "A.com", "b.org", "www.a.com", "\u212a.com"]), min_size=1),
    ),
    st.builds(
        lambda p, ci: f"req_path_prefix_in({raw(p)}, {ci})",
        st.sampled_from(["/", "/a", "/ab", "/a/b", "/B", "", "/a|/b"]),
        BOOL,
    ),
    st.builds(lambda p: f"req_path_element_prefix_in({raw(p)}, false)", st.sampled_from(["/a", "/ab", "/", "/a/"])),
    st.builds(lambda m: f"req_method_in({raw(m)})", st.sampled_from(["GET", "POST|put", "DELETE", "ǅ"])),
    st.builds(
        lambda p: f"req_ua_regmatch({raw(p)})",
        st.sampled_from(["sqlmap", "(?i)nikto|masscan", "curl/", "(?i)K", "^wget", "a.b"]),
    ),
    st.builds(lambda p: f"req_path_regmatch({raw(p)})", st.sampled_from(["/ab|/x", "(?i)/b", "c$"])),
    st.builds(lambda p: f"req_cookie_value_in(`a`, {raw(p)}, false)", st.sampled_from(["1", "3"])),
    st.builds(lambda p: f"req_query_value_regmatch(`k`, {raw(p)})", st.sampled_from(["(?i)union|select", "%"])),
    # The index's kinds past host, prefix, method and words: addresses, query keys, cookies,
    # headers (present, not empty), TLS.
    st.sampled_from(
        [
            'req_cip_range("10.0.0.0", "10.0.0.9")',
            'ses_sip_range("::", "ffff::")',
            'req_vip_in("192.0.2.1|1.2.3.4")',
            'req_query_key_in("k|a")',
            'req_query_value_in("a", "1|", false)',
            'req_cookie_key_in("a|session")',
            'req_header_key_in("X-Attack|Referer")',
            'req_header_value_contain("Referer", "casino|é", true)',
            'req_header_value_in("X-Empty", "", false)',
            "req_proto_secure()",
            'ses_tls_sni_in("a.com")',
            'req_query_value_in("a", "1", false)',
        ]
    ),
    calls(),
)
RULE_CONDITIONS = st.recursive(
    RULE_TERMS,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} && {b}", inner, inner),
        st.builds(lambda a, b: f"({a} || {b})", inner, inner),
        st.builds(lambda a: f"!({a})", inner),
    ),
    max_leaves=4,
)


def linear(conditions: list[Condition], facts: RequestFacts, start: int = 0) -> int | None:
    for index, condition in enumerate(conditions):
        if index >= start and condition(facts):
            return index
    return None


@SETTINGS
@given(
    st.lists(RULE_CONDITIONS, min_size=1, max_size=14), st.lists(requests(), min_size=1, max_size=4), st.integers(0, 3)
)
def test_rule_lists_find_the_first_match_as_python_does(
    texts: list[str], batch: list[dict[str, object]], start: int
) -> None:
    conditions = [condition for text in texts if (condition := compiled(text)) is not None]
    assume(conditions)
    index = RuleIndex([lowered(condition) for condition in conditions])
    oracle = RuleList((f"r{i}", condition) for i, condition in enumerate(conditions))
    for request in batch:
        facts = RequestFacts.from_vector(request, now=NOW)
        expected = linear(conditions, facts)
        assert oracle.first_index(facts) == expected
        copy = NativeRequest.from_facts(facts)
        assert index.first_index(copy) == expected, (texts, request)
        assert index.first_index(RequestFacts.from_vector(request, now=NOW)) == expected
        assert index.first_index_linear(copy) == expected
        assert index.first_index(copy, start=start) == linear(conditions, facts, start)


def test_the_index_files_rules_by_what_they_require() -> None:
    texts = {
        'req_host_in("a.com") && req_path_prefix_in("/admin", false)': "host",
        'req_host_in("a.com") || req_host_in("b.com")': "host",
        'req_path_prefix_in("/.git|/.env", false)': "path_prefix",
        'req_method_in("TRACE")': "method",
        'req_ua_regmatch("(?i)sqlmap|nikto")': "words",
        'req_ua_regmatch("(?i)masscan")': "words",
        'req_header_value_contain("Referer", "casino", true)': "header",  # a words group of one
        'req_cip_range("10.0.0.0", "10.0.0.9")': "address",
        'req_vip_in("192.0.2.1") || ses_sip_range("::", "::1")': "address",
        'req_query_key_in("cmd") && !req_cip_range("10.0.0.0", "10.255.255.255")': "query_key",
        'req_query_value_in("bot", "1", true)': "query_key",
        'req_cookie_value_prefix_in("lang", "", false)': "cookie",
        'req_header_key_in("X-Attack|X-Scanner")': "header",
        'req_header_value_in("X-Admin", "1", false)': "header",
        'req_proto_secure() && req_tag_match("a", "b")': "secure",
        'req_ua_regmatch("^curl/[0-9]")': "header",  # an absent header reads as "", which it refuses
        'req_ua_regmatch("^curl|^$")': "always",
        'req_header_value_in("X-Admin", "1|", false)': "always",
        '!req_host_in("a.com")': "always",
    }
    index = RuleIndex([lowered(compile_condition(text)) for text in texts])
    expected = dict.fromkeys(["host", "path_prefix", "method", "words", "address", "query_key", "cookie"], 0)
    expected |= dict.fromkeys(["header", "secure", "always"], 0)
    for kind in texts.values():
        expected[kind] += 1
    assert index.stats() == expected
    assert len(index) == len(texts)
