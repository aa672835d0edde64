"""The fronts' mod_block check reads the native canonical request, and decides as before.

``from_asgi`` and ``from_wsgi`` keep the canonicaliser's :class:`CanonicalRequest` on the
``Incoming`` they return; the native table then reads the request from it in one call.
The decisions and counters must be the ones of the same ``Incoming`` read part by part
(``native`` taken away) and of the Python oracle, for any rules and any request; and a
request decided from the handle must not build its facts unless a rule reads what only the
facts know (the time).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stockade._native import CanonicalRequest
from stockade.conditions import compile_condition
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.errors import BadRequest
from stockade.request.asgi import from_asgi
from stockade.request.hosts import canonical_host
from stockade.request.incoming import Incoming, TlsFacts
from stockade.request.paths import DEFAULT_POLICY
from stockade.request.wsgi import from_wsgi
from stockade.rules import BlockRule, BlockTable, RuleSet
from stockade.rules.decision import PASS, BlockDecision
from stockade.rules.oracle import PythonBlockTable
from tests.unit.test_native_block import REQUEST_PRODUCTS, rule_sets
from tests.unit.test_native_conditions import NOW, requests

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RESOLVERS = {
    "none": ClientIpResolver(TrustedProxies()),
    "all": ClientIpResolver(TrustedProxies(networks=("0.0.0.0/0", "::/0"))),
}


class CountingClock:
    """A fixed clock that counts its reads: the fronts read it only to build the facts."""

    def __init__(self, now: float = NOW) -> None:
        self.reads = 0
        self._now = now

    def now(self) -> float:
        self.reads += 1
        return self._now


def header_lines(request: dict[str, object]) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for name, value in dict(request.get("headers", {})).items():  # type: ignore[call-overload]
        for one in value if isinstance(value, list) else [value]:
            lines.append((str(name), str(one)))
    if request.get("host"):
        lines.insert(0, ("Host", str(request["host"])))
    return lines


def wire(text: str) -> bytes:
    """Text as a server receives it: Latin-1 where it can be, else its UTF-8 bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def sendable(request: dict[str, object]) -> dict[str, object]:
    """The request with what no front accepts made plain: a path from the root, percent-encoded
    on the wire, and no ``Host`` when it names no host (the conditions still see odd paths,
    queries, headers and cookies)."""
    path = str(request.get("path") or "/")
    sent = {**request, "path": path if path.startswith("/") else "/" + path}
    try:
        canonical_host(wire(str(request.get("host") or "")))
    except BadRequest:
        sent["host"] = ""
    return sent


def asgi_scope(request: dict[str, object], forwarded: str | None) -> dict[str, Any]:
    tls = dict(request.get("tls") or {})  # type: ignore[call-overload]
    headers = [(name.lower().encode("latin-1"), wire(value)) for name, value in header_lines(request)]
    if forwarded is not None:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    extensions: dict[str, Any] = {}
    if tls.get("sni") is not None or tls.get("client_auth"):
        extensions["tls"] = {
            "server_name": tls.get("sni"),
            "client_cert_chain": ["x"] if tls.get("client_auth") else [],
        }
    return {
        "type": "http",
        "method": str(request.get("method") or "GET"),
        "path": str(request.get("path") or "/"),
        "raw_path": quote(str(request.get("path") or "/"), safe="/%").encode(),
        "query_string": wire(str(request.get("query", ""))),
        "headers": headers,
        "http_version": "2" if request.get("session_proto") == "h2" else "1.1",
        "scheme": "https" if request.get("secure") else "http",
        "client": (str(request.get("remote_ip") or "127.0.0.1"), 5000),
        "server": (str(request["vip"]), 443) if request.get("vip") else None,
        "extensions": extensions,
    }


def wsgi_environ(request: dict[str, object], forwarded: str | None) -> dict[str, Any]:
    query = wire(str(request.get("query", ""))).decode("latin-1")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": str(request.get("method") or "GET"),
        "RAW_URI": quote(str(request.get("path") or "/"), safe="/%") + ("?" + query if query else ""),
        "PATH_INFO": str(request.get("path") or "/"),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": str(request.get("proto") or "HTTP/1.1"),
        "REMOTE_ADDR": str(request.get("remote_ip") or "127.0.0.1"),
        "wsgi.url_scheme": "https" if request.get("secure") else "http",
    }
    for name, value in header_lines(request):
        key = "HTTP_" + name.upper().replace("-", "_")
        text = wire(value).decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    return environ


def incoming_of(kind: str, request: dict[str, object], resolver: str, forwarded: str | None, tls: bool) -> Incoming:
    """The request through a front; raises BadRequest when it has no canonical form."""
    request = sendable(request)
    clock = CountingClock()
    facts = dict(request.get("tls") or {})  # type: ignore[call-overload]
    if kind == "asgi":
        given_tls = TlsFacts(
            sni=facts.get("sni"), client_auth=bool(facts.get("client_auth")), client_ca=facts.get("client_ca")
        )
        incoming = from_asgi(
            asgi_scope(request, forwarded),
            policy=DEFAULT_POLICY,
            resolver=RESOLVERS[resolver],
            clock=clock,
            tls=given_tls if tls else None,
        )
    else:
        incoming = from_wsgi(
            wsgi_environ(request, forwarded), policy=DEFAULT_POLICY, resolver=RESOLVERS[resolver], clock=clock
        )
    body = request.get("body")
    if isinstance(body, str):
        incoming.give_body(body.encode("utf-8"))
    return incoming


FRONTS = st.tuples(
    st.sampled_from(["asgi", "wsgi"]),
    st.sampled_from(list(RESOLVERS)),
    st.sampled_from([None, "1.2.3.4", "2001:db8::1", "bad"]),
    st.booleans(),
)


@SETTINGS
@given(rule_sets(), st.lists(st.tuples(requests(), REQUEST_PRODUCTS, FRONTS), min_size=1, max_size=5))
def test_the_native_request_gets_the_decision_of_the_request_read_part_by_part(
    rules: RuleSet, steps: list[tuple[dict[str, object], str | None, tuple[str, str, str | None, bool]]]
) -> None:
    table, parts_table, oracle = BlockTable(rules), BlockTable(rules), PythonBlockTable(rules)
    checked = 0
    for request, product, (kind, resolver, forwarded, tls) in steps:
        try:
            native, by_parts, python = (incoming_of(kind, request, resolver, forwarded, tls) for _ in range(3))
        except BadRequest:  # no front would pass it on: nothing to decide
            continue
        checked += 1
        assert isinstance(native.native, CanonicalRequest)
        by_parts.native = python.native = None
        expected = oracle.check_request(python, product)
        assert parts_table.check_request(by_parts, product) == expected, (kind, request, product)
        assert table.check_request(native, product) == expected, (kind, request, product)
        assert table.counters.snapshot() == oracle.counters.snapshot()
    assume(checked)


def check_rules() -> BlockTable:
    texts = {
        "query": 'req_query_key_in("debug")',
        "cookie": 'req_cookie_value_in("role", "admin", false)',
        "client": 'req_cip_range("10.0.0.0", "10.0.0.255")',
        "agent": 'req_ua_regmatch("(?i)sqlmap")',
        "secure": 'req_proto_secure() && req_path_prefix_in("/admin", false)',
        "uri": "req_url_regmatch(`/x\\?y=1`)",
        "body": 'req_body_json_in("model", "gpt-4", false)',
        "vip": 'req_vip_in("192.0.2.80")',
        "sni": 'ses_tls_sni_in("blocked.example")',
    }
    rules = [BlockRule(name, compile_condition(text), "CLOSE") for name, text in texts.items()]
    rules.append(BlockRule("late", compile_condition('bfe_time_range("20000101000000Z", "20010101000000Z")'), "CLOSE"))
    return BlockTable(RuleSet.build({"global": rules}))


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_fronts_decide_from_the_native_request_without_building_facts(kind: str) -> None:
    table = check_rules()
    cases: list[tuple[dict[str, object], BlockDecision]] = [
        ({"path": "/", "query": "a=1"}, PASS),
        ({"path": "/", "query": "debug=1"}, BlockDecision("close", "query")),
        ({"path": "/", "headers": {"Cookie": "role=admin"}}, BlockDecision("close", "cookie")),
        ({"path": "/", "remote_ip": "10.0.0.7"}, BlockDecision("close", "client")),
        ({"path": "/", "headers": {"User-Agent": "SQLMap/1"}}, BlockDecision("close", "agent")),
        ({"path": "/admin/x", "secure": True}, BlockDecision("close", "secure")),
        ({"path": "/admin/x"}, PASS),
        ({"path": "/x", "query": "y=1"}, BlockDecision("close", "uri")),
        ({"path": "/", "body": '{"model": "gpt-4"}'}, BlockDecision("close", "body")),
    ]
    if kind == "asgi":  # the local address and the TLS facts: ASGI's scope has them, WSGI's environ not
        cases.append(({"path": "/", "vip": "192.0.2.80"}, BlockDecision("close", "vip")))
        sni = {"path": "/", "secure": True, "tls": {"sni": "blocked.example"}}
        cases.append((sni, BlockDecision("close", "sni")))
    for request, expected in cases:
        clock = CountingClock()
        scope_or_environ: Any
        if kind == "asgi":
            scope_or_environ = asgi_scope(request, None)
            incoming = from_asgi(scope_or_environ, policy=DEFAULT_POLICY, resolver=RESOLVERS["none"], clock=clock)
        else:
            scope_or_environ = wsgi_environ(request, None)
            incoming = from_wsgi(scope_or_environ, policy=DEFAULT_POLICY, resolver=RESOLVERS["none"], clock=clock)
        if "body" in request:
            incoming.give_body(str(request["body"]).encode())
        assert isinstance(incoming.native, CanonicalRequest)
        before = clock.reads
        assert table.check_request(incoming, None) == expected, request
        # Only the time rule, tried last, needs the facts: a decided request never built them.
        assert clock.reads == before + (1 if expected is PASS else 0), request


def test_without_the_native_request_the_facts_are_built() -> None:
    table = check_rules()
    clock = CountingClock()
    incoming = from_asgi(
        asgi_scope({"path": "/", "query": "debug=1"}, None),
        policy=DEFAULT_POLICY,
        resolver=RESOLVERS["none"],
        clock=clock,
    )
    incoming.native = None
    assert table.check_request(incoming, None) == BlockDecision("close", "query")
    assert clock.reads == 1  # the part-by-part reader builds the facts for the query
