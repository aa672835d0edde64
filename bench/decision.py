"""Benchmark stockade as the decision point of nginx and Caddy, against nginx alone and nginx with CRS.

Speed is measured, not asserted. In one run: an upstream (nginx, one worker, a static
``hello`` from memory), and in front of it, each with one worker:

- ``nginx``: nginx alone as the reverse proxy (``proxy_pass``, a ``keepalive`` pool);
- ``nginx+stockade``: the same nginx asking stockade about every request (``auth_request``,
  the configuration of docs/decision.md, keep-alive to the decision endpoint), the decision
  endpoint on the native front (older runs in BENCHMARKS.md also measured it on the
  Python server, since removed);
- ``nginx+crs``: the same nginx with ModSecurity and the OWASP CRS at paranoia level 1
  (Debian's ``libnginx-mod-http-modsecurity`` and ``modsecurity-crs``, ``SecRuleEngine On``,
  the recommended configuration otherwise, the audit log off);
- ``caddy``: Caddy alone as the reverse proxy, and ``caddy+stockade`` with ``forward_auth``
  (the native front).

Stockade is a ``stockade serve`` process with only a decision listener, a SQLite store
and every check of the ladder in force (the configuration (b) of ``bench/proxy.py``: a
lockout directory the benchmark does not request, 100 mod_block rules that do not match, a
100,000-entry IP blocklist, the built-in detection rules). wrk sends a browser's request
(``GET /index.html?id=42`` with ``User-Agent`` and ``Accept``) after a short warm-up. The
fronts are measured in alternating rounds (3 by default) and the median of each round's
ratio is reported: nginx+stockade / nginx (target on the native front: at least 0.50),
nginx+stockade / nginx+crs (target: at least 10), caddy+stockade / caddy. Next to each
figure: the CPU time (user and system, from ``/proc``) the front's process spent per
request, and stockade's per decision.

Run with ``python bench/decision.py`` (about 4 min; ``--duration 3 --rounds 1`` for a quick
look). Needs ``nginx``, the ModSecurity module and CRS, ``caddy`` and ``wrk`` (Debian
packages). Progress goes to stderr; stdout gets a table and, last, one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _sibling(name: str) -> ModuleType:
    """bench/proxy.py's helpers (nginx, wrk, /proc), loaded from its file: bench/ is not a package."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


proxy = _sibling("proxy")

MODSECURITY = Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so")
MODSECURITY_CONF = Path("/etc/nginx/modsecurity.conf")
CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
CRS_RULES = Path("/usr/share/modsecurity-crs/rules")
PATH = "/index.html?id=42"
HEADERS = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
)

FRONT = """\
    upstream app {{
        server 127.0.0.1:{upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
{extra_upstreams}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
{server}
        location / {{
{location}
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
{locations}
    }}
"""

STOCKADE_UPSTREAM = """\
    upstream stockade {{
        server 127.0.0.1:{decision};
        keepalive 64;
        keepalive_requests 1000000;
    }}
"""

AUTH_REQUEST = """\
            auth_request /_stockade;
            auth_request_set $stockade_client $upstream_http_x_stockade_client_ip;
            auth_request_set $stockade_decision $upstream_http_x_stockade_decision_id;
            auth_request_set $stockade_retry_after $upstream_http_retry_after;
            add_header Retry-After $stockade_retry_after always;
            proxy_set_header X-Stockade-Client-IP $stockade_client;
            proxy_set_header X-Stockade-Decision-ID $stockade_decision;
"""

AUTH_LOCATION = """\
        location = /_stockade {
            internal;
            proxy_pass http://stockade/nginx;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
"""

CRS_MAIN = f"""\
Include {MODSECURITY_CONF}
SecRuleEngine On
SecAuditEngine Off
SecStatusEngine Off
Include {CRS_SETUP}
Include {CRS_RULES}/*.conf
"""

STOCKADE = """\
[server]
listen = []
workers = 1

[store]
url = "sqlite:///decision.db"

[decision]
listen = "127.0.0.1:{decision}"
proxies = ["127.0.0.1"]
"""

CADDY = """\
{{
    admin off
    auto_https off
}}
http://127.0.0.1:{port} {{
{forward}    reverse_proxy 127.0.0.1:{upstream} {{
        transport http {{
            keepalive 60s
            keepalive_idle_conns 64
        }}
    }}
}}
"""

CADDY_FORWARD = """\
    forward_auth 127.0.0.1:{decision} {{
        uri /forward
        copy_headers X-Stockade-Client-IP X-Stockade-Decision-ID
    }}
"""

FRONTS = {
    "nginx": "nginx alone",
    "nginx+stockade": "nginx + stockade (auth_request)",
    "nginx+crs": "nginx + ModSecurity CRS PL1",
    "caddy": "caddy alone",
    "caddy+stockade": "caddy + stockade (forward_auth)",
}
TARGETS = {"nginx+stockade/nginx": ">= 0.50", "nginx+stockade/nginx+crs": ">= 10"}


@contextmanager
def caddy(name: str, text: str, directory: Path) -> Iterator[int]:
    own = directory / name
    own.mkdir()
    (own / "Caddyfile").write_text(text)
    env = {**os.environ, "HOME": str(own), "XDG_DATA_HOME": str(own), "XDG_CONFIG_HOME": str(own)}
    command = [shutil.which("caddy") or "caddy", "run", "--config", str(own / "Caddyfile"), "--adapter", "caddyfile"]
    with proxy.process(command, name, directory, env) as pid:
        yield pid


def nginx_front(name: str, port: int, upstream: int, directory: Path, *, decision: int = 0, crs: bool = False) -> str:
    body = FRONT.format(
        upstream=upstream,
        port=port,
        extra_upstreams=STOCKADE_UPSTREAM.format(decision=decision) if decision else "",
        server=(f"        modsecurity on;\n        modsecurity_rules_file {directory / 'crs.conf'};" if crs else ""),
        location=AUTH_REQUEST if decision else "",
        locations=AUTH_LOCATION if decision else "",
    )
    if crs:
        (directory / "crs.conf").write_text(CRS_MAIN)
    return body


@contextmanager
def nginx_with_module(name: str, body: str, directory: Path) -> Iterator[int]:
    """nginx with the ModSecurity module loaded (``load_module`` comes before everything)."""
    own = directory / name
    own.mkdir()
    conf = own / "nginx.conf"
    conf.write_text(f"load_module {MODSECURITY};\n" + proxy.NGINX_COMMON.format(dir=own, body=body, workers=1))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    with proxy.process([nginx_bin, "-p", str(own), "-c", str(conf)], name, directory) as master:
        yield proxy.nginx_worker(master)


def run_wrk(url: str, args: argparse.Namespace, duration: float) -> dict[str, Any]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration:g}s", "--latency"]
    for header in HEADERS:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    return _parse(output)


def _parse(output: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["requests_per_s"] = float(match.group(1))
    for pct in ("50", "99"):
        if match := re.search(rf"^\s+{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE):
            result[f"p{pct}_ms"] = float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    if "requests_per_s" not in result:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return result


def measure(name: str, port: int, pids: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    """A warm-up and a measured wrk run; the CPU each process of ``pids`` spent per request."""
    url = f"http://127.0.0.1:{port}{PATH}"
    proxy.log(f"{name}: warm-up {args.warmup:g} s, then wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s")
    run_wrk(url, args, args.warmup)
    before = {key: proxy.cpu_seconds(pid) for key, pid in pids.items()}
    result = run_wrk(url, args, args.duration)
    requests = result["requests_per_s"] * args.duration
    for key, pid in pids.items():
        user, system = proxy.cpu_seconds(pid)
        spent = user - before[key][0] + system - before[key][1]
        result[f"{key}_cpu_us_per_request"] = round(spent / requests * 1e6, 1)
    return result


def in_process(config: Path, count: int = 20_000) -> dict[str, float]:
    """:meth:`DecisionPoint.decide` called in a loop, no sockets: the Python a decision costs.

    Run in a child process on the benchmark's configuration (a clean GET through nginx's
    check request), best of three. ``ladder_us`` is what ``stockade serve`` does for the
    same request (its canonical request from the ASGI scope, then the ladder), so the
    difference is the reading of the check request; ``baseline_us`` is the loop around an
    empty coroutine.
    """
    code = f"""
import asyncio, json, time
from stockade.clock import SystemClock
from stockade.config import load_config
from stockade.metrics import Metrics
from stockade.request.asgi import from_asgi
from stockade.server.site import Stores, build_site

async def nothing(*args):
    return None

async def main():
    config = load_config({str(config)!r})
    stores = Stores.open(config)
    site = build_site(config, stores, clock=SystemClock(), listen=(), metrics=Metrics(process=False))
    headers = [(b"host", b"bench"), (b"x-original-uri", b"{PATH}"), (b"x-original-method", b"GET"),
               (b"x-forwarded-proto", b"http"), (b"x-forwarded-for", b"203.0.113.7"),
               (b"user-agent", {HEADERS[0].split(": ", 1)[1].encode()!r}), (b"accept", b"text/html")]
    point = site.decision
    original = [(b"host", b"bench"), (b"x-forwarded-for", b"203.0.113.7"),
                (b"user-agent", {HEADERS[0].split(": ", 1)[1].encode()!r}), (b"accept", b"text/html")]

    async def served(*args):
        # What stockade serve decides for the same request: its canonical request, then the ladder.
        scope = {{"type": "http", "method": "GET", "raw_path": b"/index.html", "query_string": b"id=42",
                  "headers": original, "client": ("127.0.0.1", 0), "server": None, "scheme": "http",
                  "http_version": "1.1"}}
        request = from_asgi(scope, policy=point.policy, resolver=point.resolver, clock=point.clock)
        return await site.ladder.decide(request)

    best = {{}}
    calls = (("baseline_us", nothing), ("ladder_us", served), ("decide_us", point.decide))
    for name, call in calls:
        for _ in range(3):
            start = time.perf_counter()
            for _ in range({count}):
                await call("127.0.0.1", "GET", b"/nginx", headers)
            spent = (time.perf_counter() - start) / {count} * 1e6
            best[name] = min(best.get(name, spent), spent)
    site.close_events()
    await stores.aclose()
    print(json.dumps(best))

asyncio.run(main())
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=config.parent
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return {key: round(value, 2) for key, value in result.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before each measured run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of every front, alternating")
    parser.add_argument("--stockade", default=str(Path(sys.executable).with_name("stockade")))
    args = parser.parse_args(argv)
    for tool in ("wrk", "nginx", "caddy"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            proxy.log(f"bench/decision.py needs {tool} (apt-get install -y {tool})")
            return 2
    if not MODSECURITY.exists() or not CRS_RULES.is_dir():
        proxy.log("bench/decision.py needs libnginx-mod-http-modsecurity and modsecurity-crs (apt-get install -y ...)")
        return 2

    runs: dict[str, list[dict[str, Any]]] = {front: [] for front in FRONTS}
    ratios: dict[str, list[float]] = {
        "nginx+stockade/nginx": [],
        "nginx+stockade/nginx+crs": [],
        "caddy+stockade/caddy": [],
    }
    with tempfile.TemporaryDirectory(prefix="stockade-bench-decision-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        upstream = proxy.free_port()
        stack.enter_context(proxy.nginx("upstream", proxy.UPSTREAM.format(port=upstream), directory))
        decision = proxy.free_port()
        own = directory / "stockade-native"
        own.mkdir()
        proxy.write_checks_files(own)
        (own / "stockade.toml").write_text(STOCKADE.format(decision=decision) + proxy.STOCKADE_CHECKS)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        command = [args.stockade, "serve", "-c", str(own / "stockade.toml")]
        stockade = stack.enter_context(proxy.process(command, "stockade-native", own, env))
        fronts: dict[str, tuple[int, dict[str, int]]] = {}
        for front in ("nginx", "nginx+stockade", "nginx+crs"):
            port = proxy.free_port()
            uses = decision if front == "nginx+stockade" else 0
            body = nginx_front(front, port, upstream, directory, decision=uses, crs=front == "nginx+crs")
            start = nginx_with_module if front == "nginx+crs" else proxy.nginx
            worker = stack.enter_context(start(front, body, directory))
            fronts[front] = (port, {"front": worker, **({"stockade": stockade} if uses else {})})
        for front in ("caddy", "caddy+stockade"):
            port = proxy.free_port()
            forward = CADDY_FORWARD.format(decision=decision) if front == "caddy+stockade" else ""
            pid = stack.enter_context(
                caddy(front, CADDY.format(port=port, upstream=upstream, forward=forward), directory)
            )
            fronts[front] = (port, {"front": pid, **({"stockade": stockade} if forward else {})})
        for port in (upstream, *(port for port, _ in fronts.values())):
            proxy.wait_ready(port)
        for round_ in range(1, args.rounds + 1):
            proxy.log(f"round {round_} of {args.rounds}")
            for front, (port, pids) in fronts.items():
                runs[front].append(measure(FRONTS[front], port, pids, args))
            rps = {front: runs[front][-1]["requests_per_s"] for front in FRONTS}
            ratios["nginx+stockade/nginx"].append(rps["nginx+stockade"] / rps["nginx"])
            ratios["nginx+stockade/nginx+crs"].append(rps["nginx+stockade"] / rps["nginx+crs"])
            ratios["caddy+stockade/caddy"].append(rps["caddy+stockade"] / rps["caddy"])
        proxy.log("in-process: DecisionPoint.decide in a loop")
        inside = in_process(directory / "stockade-native" / "stockade.toml")
    results = {key: proxy.median_run(value) for key, value in runs.items()}
    medians = {key: proxy.median(values) for key, values in ratios.items()}

    print(f"stockade on python {sys.version.split()[0]}, {os.cpu_count()} CPUs, one worker or process each")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s GET {PATH}, upstream: nginx 'hello'")
    print(f"{'front':<34} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'front us/req':>12} {'stockade us/dec':>15}")
    for key, label in FRONTS.items():
        r = results[key]
        decisions = r.get("stockade_cpu_us_per_request")
        print(
            f"{label:<34} {r['requests_per_s']:>9,.0f} {r.get('p50_ms', 0):>7.2f} {r.get('p99_ms', 0):>7.2f} "
            f"{r['front_cpu_us_per_request']:>12.1f} {'' if decisions is None else f'{decisions:.1f}':>15}"
        )
    for key, values in ratios.items():
        rounds = ", ".join(f"{x:.3f}" for x in values)
        target = f"; target on the native front {TARGETS[key]}" if key in TARGETS else ""
        print(f"throughput {key}: {medians[key]:.3f} (median of rounds: {rounds}{target})")
    print(
        f"in-process, no sockets: DecisionPoint.decide {inside['decide_us']:.1f} us a decision; the same request's"
        f" canonical form and ladder alone, as stockade serve decides it: {inside['ladder_us']:.1f} us"
        f" (an empty coroutine call: {inside['baseline_us']:.2f} us)"
    )
    summary = {
        "in_process": inside,
        "ratios": {key: round(value, 4) for key, value in medians.items()},
        "rounds": {key: [round(x, 4) for x in values] for key, values in ratios.items()},
        **results,
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
