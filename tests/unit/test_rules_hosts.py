"""The host table: exact hosts, wildcards, case, ports, the default product, and its configuration errors."""

from __future__ import annotations

import pytest

from stockade.errors import ConfigError
from stockade.rules.hosts import HostTable, strip_port


def test_exact_hosts_ignore_case_port_and_a_trailing_dot() -> None:
    hosts = HostTable({"n.example.org": "example_product", "[::1]": "local"})
    assert hosts.product("n.example.org") == "example_product"
    assert hosts.product("N.EXAMPLE.ORG:8080") == "example_product"
    assert hosts.product("n.example.org.") == "example_product"
    assert hosts.product("[::1]:8443") == "local"
    assert hosts.product("other.example.org") is None
    assert hosts.product("") is None


def test_wildcards_match_any_depth_below_but_not_the_name_itself() -> None:
    hosts = HostTable({"*.example.com": "shop", "*.eu.example.com": "shop-eu", "www.example.com": "www"})
    assert hosts.product("a.example.com") == "shop"
    assert hosts.product("a.b.example.com") == "shop"
    assert hosts.product("x.eu.example.com") == "shop-eu"  # the longer wildcard wins
    assert hosts.product("eu.example.com") == "shop"
    assert hosts.product("WWW.Example.Com") == "www"  # an exact host wins
    assert hosts.product("example.com") is None
    assert hosts.product("badexample.com") is None


def test_the_default_product_names_every_other_host() -> None:
    hosts = HostTable({"a.org": "a"}, default_product="web")
    assert hosts.product("a.org") == "a"
    assert hosts.product("b.org") == "web"
    assert hosts.product("") == "web"


def test_case_folds_like_go_for_non_ascii_names() -> None:
    hosts = HostTable({"ÉCOLE.fr": "ecole"})
    assert hosts.product("école.FR") == "ecole"


@pytest.mark.parametrize(
    ("host", "stripped"),
    [("a.b", "a.b"), ("a.b:80", "a.b"), ("[::1]:80", "[::1]"), ("[::1]", "[::1]"), ("::1", "::1"), ("a:", "a")],
)
def test_strip_port(host: str, stripped: str) -> None:
    assert strip_port(host) == stripped


def test_every_configuration_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        HostTable(
            {"a.*.com": "x", "b.com:80": "x", "": "x", "c.com": "", "*.": "x", "d.com": "1", "D.COM": "2"},
            default_product="",
        )
    text = str(caught.value)
    assert text.splitlines()[0] == "7 problems:"
    assert "block.hosts.'a.*.com': '*' is only allowed as the first label" in text
    assert "block.hosts.'b.com:80': a host pattern has no port" in text
    assert "block.hosts.'c.com': the product must be a non-empty string (got '')" in text
    assert "block.hosts.'D.COM': the same host is mapped to '1' already (got '2')" in text
    assert "block.hosts.default_product: must be a non-empty string (got '')" in text


def test_repr_and_len() -> None:
    hosts = HostTable({"a.org": "a", "*.b.org": "b"}, default_product="web")
    assert len(hosts) == 2
    assert repr(hosts) == "<HostTable 1 hosts, 1 wildcards, default 'web'>"
