"""Each proxy's check request read as the original request, from that style's headers only."""

from __future__ import annotations

import pytest

from stockade.decision.styles import ENVOY, FORWARD, INGRESS_NGINX, NGINX, Original, original_request, style_for
from stockade.errors import BadCheck, BadRequest


def headers(**named: str) -> list[tuple[bytes, bytes]]:
    return [(name.replace("_", "-").lower().encode(), value.encode()) for name, value in named.items()]


def test_the_check_path_chooses_the_style() -> None:
    assert style_for(b"/nginx") == (NGINX, b"")
    assert style_for(b"/ingress-nginx") == (INGRESS_NGINX, b"")
    assert style_for(b"/forward?rd=x") == (FORWARD, b"")  # Caddy keeps the original query on its rewrite
    assert style_for(b"/envoy/admin/x?a=1") == (ENVOY, b"/admin/x?a=1")
    assert style_for(b"/envoy*") == (ENVOY, b"*")
    for other in (b"/", b"/nginxx", b"/nginx/", b"/envoy", b"/envoyx/y", b"/Forward", b"/auth"):
        assert style_for(other) is None, other


def test_nginx_reads_x_original_and_the_host_header() -> None:
    given = headers(
        host="Shop.Example.COM",
        x_original_uri="/a/b?x=1",
        x_original_method="POST",
        x_forwarded_proto="https",
        x_forwarded_for="203.0.113.7",
        user_agent="curl/8",
        content_length="",
    )
    original = original_request(NGINX, "GET", b"", given)
    assert original == Original(
        "POST",
        b"/a/b",
        b"x=1",
        "https",
        [(b"host", b"Shop.Example.COM"), (b"x-forwarded-for", b"203.0.113.7"), (b"user-agent", b"curl/8")],
    )


def test_a_style_never_reads_another_styles_headers() -> None:
    # Through Caddy the client's own X-Original-URI reaches the endpoint: /forward must not read it.
    given = headers(
        x_forwarded_method="GET",
        x_forwarded_uri="/secure/",
        x_forwarded_host="example.com",
        x_original_uri="/harmless",
        x_original_method="OPTIONS",
    )
    original = original_request(FORWARD, "GET", b"", given)
    assert (original.method, original.target) == ("GET", b"/secure/")
    # ... and the client's X-Original-* stay ordinary headers of the original request.
    assert (b"x-original-uri", b"/harmless") in original.headers
    with pytest.raises(BadCheck, match="no X-Original-Method header"):
        original_request(NGINX, "GET", b"", headers(x_forwarded_uri="/secure/", x_forwarded_method="GET"))


def test_forward_takes_host_and_scheme_from_x_forwarded() -> None:
    given = headers(
        host="127.0.0.1:9190",
        x_forwarded_method="DELETE",
        x_forwarded_uri="/api/item/7?force=1",
        x_forwarded_host="api.example.com",
        x_forwarded_proto="https",
    )
    original = original_request(FORWARD, "GET", b"", given)
    assert (original.method, original.target, original.query, original.scheme) == (
        "DELETE",
        b"/api/item/7",
        b"force=1",
        "https",
    )
    assert original.headers == [(b"host", b"api.example.com")]  # the check's own Host is not the original's


def test_ingress_nginx_reads_the_absolute_x_original_url() -> None:
    given = headers(
        host="stockade.default.svc",
        x_original_url="https://app.example.com:8443/login?next=%2F",
        x_original_method="GET",
        x_sent_from="nginx-ingress-controller",
        x_auth_request_redirect="/login?next=%2F",
        x_real_ip="203.0.113.7",
    )
    original = original_request(INGRESS_NGINX, "GET", b"", given)
    assert (original.scheme, original.target, original.query) == ("https", b"/login", b"next=%2F")
    assert original.headers == [(b"x-real-ip", b"203.0.113.7"), (b"host", b"app.example.com:8443")]
    for bad in ("app.example.com/login", "ftp://h/x", "http://host-without-path"):
        with pytest.raises(BadCheck, match="X-Original-URL"):
            original_request(INGRESS_NGINX, "GET", b"", headers(x_original_url=bad, x_original_method="GET"))


def test_envoy_appends_the_original_target_and_keeps_the_headers() -> None:
    given = headers(host="shop.example.com", x_forwarded_proto="http", authorization="Basic eA==")
    original = original_request(ENVOY, "PUT", b"/cart?id=3", given)
    assert (original.method, original.target, original.query, original.scheme) == ("PUT", b"/cart", b"id=3", "http")
    assert original.headers == [(b"host", b"shop.example.com"), (b"authorization", b"Basic eA==")]


def test_repeated_or_empty_question_headers_are_refused() -> None:
    doubled = [(b"x-original-uri", b"/a"), (b"x-original-uri", b"/b"), (b"x-original-method", b"GET")]
    with pytest.raises(BadCheck, match="several X-Original-URI headers"):
        original_request(NGINX, "GET", b"", doubled)
    with pytest.raises(BadCheck, match="no X-Forwarded-Method header"):
        original_request(FORWARD, "GET", b"", headers(x_forwarded_method=" ", x_forwarded_uri="/"))
    two_hosts = [
        *headers(x_forwarded_method="GET", x_forwarded_uri="/"),
        (b"x-forwarded-host", b"a"),
        (b"X-Forwarded-Host", b"b"),
    ]
    with pytest.raises(BadCheck, match="several X-Forwarded-Host headers"):
        original_request(FORWARD, "GET", b"", two_hosts)


def test_a_method_that_is_not_one_is_a_bad_original_request() -> None:
    for method in ("GET /", "G\x00T", "G(T", "A" * 40):
        with pytest.raises(BadRequest, match="not an HTTP method"):
            original_request(FORWARD, "GET", b"", headers(x_forwarded_method=method, x_forwarded_uri="/"))
    with pytest.raises(BadRequest, match="not an HTTP method"):
        original_request(ENVOY, "", b"/", [])


def test_the_first_hop_scheme_counts() -> None:
    given = headers(x_original_uri="/", x_original_method="GET", x_forwarded_proto="HTTPS, http")
    assert original_request(NGINX, "GET", b"", given).scheme == "https"
    assert original_request(NGINX, "GET", b"", headers(x_original_uri="/", x_original_method="GET")).scheme == "http"
