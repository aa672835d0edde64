"""RequestFacts: BFE's (Go's) reading of the Host header, query, cookies, headers, addresses and JSON body."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.core.facts import RequestFacts, go_lower, go_upper, host_key, ip16
from stockade.core.jsonpath import json_path_value

V4 = b"\x00" * 10 + b"\xff\xff"


def facts(**request: object) -> RequestFacts:
    return RequestFacts.from_vector(request)


# -- host and port -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "name", "port"),
    [
        ("example.com", "example.com", "80"),
        ("example.com:8080", "example.com", "8080"),
        ("Example.COM:443", "Example.COM", "443"),
        ("[::1]:8080", "[", ":1]:8080"),  # Go splits at the first ':'
        (":8080", "", "80"),  # a ':' at index 0 leaves the default port
        ("a:b:c", "a", "b:c"),
        ("", "", "80"),
    ],
)
def test_host_is_before_the_first_colon_and_port_after_it(host: str, name: str, port: str) -> None:
    request = RequestFacts(host=host)
    assert (request.host_name, request.port) == (name, port)


def test_port_defaults_to_80_even_over_tls() -> None:
    assert RequestFacts(host="a.com", secure=True, session_proto="https").port == "80"


def test_host_upper_and_lower_fold_like_go() -> None:
    request = RequestFacts(host="WWW.Example.com:80")
    assert (request.host_upper, request.host_lower) == ("WWW.EXAMPLE.COM", "www.example.com")
    # U+017F (long s) upper-cases to 'S' in Go, so it must share the index key of 's'.
    assert RequestFacts(host="\u017f.com").host_lower == host_key("s.com") == "s.com"


# -- case folding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "upper"),
    [("abc", "ABC"), ("straße", "STRAßE"), ("ﬁ", "ﬁ"), ("\u017f", "S"), ("ᾳ", "ᾼ"), ("a\udcffb", "A\ufffdB")],
)
def test_go_upper_uses_simple_mappings_and_replaces_bad_bytes(text: str, upper: str) -> None:
    assert go_upper(text) == upper


@pytest.mark.parametrize(("text", "lower"), [("ABC", "abc"), ("ΟΔΟΣ", "οδοσ"), ("İ", "i"), ("\udc80", "\ufffd")])
def test_go_lower_has_no_final_sigma_and_simple_mappings(text: str, lower: str) -> None:
    assert go_lower(text) == lower


# -- query ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("", {}),
        ("&", {}),
        ("&&a=1&&", {"a": "1"}),
        ("a=1&b=2", {"a": "1", "b": "2"}),
        ("uid=a&uid=x", {"uid": "a"}),  # the first value wins
        ("k=%zz&k=v", {"k": "v"}),  # a bad escape drops the pair
        ("k=%4&j=1", {"j": "1"}),
        ("%zz=1", {}),
        ("a;b=1&c=2", {"c": "2"}),  # a ';' drops the pair
        ("a=1;b=2", {}),
        ("flag", {"flag": ""}),
        ("=v", {"": "v"}),
        ("q=a+b&r=%2B", {"q": "a b", "r": "+"}),
        ("a%20b=c%3Dd", {"a b": "c=d"}),
        ("Key=1&key=2", {"Key": "1", "key": "2"}),  # keys are case-sensitive
        ("x=%C3%A9", {"x": "é"}),
        ("x=a=b", {"x": "a=b"}),
    ],
)
def test_query_follows_go_parse_query(query: str, params: dict[str, str]) -> None:
    assert RequestFacts(query=query).query_params == params


def test_query_bytes_that_are_not_utf8_are_kept_as_surrogate_escapes() -> None:
    value = RequestFacts(query="x=%ff%41").query_params["x"]
    assert value == "\udcffA"
    assert value.encode("utf-8", "surrogateescape") == b"\xffA"


# -- cookies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "jar"),
    [
        (["a=1; b=2"], {"a": "1", "b": "2"}),
        (["a=1", "a=2; b=3"], {"a": "1", "b": "3"}),  # every line; the first cookie of a name wins
        (['a="quoted"'], {"a": "quoted"}),
        (['a=""'], {"a": ""}),
        (['a="'], {}),  # a lone quote is not a cookie-octet
        (["a=x y; b=1"], {"b": "1"}),  # space: skipped
        (['a=x,y; b=x\\y; c=x"y; d=ok'], {"d": "ok"}),
        (["  a=1 ;\tb=2\t; ;;"], {"a": "1", "b": "2"}),
        (["bad name=1; b@d=2; ok=3"], {"ok": "3"}),
        (["=1; flag"], {"flag": ""}),
        (["A=1; a=2"], {"A": "1", "a": "2"}),  # names are case-sensitive
        (["a=é"], {}),
        (["a=1=2"], {"a": "1=2"}),
    ],
)
def test_cookies_follow_go_read_cookies(lines: list[str], jar: dict[str, str]) -> None:
    request = RequestFacts(headers=[("cookie" if i % 2 else "Cookie", line) for i, line in enumerate(lines)])
    assert request.cookies == jar


def test_cookies_come_only_from_cookie_headers() -> None:
    assert RequestFacts(headers=[("Set-Cookie", "a=1"), ("X-Cookie", "b=2")]).cookies == {}


# -- headers -------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_the_first_value_counts() -> None:
    request = RequestFacts(headers=[("X-A", "1"), ("x-a", "2"), ("User-Agent", "curl")])
    assert request.header("x-A") == "1"
    assert request.header("USER-AGENT") == "curl"
    assert request.header("missing") == ""
    assert request.header_map == {"x-a": "1", "user-agent": "curl"}


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", V4 + bytes([1, 2, 3, 4])),
        ("::ffff:1.2.3.4", V4 + bytes([1, 2, 3, 4])),
        ("::1", b"\x00" * 15 + b"\x01"),
        ("2001:DB8::1", bytes.fromhex("20010db8000000000000000000000001")),
        ("01.2.3.4", b""),  # Go rejects leading zeros
        ("1.2.3", b""),
        ("256.1.1.1", b""),
        ("10.0.0.0/8", b""),
        ("fe80::1%eth0", b""),
        (" 1.2.3.4", b""),
        ("1.2.3.4:80", b""),
        ("", b""),
        (None, b""),
        ("1.2.3.4\x00", b""),
        ("\uff11.2.3.4", b""),
    ],
)
def test_ip16_parses_like_go_net_parse_ip(text: str | None, expected: bytes) -> None:
    assert ip16(text) == expected


def test_addresses_are_derived_in_their_16_byte_form() -> None:
    request = RequestFacts(client_ip="10.0.0.5", remote_ip="::1", vip="bogus")
    assert request.client_ip16 == V4 + bytes([10, 0, 0, 5])
    assert request.remote_ip16 == b"\x00" * 15 + b"\x01"
    assert request.vip16 == b""


# -- protocol, url ---------------------------------------------------------------------------


def test_protocol_is_the_session_protocol_when_secure() -> None:
    assert RequestFacts(proto="HTTP/1.0").protocol == "HTTP/1.0"
    assert RequestFacts(secure=True, session_proto="h2").protocol == "h2"
    assert RequestFacts(secure=True).protocol == ""


def test_url_defaults_to_path_and_query() -> None:
    assert RequestFacts(path="/a", query="x=1").url == "/a?x=1"
    assert RequestFacts(path="/a").url == "/a"
    assert RequestFacts(path="/a b", uri="/a%20b?").url == "/a%20b?"


# -- lazy derivation -----------------------------------------------------------------------


def test_line_values_are_derived_at_construction_and_the_rest_on_first_read() -> None:
    request = RequestFacts()
    request.headers.append(("Cookie", "a=1"))
    assert request._cookies is None
    assert request.cookies == {"a": "1"}
    assert request._cookies == {"a": "1"}
    moved = dataclasses.replace(request, host="late.example:81")
    assert (moved.host_name, moved.port) == ("late.example", "81")


def test_the_class_has_no_getattr_hook() -> None:
    # CPython specialises slot reads only for classes without __getattr__: keep it that way.
    assert not hasattr(RequestFacts, "__getattr__")


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    request = RequestFacts()
    with pytest.raises(AttributeError, match="no attribute 'hots'"):
        request.hots  # type: ignore[attr-defined]  # noqa: B018


def test_derived_values_stay_out_of_equality_and_repr() -> None:
    first, second = RequestFacts(host="a.com"), RequestFacts(host="a.com")
    assert first.host_name == "a.com"
    assert first == second
    assert "host_name" not in repr(first)
    assert dataclasses.replace(first, host="b.com").host_name == "b.com"


def test_memo_is_a_per_request_cache() -> None:
    first, second = RequestFacts(), RequestFacts()
    first.memo["k"] = 1
    assert second.memo == {}


# -- body JSON -----------------------------------------------------------------------------

BODY = (
    b'{"model": "gpt-4", "n": 3, "t": 0.50, "big": 1e3, "neg": -0.0, "huge": 1e400, "ok": true, "no": false,'
    b' "none": null, "obj": {"a": [1, 2, {"b": "x"}]}, "arr": [ 1,  2 ], "a.b": "dotted", "dup": 1, "dup": 2,'
    b' "": "empty", "0": "zero-key", "esc": "tab\\tand \\u00e9"}'
)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("model", "gpt-4"),
        ("n", "3"),
        ("t", "0.5"),  # non-integers print like Go's FormatFloat(f, 'f', -1, 64)
        ("big", "1000"),
        ("neg", "-0"),
        ("huge", "+Inf"),
        ("ok", "true"),
        ("no", "false"),
        ("none", ""),
        ("obj", '{"a": [1, 2, {"b": "x"}]}'),  # objects and arrays as their raw text
        ("arr", "[ 1,  2 ]"),
        ("obj.a.1", "2"),
        ("obj.a.2.b", "x"),
        ("obj.a.9", ""),
        ("obj.a.x", ""),
        ("obj.a.#", "3"),
        ("arr.#", "2"),
        ("obj.#", ""),
        ("a\\.b", "dotted"),
        ("dup", "1"),  # gjson stops at the first key
        ("0", "zero-key"),
        ("esc", "tab\tand é"),
        ("missing", ""),
        ("model.x", ""),
        ("obj.*", ""),  # wildcards are outside the subset
        ("obj.a.#.b", ""),
        ("@reverse", ""),
        ("", ""),
    ],
)
def test_body_json_reads_a_gjson_subset(path: str, value: str) -> None:
    assert RequestFacts(body=BODY).body_json(path) == value


@pytest.mark.parametrize(
    "body",
    [None, b"", b"{", b'{"model": "x",}', b'{"model": NaN}', b"\xff", b'{"model": "x"} trailing', b"[" * 5000],
)
def test_body_json_is_empty_without_valid_json(body: bytes | None) -> None:
    assert json_path_value(body, "model") == ""


def test_body_json_on_a_top_level_array_and_scalar() -> None:
    assert json_path_value(b' [ {"a": 1}, "two" ] ', "1") == "two"
    assert json_path_value(b'"text"', "a") == ""


def test_body_json_is_cached_per_path() -> None:
    request = RequestFacts(body=b'{"a": "1"}')
    assert request.body_json("a") == "1"
    request.body = b'{"a": "2"}'
    assert request.body_json("a") == "1"


# -- from_vector ---------------------------------------------------------------------------


def test_from_vector_defaults() -> None:
    request = facts()
    assert (request.method, request.host, request.path, request.query, request.uri, request.proto) == (
        "GET",
        "",
        "/",
        "",
        "/",
        "HTTP/1.1",
    )
    assert (request.client_ip, request.remote_ip, request.vip, request.body, request.response_code) == (None,) * 5
    assert request.response_header_map is None


def test_from_vector_maps_every_field() -> None:
    request = RequestFacts.from_vector(
        {
            "method": "POST",
            "host": "a.com:81",
            "path": "/p",
            "query": "x=1",
            "headers": {"X-A": ["1", "2"], "X-B": "3"},
            "cookies": {"b": "2", "a": "1"},
            "client_ip": "1.2.3.4",
            "vip": "10.0.0.1",
            "secure": True,
            "session_proto": "h2",
            "tls": {"sni": "a.com", "client_auth": True, "client_ca": "ca"},
            "trusted": True,
            "host_tag": "tag",
            "product": "prod",
            "tags": {"clientIP": ["blocklist"]},
            "context": {"k": "v", "n": 1},
            "body": '{"a": 1}',
            "response": {"code": 404, "headers": {"X-R": "r"}},
        },
        now=123.0,
    )
    assert request.uri == "/p?x=1"
    assert request.headers == [("X-A", "1"), ("X-A", "2"), ("X-B", "3"), ("Cookie", "a=1; b=2")]
    assert request.remote_ip == "1.2.3.4"  # defaults to the client IP
    assert (request.tls_sni, request.tls_client_auth, request.tls_client_ca) == ("a.com", True, "ca")
    assert (request.trusted, request.host_tag, request.product, request.now) == (True, "tag", "prod", 123.0)
    assert request.tags == {"clientIP": ["blocklist"]}
    assert request.context == {"k": "v", "n": 1}
    assert request.body == b'{"a": 1}'
    assert (request.response_code, request.response_header_map) == (404, {"x-r": "r"})


def test_from_vector_keeps_an_explicit_remote_ip_and_uri() -> None:
    request = facts(client_ip="1.1.1.1", remote_ip="2.2.2.2", path="/a", uri="/raw%20")
    assert (request.remote_ip, request.uri) == ("2.2.2.2", "/raw%20")


# -- never raising -------------------------------------------------------------------------

TEXT = st.text(alphabet=st.sampled_from(list('aZ09:;=&%+"\\ ,./[]\t\xe9ß\udcff')), max_size=12)


@given(host=TEXT, query=TEXT, cookie=TEXT, address=TEXT, path=TEXT, body=st.binary(max_size=16))
def test_derivations_never_raise(host: str, query: str, cookie: str, address: str, path: str, body: bytes) -> None:
    request = RequestFacts(
        host=host, query=query, path=path, headers=[("Cookie", cookie)], client_ip=address, vip=address, body=body
    )
    assert isinstance(request.host_upper, str)
    assert isinstance(request.query_params, dict)
    assert isinstance(request.cookies, dict)
    assert isinstance(request.client_ip16, bytes)
    assert isinstance(request.path_upper, str)
    assert isinstance(request.body_json(path), str)
