"""Benchmark the reverse proxy against nginx as a reverse proxy, in front of the same upstream.

Speed is measured, not asserted. In one run: an upstream (nginx, one worker, answering a
static ``hello`` from memory), then in front of it (a) nginx as a reverse proxy (one worker,
``proxy_pass`` with an upstream ``keepalive`` pool, the same forwarding headers) and (b)
:class:`~stockade.server.proxy.ReverseProxy`, one worker, on each server of ``--servers``:
uvicorn (uvloop + httptools) and stockade's own (``stockade.server.http``). wrk drives each
front (``wrk -t2 -c64 -d10s --latency`` after a short warm-up); the upstream directly and
each server answering ``hello`` itself (its own ceiling) are measured once, for scale. The
figure to read is the ratio ReverseProxy / nginx per server (the target: at least 0.40).

Run with ``python bench/proxy.py`` (about 2.5 min; ``--duration 3 --rounds 1`` for a quick
look). nginx and the proxies are measured in alternating rounds (3 by default) and the
median ratio is reported, since the machine's load moves all of them. The CPU time the
serving process spent per request (user and system, from ``/proc``) is printed next to each
figure. Needs ``nginx`` and ``wrk`` (Debian packages). Progress goes to stderr; stdout gets
a table and, as its last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from stockade.server.http import HttpServer, bind_listeners, run
from stockade.server.listen import ListenAddress
from stockade.server.proxy import ReverseProxy
from stockade.server.settings import ListenerSpec, UpstreamSettings

ROOT = Path(__file__).resolve().parent.parent

NGINX_COMMON = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{body}
}}
"""

UPSTREAM = """\
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location / {{ default_type text/plain; return 200 'hello'; }}
    }}
"""

NGINX_PROXY = """\
    upstream app {{
        server 127.0.0.1:{upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=$host";
        }}
    }}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers 200 on port {port}")
        time.sleep(0.05)


@contextmanager
def process(command: list[str], name: str, directory: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    with (directory / f"{name}.log").open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def nginx(name: str, body: str, directory: Path) -> Iterator[int]:
    own = directory / name
    own.mkdir()
    conf = own / "nginx.conf"
    conf.write_text(NGINX_COMMON.format(dir=own, body=body))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    with process([nginx_bin, "-p", str(own), "-c", str(conf)], name, directory) as master:
        yield nginx_worker(master)


def run_wrk(url: str, *, threads: int, connections: int, duration: float) -> dict[str, Any]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = {}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["requests_per_s"] = float(match.group(1))
    for pct in ("50", "75", "90", "99"):
        if match := re.search(rf"^\s+{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE):
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct}_ms"] = value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = socket_errors.group(1).strip() if socket_errors else ""
    if "requests_per_s" not in result:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return result


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def nginx_worker(master: int) -> int:
    """The single worker process of an nginx master (``worker_processes 1``)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError(f"nginx {master} has no worker")


def measure(name: str, port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """One warm-up and one measured wrk run; adds the CPU the serving process spent per request."""
    url = f"http://127.0.0.1:{port}/"
    log(f"{name}: warm-up {args.warmup:g} s, then wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s")
    run_wrk(url, threads=args.threads, connections=args.connections, duration=args.warmup)
    user0, sys0 = cpu_seconds(pid)
    result = run_wrk(url, threads=args.threads, connections=args.connections, duration=args.duration)
    user1, sys1 = cpu_seconds(pid)
    requests = result["requests_per_s"] * args.duration
    result["user_us_per_request"] = round((user1 - user0) / requests * 1e6, 2)
    result["sys_us_per_request"] = round((sys1 - sys0) / requests * 1e6, 2)
    return result


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput, with every round's throughput next to it."""
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    return {**ordered[len(ordered) // 2], "rounds_requests_per_s": [r["requests_per_s"] for r in runs]}


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The front server's own ceiling: an ASGI app that answers ``hello`` without going anywhere."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
        await send({"type": "http.response.body", "body": b"hello"})


HELLO_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"5")]


def serve_front(server: str, target: str, port: int) -> None:
    """A front: ReverseProxy to ``target`` (or, for ``hello``, :func:`hello`), one worker, on ``server``."""
    app = hello if target == "hello" else ReverseProxy(UpstreamSettings(target))
    if server == "own":
        listeners = bind_listeners([ListenerSpec(ListenAddress("127.0.0.1", port))])
        run(HttpServer(app, listeners), handle_signals=True)
        return
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        backlog=4096,
    )
    uvicorn.Server(config).run()


SERVER_NAMES = {"uvicorn": "uvicorn", "own": "stockade's own server"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before each measured run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="nginx / stockade measurements, alternating")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter of the fronts (with stockade's dependencies importable)",
    )
    parser.add_argument(
        "--servers",
        default="uvicorn,own",
        help="the servers to run the ReverseProxy on, comma-separated: uvicorn, own (stockade's own)",
    )
    parser.add_argument("--front", nargs=3, metavar=("SERVER", "TARGET", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.front:
        serve_front(args.front[0], args.front[1], int(args.front[2]))
        return 0
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            log(f"bench/proxy.py needs {tool} (apt-get install -y {tool})")
            return 2

    servers = [name for name in args.servers.split(",") if name]
    runs: dict[str, list[dict[str, Any]]] = {"upstream": [], "nginx": []}
    ratios: dict[str, list[float]] = {server: [] for server in servers}
    with tempfile.TemporaryDirectory(prefix="stockade-bench-proxy-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        up_port, nginx_port = free_port(), free_port()
        up_pid = stack.enter_context(nginx("upstream", UPSTREAM.format(port=up_port), directory))
        nginx_pid = stack.enter_context(
            nginx("proxy", NGINX_PROXY.format(port=nginx_port, upstream=up_port), directory)
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        fronts: dict[str, tuple[int, int]] = {}  # key -> (port, pid)
        for server in servers:
            for target, key in ((f"http://127.0.0.1:{up_port}", f"proxy_{server}"), ("hello", f"hello_{server}")):
                port = free_port()
                command = [args.python, str(Path(__file__).resolve()), "--front", server, target, str(port)]
                fronts[key] = (port, stack.enter_context(process(command, key, directory, env)))
                runs[key] = []
        for port in (up_port, nginx_port, *(port for port, _ in fronts.values())):
            wait_ready(port)
        runs["upstream"].append(measure("upstream (nginx, direct)", up_port, up_pid, args))
        for server in servers:
            port, pid = fronts[f"hello_{server}"]
            runs[f"hello_{server}"].append(measure(f"hello world on {SERVER_NAMES[server]}", port, pid, args))
        # nginx and the proxies alternate, so that a change in the machine's load hits all alike.
        for round_ in range(1, args.rounds + 1):
            log(f"round {round_} of {args.rounds}")
            runs["nginx"].append(measure("nginx proxy", nginx_port, nginx_pid, args))
            for server in servers:
                port, pid = fronts[f"proxy_{server}"]
                runs[f"proxy_{server}"].append(measure(f"ReverseProxy on {SERVER_NAMES[server]}", port, pid, args))
                ratios[server].append(
                    runs[f"proxy_{server}"][-1]["requests_per_s"] / runs["nginx"][-1]["requests_per_s"]
                )
    results = {key: median_run(value) for key, value in runs.items()}
    medians = {server: sorted(values)[len(values) // 2] for server, values in ratios.items()}

    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"fronts on python {version} ({args.python}), {os.cpu_count()} CPUs")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, upstream: nginx 1 worker 'hello'")
    head = f"{'target':<40} {'req/s':>10} {'p50 ms':>7} {'p75 ms':>7} {'p90 ms':>7} {'p99 ms':>7}"
    print(f"{head} {'user us/req':>11} {'sys us/req':>10} {'non-2xx':>7}")
    labels = {"upstream": "upstream direct (nginx)", "nginx": "nginx proxy, 1 worker"}
    for server in servers:
        labels[f"proxy_{server}"] = f"ReverseProxy, {SERVER_NAMES[server]}"
        labels[f"hello_{server}"] = f"hello world, {SERVER_NAMES[server]}"
    for key, label in labels.items():
        r = results[key]
        print(
            f"{label:<40} {r['requests_per_s']:>10,.0f} {r.get('p50_ms', 0):>7.2f} {r.get('p75_ms', 0):>7.2f} "
            f"{r.get('p90_ms', 0):>7.2f} {r.get('p99_ms', 0):>7.2f} {r['user_us_per_request']:>11.1f} "
            f"{r['sys_us_per_request']:>10.1f} {r['non_2xx']:>7}"
        )
    for server in servers:
        rounds = ", ".join(f"{x:.2f}" for x in ratios[server])
        print(
            f"ReverseProxy on {SERVER_NAMES[server]} / nginx throughput: {medians[server]:.2f}"
            f" (median of rounds: {rounds}; target >= 0.40)"
        )
    summary = {
        "ratio_to_nginx": {server: round(value, 4) for server, value in medians.items()},
        "ratios": {server: [round(x, 4) for x in values] for server, values in ratios.items()},
        **results,
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
