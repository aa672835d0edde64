"""Benchmark the canonical request: what building it costs each request, native and Python.

Every figure is printed next to its ratio to ONE plain Python function call
(``def f(x): return x``) timed by the same harness in the same run, so the ratios compare
across machines while the raw nanoseconds do not. Times are the thread's CPU time (the
best of seven runs), so that a shared machine's other jobs count as little as they can.
Each piece is timed twice: through the native module (``stockade._native``, what
production calls) and through its pure-Python oracle (:mod:`stockade.oracle`, what
production called before); the last column is the native time as a share of the Python
time.

Measured: the path (an ordinary one, one with escapes, one with dot segments), the host,
the header list, the client IP (no forwarding header, and X-Forwarded-For through a
trusted proxy), and the whole canonical request of an ASGI scope and of a WSGI environ:
the native call alone (``Canonicalizer.asgi``/``wsgi``: reading the scope, deciding,
writing back what changes), and the front a request goes through (``from_asgi`` and
``from_wsgi``, which add the :class:`~stockade.request.incoming.Incoming` the ladder reads),
against the same front built on the Python oracle.

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

from stockade import _native
from stockade.clock import ManualClock
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.core.facts import RequestFacts
from stockade.oracle import client_ip as oracle_client_ip
from stockade.oracle import fronts, headers, hosts, paths
from stockade.request.asgi import from_asgi
from stockade.request.incoming import Incoming
from stockade.request.paths import DEFAULT_POLICY
from stockade.request.wsgi import environ_key, from_wsgi

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
FORWARDED = [*HEADERS, (b"x-forwarded-for", b"198.51.100.4, 10.0.0.2")]
TRUST = TrustedProxies(("10.0.0.0/8",))
RESOLVER = ClientIpResolver(TRUST)
ORACLE = oracle_client_ip.ClientIpResolver(TRUST)
CANONICALIZER = RESOLVER.canonicalizer(DEFAULT_POLICY)
CLOCK = ManualClock(1_700_000_000.0)


def identity(x: object) -> object:
    return x


def best_ns(body: Callable[[], object], n: int, repeats: int = 7) -> float:
    """The best of ``repeats`` runs of ``n`` calls, in this thread's CPU time per call: on the
    shared machine, time spent waiting for a core would otherwise count."""
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        start = time.thread_time_ns()
        for _ in range(n):
            body()
        elapsed = time.thread_time_ns() - start
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
        "headers": list(HEADERS),
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
        "SERVER_NAME": "www.example.com",
        "SERVER_PORT": "8080",
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    env.update({environ_key(n.decode()): v.decode() for n, v in HEADERS})
    return env


def python_from_asgi(scope: dict[str, Any]) -> Incoming:
    """What :func:`from_asgi` was before the native call: the oracle, then the same Incoming."""
    path, target, host, decided, method, query, proto, uri = fronts.asgi(scope, DEFAULT_POLICY, ORACLE)

    def make_facts() -> RequestFacts:
        return RequestFacts()

    return Incoming(
        make_facts=make_facts,
        path=path,
        target=target,
        client=decided.address,
        method=method,
        query=query,
        proto=proto,
        host=host,
        headers=scope["headers"],
        known_route=False,
        decided=decided,
        uri=uri,
    )


def python_from_wsgi(environ: dict[str, Any]) -> Incoming:
    """What :func:`from_wsgi` was before the native call: the oracle, then the same Incoming."""
    path, target, host, decided, uri, query, method, protocol = fronts.wsgi(environ, DEFAULT_POLICY, ORACLE)

    def make_facts() -> RequestFacts:
        return RequestFacts()

    authorization = environ.get("HTTP_AUTHORIZATION")
    return Incoming(
        make_facts=make_facts,
        authorization=[str(authorization).encode("latin-1")] if authorization is not None else [],
        path=path,
        target=target,
        client=decided.address,
        method=method,
        query=query,
        proto=protocol,
        host=host,
        header_lookup=lambda name: str(environ.get(environ_key(name), "")),
        known_route=False,
        decided=decided,
        uri=uri,
    )


def main() -> None:
    n = 100_000
    # An ordinary request is canonical already, so one scope or environ serves every call:
    # neither front changes it (the Python oracle writes equal values back).
    asgi_scope = scope(b"/products/shoes/42")
    wsgi_environ = environ(b"/products/shoes/42")
    ordinary, escapes, dots = b"/products/shoes/42", b"/caf%C3%A9/a%20b", b"/a/./b/../c"
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "path, ordinary (/products/shoes/42)": (
            lambda: _native.canonical_path(ordinary),
            lambda: paths.canonical_path(ordinary),
        ),
        "path, escapes (/caf%C3%A9/a%20b)": (
            lambda: _native.canonical_path(escapes),
            lambda: paths.canonical_path(escapes),
        ),
        "path, dot segments (/a/./b/../c)": (
            lambda: _native.canonical_path(dots),
            lambda: paths.canonical_path(dots),
        ),
        "host (www.example.com)": (
            lambda: _native.canonical_host(b"www.example.com"),
            lambda: hosts.canonical_host(b"www.example.com"),
        ),
        "headers (7 ordinary, untrusted peer)": (
            lambda: _native.canonical_headers(HEADERS, trusted=False),
            lambda: headers.canonical_headers(HEADERS, trusted=False),
        ),
        "client IP (no forwarding header)": (
            lambda: RESOLVER.resolve("203.0.113.7", HEADERS),
            lambda: ORACLE.resolve("203.0.113.7", HEADERS),
        ),
        "client IP (X-Forwarded-For, trusted proxy)": (
            lambda: RESOLVER.resolve("10.0.0.1", FORWARDED),
            lambda: ORACLE.resolve("10.0.0.1", FORWARDED),
        ),
        "canonical request of an ASGI scope": (
            lambda: CANONICALIZER.asgi(asgi_scope),
            lambda: fronts.asgi(asgi_scope, DEFAULT_POLICY, ORACLE),
        ),
        "canonical request of a WSGI environ": (
            lambda: CANONICALIZER.wsgi(wsgi_environ),
            lambda: fronts.wsgi(wsgi_environ, DEFAULT_POLICY, ORACLE),
        ),
        "from_asgi (canonical request + Incoming)": (
            lambda: from_asgi(asgi_scope, policy=DEFAULT_POLICY, resolver=RESOLVER, clock=CLOCK),
            lambda: python_from_asgi(asgi_scope),
        ),
        "from_wsgi (canonical request + Incoming)": (
            lambda: from_wsgi(wsgi_environ, policy=DEFAULT_POLICY, resolver=RESOLVER, clock=CLOCK),
            lambda: python_from_wsgi(wsgi_environ),
        ),
    }
    baseline = best_ns(lambda: identity(1), n)
    print(f"Python {platform.python_version()} ({sys.executable}); one call = {baseline:.1f} ns")
    print(f"  {'':46s} {'native':>16s} {'Python':>16s}  native/Python")
    results: dict[str, dict[str, float]] = {}
    for name, (native_body, python_body) in cases.items():
        native = best_ns(native_body, n)
        python = best_ns(python_body, n // 4)
        results[name] = {
            "native_ns": round(native, 1),
            "native_calls": round(native / baseline, 2),
            "python_ns": round(python, 1),
            "python_calls": round(python / baseline, 1),
            "native_share": round(native / python, 3),
        }
        print(
            f"  {name:46s} {native:7.0f} ns {native / baseline:5.1f}c"
            f" {python:7.0f} ns {python / baseline:5.1f}c  {native / python:6.3f}"
        )
    print(json.dumps({"baseline_ns": round(baseline, 1), "results": results}))


if __name__ == "__main__":
    main()
