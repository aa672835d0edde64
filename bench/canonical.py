"""Benchmark the canonical request: what building it costs each request.

Every figure is printed next to its ratio to ONE plain Python function call
(``def f(x): return x``) timed by the same harness in the same run, so the ratios compare
across machines while the raw nanoseconds do not. Measured: the path alone (an ordinary
path, one with escapes, one with dot segments), the host, the headers, and the whole
canonical request of an ASGI scope (path, client, headers, host; the facts stay lazy) and
of a WSGI environ, against the old per-request work it replaces (the normalised path and
the client-IP resolution) where that still runs.

Run it with ``python bench/canonical.py``; the last line of the output is one JSON object.
"""

from __future__ import annotations

import gc
import json
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from stockade.clock import ManualClock
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.request.asgi import from_asgi
from stockade.request.headers import canonical_headers
from stockade.request.hosts import canonical_host
from stockade.request.paths import DEFAULT_POLICY, canonical_path
from stockade.request.wsgi import from_wsgi

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
HEADERS = [
    (b"host", b"www.example.com"),
    (b"user-agent", BROWSER.encode()),
    (b"accept", b"text/html,application/xhtml+xml"),
    (b"accept-language", b"en-GB,en;q=0.9"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"cookie", b"session=a1b2c3d4; lang=en"),
    (b"referer", b"https://www.example.com/products"),
]
RESOLVER = ClientIpResolver(TrustedProxies())
CLOCK = ManualClock(1_700_000_000.0)


def identity(x: object) -> object:
    return x


def best_ns(body: Callable[[], object], n: int, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter_ns()
        for _ in range(n):
            body()
        elapsed = time.perf_counter_ns() - start
        gc.enable()
        best = min(best, elapsed / n)
    return best


def scope(raw_path: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": b"color=red&size=42",
        "headers": HEADERS,
        "client": ("203.0.113.7", 40000),
        "server": ("127.0.0.1", 8080),
    }


def environ(raw_path: bytes) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": raw_path.decode(),
        "QUERY_STRING": "color=red&size=42",
        "RAW_URI": raw_path.decode() + "?color=red&size=42",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
    }
    env.update({"HTTP_" + n.decode().upper().replace("-", "_"): v.decode() for n, v in HEADERS})
    return env


def main() -> None:
    n = 200_000
    cases: dict[str, Callable[[], object]] = {
        "path, ordinary (/products/shoes/42)": lambda: canonical_path(b"/products/shoes/42", DEFAULT_POLICY),
        "path, escapes (/caf%C3%A9/a%20b)": lambda: canonical_path(b"/caf%C3%A9/a%20b", DEFAULT_POLICY),
        "path, dot segments (/a/./b/../c)": lambda: canonical_path(b"/a/./b/../c", DEFAULT_POLICY),
        "host (www.example.com)": lambda: canonical_host(b"www.example.com"),
        "headers (7 ordinary, untrusted peer)": lambda: canonical_headers(HEADERS, trusted=False),
        "client IP (no forwarding header)": lambda: RESOLVER.resolve("203.0.113.7", HEADERS),
    }
    asgi_scopes = [scope(b"/products/shoes/42") for _ in range(n)]
    wsgi_environs = [environ(b"/products/shoes/42") for _ in range(n)]
    asgi_iter = iter(asgi_scopes)
    wsgi_iter = iter(wsgi_environs)
    whole: dict[str, Callable[[], object]] = {
        "whole request, ASGI scope": lambda: from_asgi(
            next(asgi_iter), policy=DEFAULT_POLICY, resolver=RESOLVER, clock=CLOCK
        ),
        "whole request, WSGI environ": lambda: from_wsgi(
            next(wsgi_iter), policy=DEFAULT_POLICY, resolver=RESOLVER, clock=CLOCK
        ),
    }
    baseline = best_ns(lambda: identity(1), n)
    print(f"Python {platform.python_version()} ({sys.executable}); one call = {baseline:.1f} ns")
    results: dict[str, dict[str, float]] = {}
    for name, body in cases.items():
        ns = best_ns(body, n)
        results[name] = {"ns": round(ns, 1), "calls": round(ns / baseline, 1)}
        print(f"  {name:44s} {ns:8.1f} ns  {ns / baseline:6.1f} calls")
    for name, body in whole.items():
        ns = best_ns(body, n // 7 - 1, repeats=7)
        results[name] = {"ns": round(ns, 1), "calls": round(ns / baseline, 1)}
        print(f"  {name:44s} {ns:8.1f} ns  {ns / baseline:6.1f} calls")
    print(json.dumps({"baseline_ns": round(baseline, 1), "results": results}))


if __name__ == "__main__":
    main()
