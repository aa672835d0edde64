"""Benchmark compiled conditions and an indexed list of 100 block rules.

Speed is measured, not asserted: every figure is printed next to its ratio to ONE plain
Python function call (``def f(x): return x``) timed by the same harness in the same run,
so the ratios compare across machines and interpreters while the raw nanoseconds do not.
Targets: a 3-term condition costs at most 5 calls; 100 non-matching rules at most 150.

The native evaluator (``stockade._native``, what decides in production) is measured three
ways: in one native loop (evaluation alone: no Python call per evaluation), called from
Python with a request already in native memory (what a native request will cost), and
called with warm Python facts that it reads part by part. The
``mod_block`` rows run the whole request check of a table whose ``global`` list is mix A,
native and Python (the oracle), counters included. The ``front`` rows decide fresh
requests as the ASGI front hands them over (``from_asgi``, untimed): read from the native
canonical request the front keeps (``Incoming.native``), read part by part from the
``Incoming`` and the facts it builds on demand (``native`` taken away), and by the Python
oracle.

The harness works like :mod:`timeit`: a setup builds the arguments (untimed) and returns a
body that performs ``n`` evaluations in a plain ``for`` loop, with the garbage collector off;
the best of several repeats is kept, and the baseline runs right before every benchmark of
every repeat so that a noisy neighbour cannot skew the ratios. Loop overhead is part of
every figure, the baseline's included.

"warm" facts have their derived values (host without port, parsed query, cookies) already
computed, as they are for every rule after the first; "cold" facts are fresh, so the first
evaluation pays for those values, as each request does once.

Run it with ``python bench/conditions.py`` (``--scale 0.2`` for a quick look). The last line
of the output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stockade._native import Condition as NativeCondition
from stockade._native import NativeRequest, RuleIndex, _time_native
from stockade.clock import SystemClock
from stockade.conditions import Condition, RuleList, compile_condition
from stockade.conditions.lowering import lowered
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.core.facts import RequestFacts
from stockade.request.asgi import from_asgi
from stockade.request.paths import DEFAULT_POLICY
from stockade.rules import BlockRule, BlockTable, RuleSet
from stockade.rules.oracle import PythonBlockTable

Body = Callable[[], object]
Setup = Callable[[int], Body]

THREE_TERMS = 'req_host_in("n.example.org") && req_path_prefix_in("/index/", false) && req_query_key_in("space")'
THREE_TERMS_MATCH: dict[str, object] = {"host": "n.example.org", "path": "/index/a", "query": "space=1"}
THREE_TERMS_MISS: dict[str, object] = {"host": "www.example.com", "path": "/", "query": ""}

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

# Realistic requests that none of the 100 rules match.
REQUESTS: list[dict[str, object]] = [
    {
        "method": "GET",
        "host": "www.example.com",
        "path": "/products/shoes",
        "query": "color=red&size=42&page=2",
        "headers": {"User-Agent": BROWSER, "Accept": "text/html", "Referer": "https://www.example.com/"},
        "cookies": {"session": "a1b2c3d4", "lang": "en"},
        "client_ip": "203.0.113.7",
    },
    {
        "method": "POST",
        "host": "api.example.com",
        "path": "/v2/orders",
        "headers": {"User-Agent": "okhttp/4.12.0", "Content-Type": "application/json", "Authorization": "Bearer x"},
        "client_ip": "198.51.100.23",
        "body": '{"model": "gpt-4", "items": [1, 2]}',
    },
    {
        "method": "GET",
        "host": "shop07.example.com:443",
        "path": "/cart",
        "query": "ref=mail",
        "headers": {"User-Agent": BROWSER},
        "cookies": {"session": "zzz"},
        "client_ip": "2001:db8::42",
        "secure": True,
        "session_proto": "https",
    },
    {
        "method": "HEAD",
        "host": "static.example.net",
        "path": "/assets/app.js",
        "headers": {"User-Agent": "curl/8.5.0"},
        "client_ip": "192.0.2.200",
    },
]


# Five rules of mix A swapped for the costlier primitives: regular expressions and a hash.
HEAVY = {
    "trace": ("union-select", 'req_query_value_regmatch("id", `(?i)union.+select`)'),
    "cmd-query": ("traversal", "req_url_regmatch(`\\.\\./|%2e%2e`)"),
    "spam-referer": ("big-xff", 'req_header_value_regmatch("X-Forwarded-For", `([^,]*,){10}`)'),
    "bot-query": ("hash-ip", 'req_cip_hash_in("9990-9999") && req_method_in("DELETE")'),
    "tld": ("host-re", "req_host_regmatch(`^(xn--|[0-9]+\\.)`)"),
}


def heavy_rules() -> list[tuple[str, str]]:
    """Mix B: mix A with five of its "always" rules replaced by regular expressions and a hash."""
    return [HEAVY.get(name, (name, text)) for name, text in hundred_rules()]


def hundred_rules() -> list[tuple[str, str]]:
    """Mix A: 100 rules of the kinds real BFE block rules use; none matches REQUESTS."""
    rules: list[tuple[str, str]] = []
    # 40 host-scoped rules.
    for i in range(20):
        host = f"shop{i:02d}.example.com"
        rules.append((f"shop{i}-admin", f'req_host_in("{host}") && req_path_prefix_in("/admin|/wp-admin", false)'))
        rules.append(
            (
                f"shop{i}-scrapers",
                f'req_host_in("{host}|m.{host}") && req_ua_regmatch(`(?i)python-requests|scrapy|httpclient`)',
            )
        )
    # 25 path-scoped rules.
    sensitive = ["/.git/", "/.env", "/phpmyadmin", "/wp-login.php", "/cgi-bin/", "/server-status", "/actuator"]
    for i in range(25):
        prefix = sensitive[i % len(sensitive)] + ("" if i < len(sensitive) else f"{i}")
        if i % 3 == 0:
            rules.append((f"path-{i}", f'req_path_prefix_in("{prefix}", false)'))
        elif i % 3 == 1:
            rules.append((f"path-{i}", f'req_path_prefix_in("{prefix}", false) && req_method_in("POST|PUT")'))
        else:
            rules.append(
                (f"path-{i}", f'req_path_prefix_in("{prefix}", false) && !req_cip_range("10.0.0.0", "10.255.255.255")')
            )
    # 35 rules that no index can skip.
    for i in range(12):
        rules.append((f"range-{i}", f'req_cip_range("100.{64 + i}.0.0", "100.{64 + i}.255.255")'))
    rules += [
        ("bad-ua", "req_ua_regmatch(`(?i)sqlmap|nikto|masscan|zgrab`)"),
        ("no-ua-post", '!req_header_key_in("User-Agent") && req_method_in("POST")'),
        ("trace", 'req_method_in("TRACE|TRACK|CONNECT")'),
        ("attack-header", 'req_header_key_in("X-Attack|X-Scanner")'),
        ("cmd-query", 'req_query_key_in("cmd|exec|shell")'),
        ("debug-query", 'req_query_key_in("debug") && !req_cip_range("10.0.0.0", "10.255.255.255")'),
        ("spam-referer", 'req_header_value_contain("Referer", "casino|viagra", true)'),
        ("evil-cookie", 'req_cookie_value_in("session", "deadbeef|evil", false)'),
        ("php-post", 'req_path_suffix_in(".php|.asp|.aspx", false) && req_method_in("POST")'),
        ("old-proto", 'req_proto_match("HTTP/1.0") && req_method_in("POST")'),
        ("bot-query", 'req_query_value_in("bot", "1|true", true)'),
        ("no-accept", '!req_header_key_in("Accept") && req_method_in("PUT|DELETE|PATCH")'),
        ("sni", 'req_proto_secure() && ses_tls_sni_in("blocked.example.org")'),
        ("vip", 'req_vip_in("192.0.2.1|192.0.2.2")'),
        ("tld", 'req_host_suffix_in(".invalid|.test")'),
        ("lang-cookie", 'req_cookie_value_prefix_in("lang", "xx", false)'),
        ("ct-xml", 'req_header_value_prefix_in("Content-Type", "application/xml", true) && req_method_in("POST")'),
        ("path-contain", 'req_path_contain("/../|/etc/passwd", false)'),
        ("api-v0", 'req_path_element_prefix_in("/v0", false)'),
        ("json-model", 'req_body_json_prefix_in("model", "evil/", false)'),
        ("tag", 'req_tag_match("clientIP", "blocklist")'),
        ("admin-ip", 'req_header_value_in("X-Admin", "1", false) && !req_cip_range("10.0.0.0", "10.0.255.255")'),
        ("post-flood", 'req_method_in("POST") && req_header_value_in("Content-Length", "0", false)'),
    ]
    return rules


# -- the harness ---------------------------------------------------------------------------


def ns_per_op(setup: Setup, n: int) -> float:
    """One timed run of ``setup(n)``'s body, with the garbage collector off, in nanoseconds per operation."""
    body = setup(n)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        body()
        elapsed = time.perf_counter_ns() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / n


def identity(x: object) -> object:
    return x


def calls(function: Callable[[Any], object], make_args: Callable[[int], list[Any]]) -> Setup:
    """A setup whose body calls ``function`` once per argument."""

    def setup(n: int) -> Body:
        args = make_args(n)

        def body() -> None:
            f = function
            for x in args:
                f(x)

        return body

    return setup


def warm(requests: list[dict[str, object]], test: Callable[[RequestFacts], object]) -> Callable[[int], list[Any]]:
    facts = [RequestFacts.from_vector(r) for r in requests]
    for f in facts:  # compute the derived values once
        test(f)
    return lambda n: list(itertools.islice(itertools.cycle(facts), n))


def cold(requests: list[dict[str, object]]) -> Callable[[int], list[Any]]:
    return lambda n: [RequestFacts.from_vector(requests[i % len(requests)]) for i in range(n)]


def native_requests(requests: list[dict[str, object]]) -> Callable[[int], list[Any]]:
    natives = [NativeRequest.from_facts(RequestFacts.from_vector(r)) for r in requests]
    return lambda n: list(itertools.islice(itertools.cycle(natives), n))


def native_loop(target: NativeCondition | RuleIndex, requests: list[dict[str, object]]) -> Setup:
    """A setup whose body evaluates ``target`` n times inside native loops (one per request)."""
    natives = [NativeRequest.from_facts(RequestFacts.from_vector(r)) for r in requests]

    def setup(n: int) -> Body:
        each = max(1, n // len(natives))

        def body() -> None:
            for request in natives:
                _time_native(target, request, each)

        return body

    return setup


def block_check(table: BlockTable | PythonBlockTable, make_args: Callable[[int], list[Any]]) -> Setup:
    """A setup whose body runs the whole mod_block request check for each argument."""

    def setup(n: int) -> Body:
        args = make_args(n)
        check = table.check_request

        def body() -> None:
            for x in args:
                check(x, None)

        return body

    return setup


def asgi_scope(request: dict[str, object]) -> dict[str, Any]:
    """The ASGI scope a server makes of one of :data:`REQUESTS`."""
    headers = [(b"host", str(request["host"]).encode())]
    headers += [(str(k).lower().encode(), str(v).encode()) for k, v in dict(request.get("headers", {})).items()]  # type: ignore[call-overload]
    cookies = dict(request.get("cookies", {}))  # type: ignore[call-overload]
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    path = str(request["path"])
    return {
        "type": "http",
        "method": str(request["method"]),
        "path": path,
        "raw_path": path.encode(),
        "query_string": str(request.get("query", "")).encode(),
        "headers": headers,
        "http_version": "1.1",
        "scheme": "https" if request.get("secure") else "http",
        "client": (str(request["client_ip"]), 40000),
        "server": ("198.51.100.1", 443),
    }


def front_requests(requests: list[dict[str, object]], native: bool) -> Callable[[int], list[Any]]:
    """Fresh requests as the ASGI front builds them (one per check: nothing derived is reused).

    ``native`` False takes the native canonical request away: the check then reads the
    ``Incoming`` part by part, as before it kept one.
    """
    resolver, clock = ClientIpResolver(TrustedProxies()), SystemClock()
    scopes = [asgi_scope(r) for r in requests]

    def make(n: int) -> list[Any]:
        made = []
        for i in range(n):
            scope = dict(scopes[i % len(scopes)])
            scope["headers"] = list(scope["headers"])
            incoming = from_asgi(scope, policy=DEFAULT_POLICY, resolver=resolver, clock=clock)
            if not native:
                incoming.native = None
            body = requests[i % len(requests)].get("body")
            if isinstance(body, str):
                incoming.give_body(body.encode())
            made.append(incoming)
        return made

    return make


def linear_scan(conditions: list[tuple[str, Condition]]) -> Callable[[RequestFacts], str | None]:
    """The reference a RuleList replaces: try every condition in order."""

    def scan(facts: RequestFacts) -> str | None:
        for name, condition in conditions:
            if condition(facts):
                return name
        return None

    return scan


@dataclass(frozen=True, slots=True)
class Bench:
    name: str
    setup: Setup
    target: float | None = None
    scale: float = 1.0  # fraction of n for the slow ones


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    ns: float
    ratio: float
    target: float | None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "ns": round(self.ns, 1), "calls": round(self.ratio, 2)}
        if self.target is not None:
            out["target_calls"] = self.target
            out["met"] = self.ratio <= self.target
        return out


def run(plan: list[Bench], n: int, repeats: int) -> tuple[float, list[Result]]:
    """Best time of each benchmark and of the baseline, which runs right before each of them in every repeat.

    Interleaving spreads the baseline's samples over the whole run, so a noisy neighbour
    slows both sides instead of skewing the ratio.
    """
    baseline_setup = calls(identity, lambda k: [None] * k)
    baseline = math.inf
    best = [math.inf] * len(plan)
    for _ in range(repeats):
        for i, bench in enumerate(plan):
            baseline = min(baseline, ns_per_op(baseline_setup, n))
            best[i] = min(best[i], ns_per_op(bench.setup, max(100, int(n * bench.scale))))
    return baseline, [Result(b.name, ns, ns / baseline, b.target) for b, ns in zip(plan, best, strict=True)]


def check_misses(rules: RuleList, scans: list[Callable[[RequestFacts], str | None]]) -> None:
    for request in REQUESTS:
        facts = RequestFacts.from_vector(request)
        hits = [rules.first_match(facts), *(scan(facts) for scan in scans)]
        if any(hit is not None for hit in hits):
            raise SystemExit(f"benchmark rules {hits} match {request}: fix the benchmark")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every iteration count (default 1)")
    args = parser.parse_args(argv)
    n = max(100, round(4_000 * args.scale))
    repeats = 30

    three = compile_condition(THREE_TERMS)
    three_closures = compile_condition(THREE_TERMS, strategy="closures")
    mix_a = [(name, compile_condition(text)) for name, text in hundred_rules()]
    mix_b = [(name, compile_condition(text)) for name, text in heavy_rules()]
    closures_a = [(name, compile_condition(text, strategy="closures")) for name, text in hundred_rules()]
    rules_a, rules_b = RuleList(mix_a), RuleList(mix_b)
    scan_a, scan_b, scan_closures = linear_scan(mix_a), linear_scan(mix_b), linear_scan(closures_a)
    check_misses(rules_a, [scan_a, scan_closures])
    check_misses(rules_b, [scan_b])

    native_three = NativeCondition(lowered(three))
    native_a = RuleIndex([lowered(condition) for _, condition in mix_a])
    native_b = RuleIndex([lowered(condition) for _, condition in mix_b])
    for request in REQUESTS:
        facts = RequestFacts.from_vector(request)
        if native_a.first_index(facts) is not None or native_b.first_index(facts) is not None:
            raise SystemExit(f"benchmark rules match {request} natively: fix the benchmark")
    global_a = RuleSet.build({"global": [BlockRule(name, condition, "CLOSE") for name, condition in mix_a]})
    native_table, python_table = BlockTable(global_a), PythonBlockTable(global_a)

    match, miss = [THREE_TERMS_MATCH], [THREE_TERMS_MISS]
    fronts_native, fronts_parts = front_requests(REQUESTS, True), front_requests(REQUESTS, False)
    front_match = [{**THREE_TERMS_MATCH, "method": "GET", "client_ip": "192.0.2.9"}]
    front_match_native, front_match_parts = front_requests(front_match, True), front_requests(front_match, False)
    for make in (fronts_native, fronts_parts):
        if any(native_table.check_request(r, None).rule is not None for r in make(len(REQUESTS))):
            raise SystemExit("benchmark rules match a front's request: fix the benchmark")
    if not all(native_three.matches(r) and three(r.facts) for r in front_match_native(2) + front_match_parts(2)):
        raise SystemExit("the 3-term condition misses the front's request: fix the benchmark")
    plan = [
        Bench("3-term condition, all 3 terms evaluated", calls(three, warm(match, three)), 5.0),
        Bench("3-term condition, first term false", calls(three, warm(miss, three))),
        Bench("3-term condition, all 3 evaluated, cold facts", calls(three, cold(match))),
        Bench("3-term condition as closures", calls(three_closures, warm(match, three_closures))),
        Bench("100 rules (mix A), none matches: RuleList", calls(rules_a.first_match, warm(REQUESTS, scan_a)), 150.0),
        Bench("100 rules (mix A), none matches, cold facts", calls(rules_a.first_match, cold(REQUESTS)), None, 0.5),
        Bench("100 rules (mix A): linear scan, generated", calls(scan_a, warm(REQUESTS, scan_a)), None, 0.2),
        Bench("100 rules (mix A): linear scan, closures", calls(scan_closures, warm(REQUESTS, scan_a)), None, 0.1),
        Bench("100 rules (mix B: 4 regexps, 1 hash): RuleList", calls(rules_b.first_match, warm(REQUESTS, scan_b))),
        Bench("native 3-term, all 3 evaluated: native loop", native_loop(native_three, match)),
        Bench("native 3-term: native request, from Python", calls(native_three.matches, native_requests(match))),
        Bench("native 3-term: warm Python facts, part by part", calls(native_three.matches, warm(match, three))),
        Bench("native 100 rules (mix A), none matches: native loop", native_loop(native_a, REQUESTS)),
        Bench("native 100 rules (mix A): native request", calls(native_a.first_index, native_requests(REQUESTS))),
        Bench("native 100 rules (mix A): warm Python facts", calls(native_a.first_index, warm(REQUESTS, scan_a))),
        Bench("native 100 rules (mix B): native loop", native_loop(native_b, REQUESTS)),
        Bench("mod_block check, 100 global rules: native", block_check(native_table, native_requests(REQUESTS))),
        Bench("mod_block check: native, warm Python facts", block_check(native_table, warm(REQUESTS, scan_a))),
        Bench("mod_block check: Python oracle, warm facts", block_check(python_table, warm(REQUESTS, scan_a))),
        Bench("front mod_block check: native canonical request", block_check(native_table, fronts_native)),
        Bench("front mod_block check: native, part by part", block_check(native_table, fronts_parts)),
        Bench("front mod_block check: Python oracle", block_check(python_table, fronts_parts)),
        Bench("front 3-term: native canonical request", calls(native_three.matches, front_match_native)),
        Bench("front 3-term: native, part by part", calls(native_three.matches, front_match_parts)),
        Bench("front 3-term: Python, facts built", calls(lambda r: three(r.facts), front_match_parts)),
    ]
    print(f"Python {platform.python_version()} ({sys.executable}); n={n}, best of {repeats}, interleaved")
    baseline, results = run(plan, n, repeats)
    header = f"{'benchmark':<50} {'ns/op':>10} {'x call':>8} {'target':>8}"
    print(header)
    print("-" * len(header))
    print(f"{'baseline: one call of def f(x): return x':<50} {baseline:>10,.1f} {1.0:>8.1f}")
    for r in results:
        target = f"<= {r.target:g}" if r.target is not None else ""
        print(f"{r.name:<50} {r.ns:>10,.1f} {r.ratio:>8.1f} {target:>8}")
    summary = {
        "python": platform.python_version(),
        "baseline_ns": round(baseline, 2),
        "results": [r.as_dict() for r in results],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
