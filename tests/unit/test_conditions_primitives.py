"""The 58 primitives: registry, matching, missing data, build errors, and inline templates equal to ``test``.

Calls are written as condition text and read by a small parser of one call with literal
arguments (string values are the raw text between the quotes, as BFE's lexer keeps them),
so these tests depend only on the registry, not on the condition parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.conditions import registry
from stockade.conditions.errors import BuildFailure
from stockade.conditions.hashing import bucket, go_ip_string, parse_buckets
from stockade.conditions.matchers import Regexp, prefix_bounds
from stockade.conditions.registry import Matcher
from stockade.core.facts import RequestFacts, ip16
from tests.vectors import condition_vectors

VECTORS = condition_vectors()
_CALL = re.compile(r"\s*([A-Za-z_][\w-]*)\s*\((.*)\)\s*", re.DOTALL)
_ARG = re.compile(r'\s*(?:"((?:[^"\\\n]|\\.)*)"|`([^`]*)`|(true|false))\s*(,|$)', re.DOTALL)

Args = tuple[str | bool, ...]


def parse_call(text: str) -> tuple[str, Args] | None:
    """``name("a", `b`, true)`` as (name, args); ``None`` for anything else."""
    call = _CALL.fullmatch(text)
    if call is None:
        return None
    name, inner = call.groups()
    args: list[str | bool] = []
    pos = 0
    while inner[pos:].strip():
        arg = _ARG.match(inner, pos)
        if arg is None or (arg.group(4) == "," and not inner[arg.end() :].strip()):
            return None
        quoted, raw, boolean = arg.group(1), arg.group(2), arg.group(3)
        args.append(quoted if quoted is not None else raw.replace("\r", "") if raw is not None else boolean == "true")
        pos = arg.end()
    return name, tuple(args)


def build(text: str) -> Matcher:
    parsed = parse_call(text)
    assert parsed is not None, text
    name, args = parsed
    spec = registry.get(name)
    assert spec is not None, name
    return spec.build(*args)


def facts(request: Mapping[str, object] | None = None, now: float = 0.0) -> RequestFacts:
    return RequestFacts.from_vector(request or {}, now=now)


def run_expr(matcher: Matcher, request: RequestFacts) -> object:
    """Evaluate an inline template as the compiler does: ``{r}`` the facts, ``{cN}`` the constants."""
    assert matcher.expr is not None
    names = {f"c{i}": const for i, const in enumerate(matcher.consts)}
    source = re.sub(r"\{(r|c\d+)\}", lambda found: found.group(1), matcher.expr)
    return eval(source, {"__builtins__": {"len": len}}, {"r": request, **names})


# -- the registry --------------------------------------------------------------------------

BFE_PRIMITIVES = """default_t req_cip_trusted req_cip_range req_cip_hash_in req_vip_in req_vip_range req_proto_match
req_proto_secure req_host_in req_host_regmatch req_host_suffix_in req_host_tag_in req_path_in req_path_prefix_in
req_path_suffix_in req_path_contain req_path_regmatch req_path_element_prefix_in req_url_regmatch req_query_key_in
req_query_key_prefix_in req_query_exist req_query_value_in req_query_value_prefix_in req_query_value_suffix_in
req_query_value_contain req_query_value_regmatch req_query_value_hash_in req_cookie_key_in req_cookie_value_in
req_cookie_value_prefix_in req_cookie_value_suffix_in req_cookie_value_contain req_cookie_value_hash_in req_port_in
req_tag_match req_ua_regmatch req_header_key_in req_header_value_in req_header_value_prefix_in
req_header_value_suffix_in req_header_value_contain req_header_value_regmatch req_header_value_hash_in req_method_in
req_context_value_in req_body_json_in req_body_json_prefix_in res_code_in res_header_key_in res_header_value_in
ses_vip_range ses_sip_range ses_tls_sni_in ses_tls_client_auth ses_tls_client_ca_in bfe_time_range
bfe_periodic_time_range""".split()  # noqa: SIM905 - BFE's table, as text


def test_the_registry_holds_exactly_bfes_58_primitives() -> None:
    assert len(BFE_PRIMITIVES) == 58
    assert registry.names() == sorted(BFE_PRIMITIVES)
    for name in ("req_cookie_value_regmatch", "req_cip_in", "REQ_HOST_IN"):
        assert registry.get(name) is None


@pytest.mark.parametrize("name", BFE_PRIMITIVES)
def test_every_primitive_has_a_signature_and_a_one_line_doc(name: str) -> None:
    spec = registry.get(name)
    assert spec is not None
    assert spec.name == name
    assert set(spec.params) <= {"STRING", "BOOL"}
    assert spec.doc.strip()
    assert "\n" not in spec.doc
    assert spec.doc.endswith(".")


def test_signatures_follow_bfe() -> None:
    params = {name: registry.REGISTRY[name].params for name in BFE_PRIMITIVES}
    assert params["req_path_in"] == ("STRING", "BOOL")
    assert params["req_query_value_regmatch"] == ("STRING", "STRING")
    assert params["req_header_value_hash_in"] == ("STRING", "STRING", "BOOL")
    assert params["bfe_periodic_time_range"] == ("STRING", "STRING", "STRING")
    assert params["ses_tls_client_auth"] == ()


def test_a_primitive_cannot_be_declared_twice() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        registry.primitive("default_t", (), "Again.")(lambda: Matcher(test=lambda facts: True))


# -- the BFE vectors -----------------------------------------------------------------------


def _vectors(kind: str) -> list[dict[str, object]]:
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))
    picked = []
    for case in cases:
        is_error = bool(case.get("expect_error"))
        parsed = parse_call(case["cond"])
        if parsed is None or registry.get(parsed[0]) is None:
            continue
        if len(registry.REGISTRY[parsed[0]].params) != len(parsed[1]):
            continue
        if (kind == "match" and not is_error) or (kind == "build" and case.get("error_kind") == "build"):
            picked.append(case)
    return picked


@pytest.mark.parametrize("case", _vectors("match"), ids=lambda case: str(case["cond"]))
def test_bfe_vectors_of_one_primitive(case: dict[str, object]) -> None:
    request = case.get("request", {})
    assert isinstance(request, dict)
    matcher = build(str(case["cond"]))
    assert matcher.test(facts(request)) is case["expect"]
    if matcher.expr is not None:
        assert run_expr(matcher, facts(request)) is case["expect"]


@pytest.mark.parametrize("case", _vectors("build"), ids=lambda case: str(case["cond"]))
def test_bfe_build_error_vectors(case: dict[str, object]) -> None:
    with pytest.raises(BuildFailure):
        build(str(case["cond"]))


def test_enough_vectors_are_single_primitives() -> None:
    assert len(_vectors("match")) >= 80
    assert len(_vectors("build")) >= 8


# -- every primitive: match, non-match, missing data -----------------------------------------

UA: dict[str, object] = {"headers": {"User-Agent": "curl/8.1"}}
SECURE: dict[str, object] = {"secure": True, "session_proto": "h2"}
TLS: dict[str, object] = {"secure": True, "tls": {"sni": "A.example", "client_auth": True, "client_ca": "Corp CA"}}
RESPONSE: dict[str, object] = {"response": {"code": 404, "headers": {"X-Cache": "HIT", "X-Empty": ""}}}
BODY: dict[str, object] = {"body": '{"model": "gpt-4o", "n": 2, "msgs": [{"role": "user"}]}'}
DEBUG_TIME: dict[str, object] = {"headers": {"X-Bfe-Debug-Time": "20240101120000Z"}}

CASES: list[tuple[str, Mapping[str, object], bool]] = [
    ("default_t()", {}, True),
    ("req_cip_trusted()", {"trusted": True}, True),
    ("req_cip_trusted()", {}, False),
    ("req_cip_range(`10.0.0.1`, `10.0.0.10`)", {"client_ip": "10.0.0.1"}, True),
    ("req_cip_range(`10.0.0.1`, `10.0.0.10`)", {"client_ip": "10.0.0.11"}, False),
    ("req_cip_range(`10.0.0.1`, `10.0.0.10`)", {}, False),
    ("req_cip_range(`10.0.0.1`, `10.0.0.10`)", {"client_ip": "not-an-ip"}, False),
    ("req_cip_range(`::`, `::1:0:0:0`)", {"client_ip": "1.2.3.4"}, True),  # IPv4 is ::ffff:a.b.c.d
    ("req_cip_range(`::ffff:1.2.3.0`, `1.2.3.255`)", {"client_ip": "1.2.3.4"}, True),
    ("req_cip_hash_in(`5535`)", {"client_ip": "1.2.3.4"}, True),
    ("req_cip_hash_in(`5535`)", {"client_ip": "::ffff:1.2.3.4"}, True),
    ("req_cip_hash_in(`4624`)", {"client_ip": "2001:0DB8:0::1"}, True),  # hashes Go's "2001:db8::1"
    ("req_cip_hash_in(`0-5534|5536-9999`)", {"client_ip": "1.2.3.4"}, False),
    ("req_cip_hash_in(`0-9999`)", {}, False),
    ("req_vip_in(`::ffff:1.1.1.1|2001:db8::1`)", {"vip": "1.1.1.1"}, True),
    ("req_vip_in(`1.1.1.1`)", {"vip": "1.1.1.2"}, False),
    ("req_vip_in(`1.1.1.1`)", {}, False),
    ("req_vip_range(`1.1.1.1`, `1.1.1.9`)", {"vip": "1.1.1.9"}, True),
    ("req_vip_range(`1.1.1.1`, `1.1.1.9`)", {"client_ip": "1.1.1.5"}, False),
    ("req_proto_match(`HTTP/1.1`)", {}, True),
    ("req_proto_match(`http/1.0`)", {"proto": "HTTP/1.0"}, True),
    ("req_proto_match(`http`)", {}, False),
    ("req_proto_match(`H2`)", SECURE, True),
    ("req_proto_secure()", SECURE, True),
    ("req_proto_secure()", {}, False),
    ("req_host_in(`A.com|b.com`)", {"host": "a.COM:8080"}, True),
    ("req_host_in(`a.com`)", {"host": "a.com.evil"}, False),
    ("req_host_in(`a.com`)", {}, False),
    ("req_host_in(``)", {}, True),  # a missing host is the empty name
    ("req_host_in(`ß.de`)", {"host": "SS.de"}, False),  # Go's simple case mapping
    ("req_host_regmatch(`^a\\.com$`)", {"host": "a.com:80"}, True),
    ("req_host_regmatch(`^a\\.com$`)", {"host": "b.com"}, False),
    ("req_host_regmatch(`(?i)EXAMPLE`)", {"host": "www.example.com"}, True),
    ("req_host_suffix_in(`.a.com|.b.com`)", {"host": "X.B.COM"}, True),
    ("req_host_suffix_in(`.a.com`)", {"host": "a.com"}, False),
    ("req_host_tag_in(`TAG`)", {"host_tag": "tag"}, True),
    ("req_host_tag_in(`tag`)", {"host_tag": "other"}, False),
    ("req_host_tag_in(`tag`)", {}, False),
    ("req_host_tag_in(`|tag`)", {}, True),  # a missing tag is empty
    ("req_path_in(`/a|/b`, false)", {"path": "/b"}, True),
    ("req_path_in(`/A`, false)", {"path": "/a"}, False),
    ("req_path_in(`/A`, true)", {"path": "/a"}, True),
    ("req_path_in(`/`, false)", {}, True),
    ("req_path_prefix_in(`/api/`, false)", {"path": "/api/v1"}, True),
    ("req_path_prefix_in(`/api/`, false)", {"path": "/API/v1"}, False),
    ("req_path_prefix_in(`/api/`, true)", {"path": "/API/v1"}, True),
    ("req_path_prefix_in(`/x|`, false)", {"path": "/anything"}, True),  # the empty prefix
    ("req_path_suffix_in(`.PHP`, true)", {"path": "/index.php"}, True),
    ("req_path_suffix_in(`.php`, false)", {"path": "/index.phps"}, False),
    ("req_path_contain(`admin`, false)", {"path": "/x/admin/y"}, True),
    ("req_path_contain(`ADMIN`, true)", {"path": "/x/admin/y"}, True),
    ("req_path_contain(`admin`, false)", {"path": "/x/ADMIN"}, False),
    ("req_path_contain(`.*|(`, false)", {"path": "/a(b"}, True),  # literals, not a regexp
    ("req_path_regmatch(`^/a/[0-9]+$`)", {"path": "/a/12"}, True),
    ("req_path_regmatch(`^/a/[0-9]+$`)", {"path": "/a/12x"}, False),
    ("req_path_regmatch(`b`)", {"path": "/abc"}, True),  # unanchored
    ("req_path_element_prefix_in(`/api`, false)", {"path": "/api"}, True),
    ("req_path_element_prefix_in(`/api`, false)", {"path": "/api/x"}, True),
    ("req_path_element_prefix_in(`/api`, false)", {"path": "/apix"}, False),
    ("req_path_element_prefix_in(`/API`, true)", {"path": "/api/x"}, True),
    ("req_url_regmatch(`\\?a=1`)", {"path": "/p", "query": "a=1"}, True),
    ("req_url_regmatch(`%20`)", {"path": "/a b", "uri": "/a%20b"}, True),
    ("req_url_regmatch(`^/p$`)", {"path": "/p", "query": "a=1"}, False),
    ("req_port_in(`8080|8443`)", {"host": "a.com:8443"}, True),
    ("req_port_in(`80`)", {"host": "a.com"}, True),
    ("req_port_in(`443`)", {"host": "a.com", "secure": True}, False),  # 80 even over TLS
    ("req_method_in(`get|post`)", {"method": "POST"}, True),
    ("req_method_in(`GET`)", {"method": "PUT"}, False),
    ("req_tag_match(`clientIP`, `blocklist`)", {"tags": {"clientIP": ["blocklist:x"]}}, True),
    ("req_tag_match(`clientIP`, `blocklist`)", {"tags": {"clientIP": ["Blocklist"]}}, False),
    ("req_tag_match(`clientIP`, `blocklist`)", {"tags": {"other": ["blocklist"]}}, False),
    ("req_context_value_in(`k`, `a|b`, false)", {"context": {"k": "b"}}, True),
    ("req_context_value_in(`k`, `B`, true)", {"context": {"k": "b"}}, True),
    ("req_context_value_in(`k`, `B`, false)", {"context": {"k": "b"}}, False),
    ("req_context_value_in(`k`, `1`, false)", {"context": {"k": 1}}, False),  # only strings
    ("req_context_value_in(`k`, ``, false)", {}, False),
    ("req_context_value_in(``, ``, false)", {"context": {"": ""}}, False),
    ("req_query_key_in(`a|b`)", {"query": "b=1"}, True),
    ("req_query_key_in(`a`)", {"query": "A=1"}, False),
    ("req_query_key_in(``)", {"query": "=1"}, True),
    ("req_query_key_in(`a`)", {"query": "a;x=1"}, False),
    ("req_query_key_prefix_in(`utm_`)", {"query": "x=1&utm_source=y"}, True),
    ("req_query_key_prefix_in(`utm_`)", {"query": "x=1"}, False),
    ("req_query_exist()", {"query": "a"}, True),
    ("req_query_exist()", {"query": "&"}, False),
    ("req_query_exist()", {"query": "a=%zz"}, False),
    ("req_query_value_in(`k`, `v w`, false)", {"query": "k=v+w"}, True),
    ("req_query_value_in(`k`, `V`, true)", {"query": "k=v"}, True),
    ("req_query_value_in(`k`, `v`, false)", {}, False),
    ("req_query_value_in(`k`, ``, false)", {}, True),  # a missing key is empty
    ("req_query_value_prefix_in(`k`, `ab`, false)", {"query": "k=abc"}, True),
    ("req_query_value_prefix_in(`k`, `AB`, false)", {"query": "k=abc"}, False),
    ("req_query_value_suffix_in(`k`, `BC`, true)", {"query": "k=abc"}, True),
    ("req_query_value_suffix_in(`k`, `x`, false)", {"query": "k=abc"}, False),
    ("req_query_value_contain(`k`, `b`, false)", {"query": "k=abc"}, True),
    ("req_query_value_contain(`k`, `z`, false)", {}, False),
    ("req_query_value_regmatch(`k`, `^$`)", {}, True),
    ("req_query_value_regmatch(`k`, `^[0-9]+$`)", {"query": "k=123"}, True),
    ("req_query_value_regmatch(`k`, `^[0-9]+$`)", {"query": "k=12a"}, False),
    ("req_query_value_hash_in(`k`, `2343`, false)", {"query": "k=uid123"}, True),
    ("req_query_value_hash_in(`k`, `9575`, true)", {"query": "k=ABC"}, True),  # lower-cased: bucket("abc")
    ("req_query_value_hash_in(`k`, `9575`, false)", {"query": "k=ABC"}, False),  # bucket("ABC") is 3614
    ("req_query_value_hash_in(`k`, `0`, false)", {}, True),  # a missing key hashes "" (bucket 0)
    ("req_cookie_key_in(`sid|uid`)", {"cookies": {"uid": ""}}, True),
    ("req_cookie_key_in(`sid`)", {"cookies": {"SID": "1"}}, False),
    ("req_cookie_value_in(`sid`, `x|y`, false)", {"cookies": {"sid": "y"}}, True),
    ("req_cookie_value_in(`sid`, `Y`, true)", {"cookies": {"sid": "y"}}, True),
    ("req_cookie_value_in(`sid`, ``, false)", {}, False),  # a missing cookie is false
    ("req_cookie_value_prefix_in(`sid`, `ab`, false)", {"cookies": {"sid": "abc"}}, True),
    ("req_cookie_value_prefix_in(`sid`, ``, false)", {}, False),
    ("req_cookie_value_suffix_in(`sid`, `BC`, true)", {"cookies": {"sid": "abc"}}, True),
    ("req_cookie_value_suffix_in(`sid`, ``, false)", {}, False),
    ("req_cookie_value_contain(`sid`, `b`, false)", {"cookies": {"sid": "abc"}}, True),
    ("req_cookie_value_contain(`sid`, ``, false)", {}, False),
    ("req_cookie_value_hash_in(`uid`, `5968`, false)", {"cookies": {"uid": "test-uid-0001"}}, True),
    ("req_cookie_value_hash_in(`uid`, `0-9999`, false)", {}, False),
    ("req_ua_regmatch(`^curl/`)", UA, True),
    ("req_ua_regmatch(`^curl/`)", {}, False),
    ("req_ua_regmatch(`^$`)", {}, True),  # a missing header is empty
    ("req_header_key_in(`x-a|X-B`)", {"headers": {"X-B": "1"}}, True),
    ("req_header_key_in(`X-A`)", {"headers": {"X-A": ""}}, False),  # present but empty is absent
    ("req_header_key_in(`X-A`)", {}, False),
    ("req_header_value_in(`X-A`, `1|2`, false)", {"headers": {"x-a": "2"}}, True),
    ("req_header_value_in(`X-A`, `A`, true)", {"headers": {"X-A": "a"}}, True),
    ("req_header_value_in(`X-A`, ``, false)", {}, True),
    ("req_header_value_in(`X-A`, `1`, false)", {}, False),
    ("req_header_value_prefix_in(`Referer`, `https://a.`, false)", {"headers": {"Referer": "https://a.com/"}}, True),
    ("req_header_value_prefix_in(`Referer`, `https://a.`, false)", {}, False),
    ("req_header_value_suffix_in(`X-A`, `.JS`, true)", {"headers": {"X-A": "app.js"}}, True),
    ("req_header_value_suffix_in(`X-A`, `.js`, false)", {"headers": {"X-A": "app.JS"}}, False),
    ("req_header_value_contain(`User-Agent`, `url`, false)", UA, True),
    ("req_header_value_contain(`User-Agent`, `bot|spider`, false)", UA, False),
    ("req_header_value_regmatch(`User-Agent`, `[0-9]+\\.[0-9]+`)", UA, True),
    ("req_header_value_regmatch(`X-A`, `.`)", {}, False),
    ("req_header_value_hash_in(`X-Uid`, `4073`, true)", {"headers": {"X-Uid": "TEST-UID-0002"}}, True),
    ("req_header_value_hash_in(`X-Uid`, `0`, false)", {}, True),
    ("req_header_value_hash_in(`X-Uid`, `4073`, false)", {"headers": {"X-Uid": "TEST-UID-0002"}}, False),
    ("req_body_json_in(`model`, `gpt-4o|o1`, false)", BODY, True),
    ("req_body_json_in(`msgs.0.role`, `USER`, true)", BODY, True),
    ("req_body_json_in(`n`, `2`, false)", BODY, True),
    ("req_body_json_in(`model`, ``, false)", {}, True),  # no body is empty
    ("req_body_json_in(`model`, `gpt`, false)", {"body": "not json"}, False),
    ("req_body_json_prefix_in(`model`, `gpt-`, false)", BODY, True),
    ("req_body_json_prefix_in(`model`, `claude-`, false)", BODY, False),
    ("res_code_in(`200|404`)", RESPONSE, True),
    ("res_code_in(`200`)", RESPONSE, False),
    ("res_code_in(`200`)", {}, False),
    ("res_header_key_in(`x-cache`)", RESPONSE, True),
    ("res_header_key_in(`X-Empty`)", RESPONSE, False),
    ("res_header_key_in(`X-Cache`)", {"headers": {"X-Cache": "HIT"}}, False),
    ("res_header_value_in(`X-Cache`, `hit`, true)", RESPONSE, True),
    ("res_header_value_in(`X-Missing`, ``, false)", RESPONSE, True),
    ("res_header_value_in(`X-Cache`, ``, false)", {}, False),
    ("ses_vip_range(`10.0.0.0`, `10.255.255.255`)", {"vip": "10.1.2.3"}, True),
    ("ses_vip_range(`10.0.0.0`, `10.255.255.255`)", {}, False),
    ("ses_sip_range(`192.168.0.0`, `192.168.255.255`)", {"client_ip": "1.1.1.1", "remote_ip": "192.168.1.1"}, True),
    ("ses_sip_range(`192.168.0.0`, `192.168.255.255`)", {"client_ip": "192.168.1.1"}, True),  # defaults to client
    ("ses_sip_range(`192.168.0.0`, `192.168.255.255`)", {}, False),
    ("ses_tls_sni_in(`a.example`)", TLS, True),
    ("ses_tls_sni_in(`b.example`)", TLS, False),
    ("ses_tls_sni_in(`a.example`)", {"tls": {"sni": "a.example"}}, False),  # not secure
    ("ses_tls_sni_in(``)", {"secure": True}, False),  # no SNI
    ("ses_tls_client_auth()", TLS, True),
    ("ses_tls_client_auth()", {"secure": True}, False),
    ("ses_tls_client_ca_in(`Corp CA`)", TLS, True),
    ("ses_tls_client_ca_in(`corp ca`)", TLS, False),
    ("ses_tls_client_ca_in(`Corp CA`)", {"secure": True, "tls": {"client_ca": "Corp CA"}}, False),
    ("bfe_time_range(`20240101000000Z`, `20240101235959Z`)", DEBUG_TIME, True),
    ("bfe_time_range(`20240101200001H`, `20240102000000H`)", DEBUG_TIME, False),
    ("bfe_time_range(`20240101200000h`, `20240102000000H`)", DEBUG_TIME, True),  # 12:00Z is 20:00 at +8
    ("bfe_time_range(`20240101000000Z`, `20240101235959Z`)", {"headers": {"X-Bfe-Debug-Time": "2024"}}, False),
    ("bfe_time_range(`20240101000000Z`, `20240101235959Z`)", {"headers": {"X-Bfe-Debug-Time": ""}}, False),
    ("bfe_periodic_time_range(`120000Z`, `120000Z`, ``)", DEBUG_TIME, True),
    ("bfe_periodic_time_range(`000000Y`, `010000Y`, ``)", DEBUG_TIME, True),  # 00:00 at -12
    ("bfe_periodic_time_range(`120001Z`, `235959Z`, ``)", DEBUG_TIME, False),
    ("bfe_periodic_time_range(`000000Z`, `235959Z`, ``)", {"headers": {"X-Bfe-Debug-Time": "x"}}, False),
]


@pytest.mark.parametrize(("call", "request_", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_primitive(call: str, request_: Mapping[str, object], expected: bool) -> None:
    matcher = build(call)
    assert matcher.test(facts(request_)) is expected
    if matcher.expr is not None:
        assert run_expr(matcher, facts(request_)) is expected


def test_every_primitive_is_exercised_both_ways() -> None:
    outcomes: dict[str, set[bool]] = {}
    for call, _, expected in CASES:
        parsed = parse_call(call)
        assert parsed is not None
        outcomes.setdefault(parsed[0], set()).add(expected)
    assert set(outcomes) == set(BFE_PRIMITIVES)
    assert [name for name, seen in outcomes.items() if seen != {True, False} and name != "default_t"] == []


def test_time_primitives_read_now_without_the_debug_header() -> None:
    noon = 1704110400.0  # 2024-01-01T12:00:00Z
    window = build("bfe_time_range(`20240101115959Z`, `20240101120000Z`)")
    daily = build("bfe_periodic_time_range(`200000H`, `200000H`, ``)")
    assert window.test(facts(now=noon))
    assert daily.test(facts(now=noon + 0.5))
    assert not window.test(facts(now=noon + 0.5))  # after the end, as Go's time.After
    assert not window.test(facts(now=float("nan")))


# -- build errors --------------------------------------------------------------------------

BUILD_ERRORS: list[tuple[str, str]] = [
    ("req_host_in(`a.com|www.a.com:80`)", "port should not be included in host(www.a.com:80)"),
    ("req_path_regmatch(`(`)", "compile regexp err error parsing regexp: missing closing ): `(`"),
    (
        "req_host_regmatch(`a(?=b)`)",
        "compile regexp err error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
    ),
    ("req_url_regmatch(`(a)\\1`)", "compile regexp err error parsing regexp: invalid escape sequence: `\\1`"),
    ("req_query_value_regmatch(`k`, `[a`)", "compile regexp err error parsing regexp: missing closing ]: `[a`"),
    ("req_ua_regmatch(`a**`)", "compile regexp err error parsing regexp: invalid nested repetition operator: `**`"),
    (
        "req_header_value_regmatch(`X`, `*`)",
        "compile regexp err error parsing regexp: missing argument to repetition operator: `*`",
    ),
    ("req_path_regmatch(`a\\C`)", "compile regexp err error parsing regexp: invalid escape sequence: `\\C`"),
    ("req_cip_range(`1.1.1`, `1.1.1.0`)", "invalid IP addr string:1.1.1"),
    ("req_cip_range(`1.1.1.1`, `10.0.0.0/8`)", "invalid IP addr string:10.0.0.0/8"),
    ("req_cip_range(`1.1.1.1`, `::2`)", "startIP[1.1.1.1] and endIP[::2] has different addr type(IPv4/IPv6)"),
    (
        "req_cip_range(`::ffff:1.1.1.1`, `::2`)",
        "startIP[::ffff:1.1.1.1] and endIP[::2] has different addr type(IPv4/IPv6)",
    ),
    ("req_vip_range(`2.2.2.2`, `1.1.1.1`)", "startIP[2.2.2.2] must <= endIP[1.1.1.1]"),
    ("ses_vip_range(`01.1.1.1`, `1.1.1.2`)", "invalid IP addr string:01.1.1.1"),
    ("ses_sip_range(`::2`, `::1`)", "startIP[::2] must <= endIP[::1]"),
    ("req_vip_in(`1.1.1.1|`)", "invalid IP addr string:"),
    ("req_vip_in(`1.1.1.1|2001::DB8:2de::e13`)", "invalid IP addr string:2001::DB8:2de::e13"),
    ("req_cip_hash_in(`100-99`)", "hash value check section 100-99 err, start is larger"),
    ("req_query_value_hash_in(`k`, `1-2-3`, false)", "hash value section 1-2-3 length error"),
    ("req_cookie_value_hash_in(`k`, `10000`, false)", "hash value check section 10000 number 10000 overlimit"),
    (
        "req_header_value_hash_in(`k`, ``, false)",
        'hash value check section  number  err strconv.Atoi: parsing "": invalid syntax',
    ),
    ("bfe_time_range(`20190204203000J`, `20190204204500H`)", "startTime format invalid, err:invalid zone:J"),
    (
        "bfe_time_range(`20190204203000H`, `20191304204500H`)",
        'endTime format invalid, err:invalid time string:20191304204500H, err:parsing time "20191304204500": '
        "month out of range",
    ),
    ("bfe_periodic_time_range(`100000H`, `110000H`, `daily`)", "periodStr is not supported, should not be set!"),
    ("bfe_periodic_time_range(`100000H`, `110000Z`, ``)", "timezone of startime and endtime should be same!"),
    ("bfe_periodic_time_range(`110000H`, `100000H`, ``)", "startTime[110000H] must <= endTime[100000H]"),
    ("bfe_periodic_time_range(`250000H`, `260000H`, ``)", "startTime format invalid, err:time format invalid"),
    ("bfe_periodic_time_range(`100000H`, `1100H`, ``)", "endTime format invalid, err:invalid time string:1100H"),
]


@pytest.mark.parametrize(("call", "message"), BUILD_ERRORS, ids=[c[0] for c in BUILD_ERRORS])
def test_build_errors_name_the_bad_argument(call: str, message: str) -> None:
    with pytest.raises(BuildFailure) as failure:
        build(call)
    assert str(failure.value).startswith(message)


@pytest.mark.parametrize(
    "name",
    ["req_host_regmatch", "req_path_regmatch", "req_url_regmatch", "req_ua_regmatch"],
)
def test_every_regexp_primitive_rejects_a_bad_pattern(name: str) -> None:
    with pytest.raises(BuildFailure, match=r"^compile regexp err"):
        build(f"{name}(`(?<!x)`)")


def test_start_later_than_end_is_rejected_for_instants() -> None:
    with pytest.raises(BuildFailure, match=r"^startTime\[20190204203000Z\] must <= endTime\[20190204203000H\]$"):
        build("bfe_time_range(`20190204203000Z`, `20190204203000H`)")


# -- hashing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("test-uid-0001", 5968),
        ("test-uid-0002", 4073),
        ("test-uid-0003", 4055),
        ("test-uid-0004", 9683),
        ("TEST-uid-0001", 3140),
        ("abc", 9575),
        ("ABC", 3614),
        ("uid123", 2343),
        ("1.2.3.4", 5535),
        ("2001:db8::1", 4624),
        ("", 0),
    ],
)
def test_buckets_match_bfe(value: str, expected: int) -> None:
    assert bucket(value) == expected


def test_bucket_sections() -> None:
    assert parse_buckets("0") == {0}
    assert parse_buckets(" 1 0 - 1 2 |+5|9999") == {10, 11, 12, 5, 9999}  # spaces vanish, Atoi takes a '+'
    for bad in ("-1", "abc", "5_0", "1|", "99999999999999999999", "1--2"):
        with pytest.raises(BuildFailure):
            parse_buckets(bad)


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("2001:0DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1.2.3.4", "::102:304"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
    ],
)
def test_client_ips_hash_as_go_prints_them(address: str, text: str) -> None:
    assert go_ip_string(ip16(address)) == text


# -- regular expressions -------------------------------------------------------------------


def test_regexps_never_raise_on_undecodable_bytes_and_see_them_as_u_fffd() -> None:
    assert Regexp("^a.b$")("a\udcffb")
    assert Regexp("\ufffd")("x\udc80")
    assert Regexp("x")("x\udc80")
    assert not Regexp("^a$")(None)


def test_a_literal_pattern_is_a_substring_test() -> None:
    assert Regexp("bc")("abcd")
    assert not Regexp("bd")("abcd")
    assert Regexp("")("")


# -- templates agree with test ---------------------------------------------------------------

VARIED: list[Mapping[str, object]] = [
    {},
    {"host": "A.com:80", "path": "/API/v1", "method": "post", "query": "k=ABC&uid=1", "client_ip": "1.2.3.4"},
    {"host": "\u017f.com", "path": "/straße/\udcff", "query": "k=%ff&x", "headers": {"X-A": ["", "2"]}},
    {"host": "[::1]:8080", "path": "", "uri": "", "headers": {"User-Agent": "Mozilla"}, "vip": "::ffff:1.1.1.1"},
    {**TLS, **RESPONSE, **BODY, "cookies": {"sid": "abc", "uid": "test-uid-0001"}},
    {**SECURE, "trusted": True, "tags": {"clientIP": ["blocklist"]}, "context": {"k": "b"}, **DEBUG_TIME},
]
_EXPRESSIVE = sorted({call for call, _, _ in CASES if build(call).expr is not None})


@pytest.mark.parametrize("call", _EXPRESSIVE)
def test_every_template_agrees_with_test(call: str) -> None:
    matcher = build(call)
    for request in [*VARIED, *(request for other, request, _ in CASES if other == call)]:
        assert run_expr(matcher, facts(request)) is matcher.test(facts(request)), request


def test_the_common_primitives_are_inlined_without_a_call() -> None:
    for call in (
        "req_host_in(`a`)",
        "req_path_prefix_in(`/a`, false)",
        "req_method_in(`GET`)",
        "req_path_in(`/`, true)",
    ):
        expr = build(call).expr
        assert expr is not None
        assert "(" not in expr.replace(".startswith(", ""), expr


def test_hints() -> None:
    assert build("req_host_in(`A.com|b.COM`)").hint == ("host", frozenset({"a.com", "b.com"}))
    assert build("req_path_prefix_in(`/a|/b`, false)").hint == ("path_prefix", ("/a", "/b"))
    assert build("req_path_prefix_in(`/a`, true)").hint is None
    assert build("req_path_element_prefix_in(`/a|/b/`, false)").hint == ("path_prefix", ("/a", "/b"))


ALPHABET = st.sampled_from(list('aA:/.=&;%+ "\\é\udcff0'))


@settings(max_examples=60, deadline=None)
@given(
    host=st.text(ALPHABET, max_size=8),
    path=st.text(ALPHABET, max_size=8),
    query=st.text(ALPHABET, max_size=8),
    cookie=st.text(ALPHABET, max_size=8),
    address=st.sampled_from(["", "1.2.3.4", "::1", "bogus", "10.0.0.5"]),
)
def test_primitives_never_raise_and_templates_agree(
    host: str, path: str, query: str, cookie: str, address: str
) -> None:
    request = {
        "host": host,
        "path": path,
        "query": query,
        "headers": {"Cookie": cookie, "X-A": path, "User-Agent": host},
        "client_ip": address,
        "vip": address,
        "body": path,
    }
    for call in {call for call, _, _ in CASES}:
        matcher = build(call)
        result = matcher.test(facts(request))
        assert isinstance(result, bool)
        if matcher.expr is not None:
            assert run_expr(matcher, facts(request)) is result


PREFIX_TEXT = st.text(st.sampled_from(list("ab/\x00\uffff\U0010ffff\udcff")), max_size=5)


@settings(deadline=None)
@given(prefix=PREFIX_TEXT, value=PREFIX_TEXT)
def test_prefix_bounds_admit_exactly_the_strings_with_the_prefix(prefix: str, value: str) -> None:
    bounds = prefix_bounds((prefix,))
    if bounds is None:
        assert prefix in ("",) or prefix.endswith("\U0010ffff")
        return
    low, high = bounds
    assert (low <= value < high) is value.startswith(prefix)
    assert (low <= prefix + value < high) is True


def test_prefix_bounds_only_for_one_usable_prefix() -> None:
    assert prefix_bounds(("/index/",)) == ("/index/", "/index0")
    assert prefix_bounds(("/a", "/b")) is None
    assert prefix_bounds(("",)) is None
    assert prefix_bounds(("a\U0010ffff",)) is None
    # The compiled form of one prefix is two comparisons, no call.
    assert build("req_path_prefix_in(`/a`, false)").expr == "{c0} <= {r}.path < {c1}"
    assert build("req_path_prefix_in(`/a`, true)").expr == "{c0} <= {r}.path_upper < {c1}"
