"""The reverse proxy's header rules: hop-by-hop removal, forwarding headers, framing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.server.proxy.headers import (
    HOP_BY_HOP,
    forwarded_element,
    forwarded_node,
    forwarded_value,
    response_headers,
    strip_hop_by_hop,
    upstream_request,
)

Headers = list[tuple[bytes, bytes]]


def request(
    headers: Headers, *, ip: str | None = "198.51.100.4", trusted: bool = False, proto: bytes = b"http"
) -> tuple[dict[bytes, list[bytes]], Headers]:
    result = upstream_request(headers, client_ip=ip, trusted=trusted, proto=proto, default_host=b"upstream:9000")
    grouped: dict[bytes, list[bytes]] = {}
    for name, value in result.headers:
        grouped.setdefault(name, []).append(value)
    return grouped, result.headers


# -- hop-by-hop ---------------------------------------------------------------------------------


def test_strip_removes_the_fixed_set_and_what_connection_lists() -> None:
    headers = [
        (b"Connection", b"keep-alive, X-Hop ,x-other"),
        (b"Keep-Alive", b"timeout=5"),
        (b"TE", b"trailers"),
        (b"Trailer", b"x-sum"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"websocket"),
        (b"Proxy-Authorization", b"Basic eA=="),
        (b"Proxy-Authenticate", b"Basic"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"x-hop", b"1"),
        (b"X-Other", b"2"),
        (b"X-Kept", b"3"),
        (b"Accept", b"*/*"),
    ]
    assert strip_hop_by_hop(headers) == [(b"X-Kept", b"3"), (b"Accept", b"*/*")]


def test_request_drops_hop_by_hop_and_keeps_the_rest_in_order() -> None:
    grouped, headers = request(
        [
            (b"host", b"example.test"),
            (b"accept", b"*/*"),
            (b"connection", b"keep-alive, x-hop"),
            (b"keep-alive", b"300"),
            (b"x-hop", b"1"),
            (b"te", b"trailers"),
            (b"trailer", b"x-sum"),
            (b"proxy-authorization", b"Basic eA=="),
            (b"proxy-connection", b"keep-alive"),
            (b"expect", b"100-continue"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
        ]
    )
    names = [name for name, _ in headers]
    assert names[:4] == [b"host", b"accept", b"cookie", b"cookie"]
    assert grouped[b"cookie"] == [b"a=1", b"b=2"]
    for gone in (*HOP_BY_HOP, b"x-hop", b"expect"):
        assert gone not in grouped


# -- forwarding headers -------------------------------------------------------------------------


def test_untrusted_peer_forwarding_headers_are_replaced() -> None:
    grouped, _ = request(
        [
            (b"host", b"example.test"),
            (b"x-forwarded-for", b"6.6.6.6"),
            (b"forwarded", b"for=6.6.6.6"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-host", b"evil.test"),
        ]
    )
    assert grouped[b"host"] == [b"example.test"]
    assert grouped[b"x-forwarded-for"] == [b"198.51.100.4"]
    assert grouped[b"forwarded"] == [b"for=198.51.100.4;proto=http;host=example.test"]
    assert grouped[b"x-forwarded-proto"] == [b"http"]
    assert grouped[b"x-forwarded-host"] == [b"example.test"]


def test_trusted_peer_lists_are_appended_to_and_its_proto_and_host_kept() -> None:
    grouped, _ = request(
        [
            (b"host", b"internal:8080"),
            (b"x-forwarded-for", b"203.0.113.9, 10.0.0.2"),
            (b"x-forwarded-for", b"10.0.0.3"),
            (b"forwarded", b"for=203.0.113.9;proto=https"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-host", b"www.example.test"),
        ],
        ip="10.0.0.4",
        trusted=True,
    )
    assert grouped[b"x-forwarded-for"] == [b"203.0.113.9, 10.0.0.2, 10.0.0.3, 10.0.0.4"]
    assert grouped[b"forwarded"] == [b'for=203.0.113.9;proto=https, for=10.0.0.4;proto=http;host="internal:8080"']
    assert grouped[b"x-forwarded-proto"] == [b"https"]
    assert grouped[b"x-forwarded-host"] == [b"www.example.test"]
    assert grouped[b"host"] == [b"internal:8080"]


def test_trusted_peer_without_forwarding_headers_starts_the_lists() -> None:
    grouped, _ = request([(b"host", b"example.test")], trusted=True, proto=b"https")
    assert grouped[b"x-forwarded-for"] == [b"198.51.100.4"]
    assert grouped[b"forwarded"] == [b"for=198.51.100.4;proto=https;host=example.test"]
    assert grouped[b"x-forwarded-proto"] == [b"https"]


def test_ipv6_client_is_bracketed_and_quoted_in_forwarded_only() -> None:
    grouped, _ = request([(b"host", b"example.test")], ip="2001:db8::1")
    assert grouped[b"x-forwarded-for"] == [b"2001:db8::1"]
    assert grouped[b"forwarded"] == [b'for="[2001:db8::1]";proto=http;host=example.test']


def test_unknown_client_and_missing_host() -> None:
    grouped, headers = request([(b"accept", b"*/*")], ip=None)
    assert headers[0] == (b"host", b"upstream:9000")
    assert grouped[b"x-forwarded-for"] == [b"unknown"]
    assert grouped[b"forwarded"] == [b"for=unknown;proto=http"]
    assert b"x-forwarded-host" not in grouped


def test_first_host_header_wins_and_goes_first() -> None:
    _, headers = request([(b"accept", b"*/*"), (b"host", b"one.test"), (b"host", b"two.test")])
    assert headers[0] == (b"host", b"one.test")
    assert [value for name, value in headers if name == b"host"] == [b"one.test"]


def test_connection_can_mark_forwarding_headers_as_hop_by_hop() -> None:
    grouped, _ = request(
        [(b"host", b"h"), (b"connection", b"X-Forwarded-For"), (b"x-forwarded-for", b"6.6.6.6")], trusted=True
    )
    assert grouped[b"x-forwarded-for"] == [b"198.51.100.4"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"example.test", b"example.test"),
        (b"example.test:8080", b'"example.test:8080"'),
        (b"[2001:db8::1]:443", b'"[2001:db8::1]:443"'),
        (b'a"b\\c', b'"a\\"b\\\\c"'),
        (b"", b'""'),
    ],
)
def test_forwarded_values_are_tokens_or_quoted_strings(value: bytes, expected: bytes) -> None:
    assert forwarded_value(value) == expected


def test_forwarded_node_and_element() -> None:
    assert forwarded_node("192.0.2.1") == b"192.0.2.1"
    assert forwarded_node("::1") == b'"[::1]"'
    assert forwarded_node(None) == b"unknown"
    assert forwarded_element("::1", b"https", None) == b'for="[::1]";proto=https'


# -- framing ------------------------------------------------------------------------------------


def test_content_length_is_passed_through() -> None:
    result = upstream_request(
        [(b"host", b"h"), (b"content-length", b"42")], client_ip=None, trusted=False, proto=b"http", default_host=b"u"
    )
    assert (result.content_length, result.chunked, result.bad_length) == (42, False, False)
    assert (b"content-length", b"42") in result.headers


def test_transfer_encoding_wins_over_content_length() -> None:
    result = upstream_request(
        [(b"host", b"h"), (b"content-length", b"42"), (b"transfer-encoding", b"chunked")],
        client_ip=None,
        trusted=False,
        proto=b"http",
        default_host=b"u",
    )
    assert (result.content_length, result.chunked) == (None, True)
    names = [name for name, _ in result.headers]
    assert b"content-length" not in names
    assert b"transfer-encoding" not in names  # the proxy frames the body itself


@pytest.mark.parametrize("lengths", [[b"12, 12"], [b"-1"], [b"1e3"], [b"12", b"12"], [b"99999999999999999999"]])
def test_bad_content_length_is_flagged(lengths: list[bytes]) -> None:
    headers = [(b"host", b"h"), *((b"content-length", v) for v in lengths)]
    result = upstream_request(headers, client_ip=None, trusted=False, proto=b"http", default_host=b"u")
    assert result.bad_length
    assert result.content_length is None


@pytest.mark.parametrize(
    ("upgrade", "expected"), [(b"websocket", True), (b"h2c", False), (b"h2c, websocket", True), (b"foo/2", True)]
)
def test_upgrade_requests_are_recognised_but_h2c_is_ignored(upgrade: bytes, expected: bool) -> None:
    headers = [(b"host", b"h"), (b"connection", b"Upgrade"), (b"upgrade", upgrade)]
    result = upstream_request(headers, client_ip=None, trusted=False, proto=b"http", default_host=b"u")
    assert result.upgrade is expected
    assert b"upgrade" not in [name for name, _ in result.headers]


# -- responses ----------------------------------------------------------------------------------


def test_response_headers_drop_hop_by_hop_date_and_listed_ones() -> None:
    headers, close, framed = response_headers(
        [
            (b"Content-Type", b"text/plain"),
            (b"Connection", b"close, X-Secret"),
            (b"X-Secret", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"Date", b"Tue, 01 Dec 2026 20:00:00 GMT"),
            (b"Proxy-Authenticate", b"Basic"),
            (b"Content-Length", b"3"),
        ]
    )
    assert headers == [(b"content-type", b"text/plain"), (b"content-length", b"3")]
    assert (close, framed) == (True, True)


@pytest.mark.parametrize(
    ("headers", "framed"),
    [
        ([(b"Transfer-Encoding", b"chunked")], True),
        ([(b"Transfer-Encoding", b"gzip, chunked")], True),
        ([(b"Transfer-Encoding", b"gzip")], False),
        ([(b"Content-Length", b"0")], True),
        ([], False),
    ],
)
def test_response_framing(headers: Headers, framed: bool) -> None:
    out, close, is_framed = response_headers(headers)
    assert is_framed is framed
    assert close is False
    assert all(name != b"transfer-encoding" for name, _ in out)


names = st.sampled_from([b"host", b"x-a", b"connection", b"te", b"x-forwarded-for", b"forwarded", b"keep-alive"])
values = st.binary(min_size=0, max_size=12).filter(lambda v: b"\r" not in v and b"\n" not in v)


@given(st.lists(st.tuples(names, values), max_size=12), st.booleans())
def test_no_hop_by_hop_header_ever_reaches_the_upstream(headers: Headers, trusted: bool) -> None:
    result = upstream_request(headers, client_ip="192.0.2.1", trusted=trusted, proto=b"http", default_host=b"u")
    out = [name for name, _ in result.headers]
    assert not HOP_BY_HOP & set(out)
    assert out.count(b"host") == 1
    assert out.count(b"x-forwarded-for") == 1
    assert out.count(b"forwarded") == 1
