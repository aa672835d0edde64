"""Benchmark ``stockade serve`` as a reverse proxy against nginx, in front of the same upstream.

Speed is measured, not asserted. In one run: an upstream (nginx, one worker, answering a
static ``hello`` from memory), and in front of it these fronts, each one worker or thread
(``--front-threads N``: nginx with N workers and the native fronts with N threads):

- nginx as a reverse proxy (``proxy_pass`` with an upstream ``keepalive`` pool, the same
  forwarding headers stockade sets);
- ``native``: the native front alone (``stockade._native.NativeFront`` without a request
  filter): the data plane's own cost;
- ``native_plain``: (a) ``stockade serve -c plain.toml``, the protecting server as a plain
  proxy (no directories, no ``[block]``, no ``[bans]`` section: bans keep their defaults,
  on, with no detection rule), each request decided by the native ladder (in Rust);
- ``native_guarded``: (b) ``stockade serve -c guarded.toml``, the same with every check of
  the ladder in force on each request: a lockout directory on a path the benchmark does not
  request (the lockout table is consulted, no password is checked), a ``[block]`` with 100
  mod_block rules that do not match and a 100,000-entry ``ip_blocklist.data`` without
  127.0.0.1, and ``[bans]`` with the built-in detection rules; the native ladder first, the
  Python ladder for what it cannot finish (every request of (b), whose mod_block rules only
  the Python side reads);
- ``native_detect``: (a) with ``[bans] rules = ["builtin"]``: each clean request inspected
  by the native detection engine in the front.

(The rows ``plain`` and ``guarded`` of older runs in BENCHMARKS.md were (a) and (b) on the
Python HTTP server and proxy, since removed.) Every stockade front uses a SQLite store in
the run's temporary directory. wrk drives each front (``wrk -t2 -c64 -d10s --latency``
after a short warm-up). The fronts are measured in alternating rounds (3 by default), since
the machine's load moves all of them, and the median of each round's ratio is reported
(targets: the native front and (a) at least 0.80 of nginx, (b) at least 0.95 of (a)). The
upstream alone is measured once, for scale. The CPU time the serving process spent per
request (user and system, from ``/proc``) is printed next to each figure.

Run with ``python bench/proxy.py`` (about 3 min; ``--duration 3 --rounds 1`` for a quick
look; ``--only native,native_plain`` for some fronts, nginx always). Needs ``nginx`` and ``wrk``
(Debian packages). Progress goes to stderr; stdout gets a table and, as its last line, one
JSON object with every figure.
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

ROOT = Path(__file__).resolve().parent.parent

NGINX_COMMON = """\
worker_processes {workers};
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

STOCKADE_PLAIN = """\
[server]
listen = ["127.0.0.1:{port}"]
upstream = {{ url = "http://127.0.0.1:{upstream}", max_idle_connections = 64 }}
workers = 1

[store]
url = "sqlite:///{name}.db"
"""

STOCKADE_CHECKS = """
[[directory]]
path = "/admin"
auth_user_file = "users.htpasswd"
max_retries = 3
block_time = 1

[block]
rules = "block_rules.data"
ip_blocklist = "ip_blocklist.data"
watch = false

[block.hosts]
default_product = "web"

[bans]
rules = ["builtin"]
"""

FRONTS = {
    "nginx": "nginx proxy",
    "native": "native front, no checks",
    "native_plain": "stockade serve native (a) plain",
    "native_guarded": "stockade serve native (b) checks",
    "native_detect": "stockade serve native (a) + detection",
}
DETECTION = """
[bans]
rules = ["builtin"]
"""
BLOCK_RULES = 100
BLOCKLIST_ENTRIES = 100_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, timeout: float = 30.0) -> None:
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
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=directory)
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
def nginx(name: str, body: str, directory: Path, workers: int = 1) -> Iterator[int]:
    own = directory / name
    own.mkdir()
    conf = own / "nginx.conf"
    conf.write_text(NGINX_COMMON.format(dir=own, body=body, workers=workers))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    with process([nginx_bin, "-p", str(own), "-c", str(conf)], name, directory) as master:
        nginx_worker(master)  # started
        yield master


def nginx_worker(master: int) -> int:
    """The single worker process of an nginx master (``worker_processes 1``)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError(f"nginx {master} has no worker")


def write_checks_files(directory: Path) -> None:
    """The files of config (b): none of them matches the benchmark's requests from 127.0.0.1."""
    (directory / "users.htpasswd").write_text("admin:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    rules = [
        {
            "Name": f"rule_{i}",
            "Cond": f'req_path_prefix_in("/blocked/{i}/", false) && req_method_in("POST")',
            "Action": {"Cmd": "CLOSE", "Params": []},
        }
        for i in range(BLOCK_RULES)
    ]
    (directory / "block_rules.data").write_text(json.dumps({"Version": "1", "Config": {"web": rules}}))
    # 100,000 addresses in 10.0.0.0/8, none of them 127.0.0.1.
    lines = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(1, BLOCKLIST_ENTRIES + 1))
    (directory / "ip_blocklist.data").write_text("\n".join(lines) + "\n")


def stockade_config(
    directory: Path,
    name: str,
    port: int,
    upstream: int,
    *,
    checks: bool,
    threads: int = 1,
    detection: bool = False,
) -> Path:
    own = directory / name
    own.mkdir()
    text = STOCKADE_PLAIN.format(port=port, upstream=upstream, name=name)
    text = text.replace("workers = 1\n", f"workers = {threads}\n")
    if checks:
        write_checks_files(own)
        text += STOCKADE_CHECKS
    elif detection:
        text += DETECTION
    path = own / "stockade.toml"
    path.write_text(text)
    return path


def serve_native(port: int, upstream: int, threads: int, keepalive: float = 5.0) -> None:
    """The native front alone, no checks (``--serve-native``): the ceiling of the data plane."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from stockade import _native  # noqa: PLC0415

    site = _native.FrontSite(
        limits=(64 * 1024, None, 10.0, 30.0, keepalive, 5.0),
        upstreams=[("127.0.0.1", upstream, b"", 5.0, 60.0, 64)],
    )
    sock = _native.bind_socket("127.0.0.1", port)
    front = _native.NativeFront.start(
        workers=threads, listeners=[(sock, _native.ListenerOptions(f"127.0.0.1:{port}"))], site=site
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    front.stop()


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
    """User and system CPU seconds a process and its children (nginx's workers) have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    user = system = 0.0
    for each in (pid, *map(int, children)):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11]) / tick
        system += int(fields[12]) / tick
    return user, system


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


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput, with every round's throughput next to it."""
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    return {**ordered[len(ordered) // 2], "rounds_requests_per_s": [r["requests_per_s"] for r in runs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before each measured run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="nginx / stockade measurements, alternating")
    parser.add_argument("--front-threads", type=int, default=1, help="threads of the native front (workers)")
    parser.add_argument("--only", default="", help="comma-separated fronts to measure (default: all)")
    parser.add_argument("--serve-native", nargs=2, type=int, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--stockade",
        default=str(Path(sys.executable).with_name("stockade")),
        help="the stockade command of the fronts",
    )
    args = parser.parse_args(argv)
    if args.serve_native:
        serve_native(args.serve_native[0], args.serve_native[1], args.front_threads)
        return 0
    chosen = [f for f in args.only.split(",") if f] or list(FRONTS)
    fronts_measured = {k: v for k, v in FRONTS.items() if k in chosen or k == "nginx"}
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            log(f"bench/proxy.py needs {tool} (apt-get install -y {tool})")
            return 2

    runs: dict[str, list[dict[str, Any]]] = {"upstream": [], **{front: [] for front in fronts_measured}}
    ratios: dict[str, list[float]] = {f"{front}/nginx": [] for front in fronts_measured if front != "nginx"}
    for a, b in (("native_guarded", "native_plain"), ("native_detect", "native_plain")):
        if a in fronts_measured and b in fronts_measured:
            ratios[f"{a}/{b}"] = []
    with tempfile.TemporaryDirectory(prefix="stockade-bench-proxy-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        up_port = free_port()
        fronts: dict[str, tuple[int, int]] = {}  # front -> (port, pid)
        up_pid = nginx_worker(stack.enter_context(nginx("upstream", UPSTREAM.format(port=up_port), directory)))
        port = free_port()
        proxy_conf = NGINX_PROXY.format(port=port, upstream=up_port)
        master = stack.enter_context(nginx("proxy", proxy_conf, directory, workers=args.front_threads))
        fronts["nginx"] = (port, master if args.front_threads > 1 else nginx_worker(master))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        for front in fronts_measured:
            if front == "nginx":
                continue
            port = free_port()
            if front == "native":
                command = [sys.executable, __file__, "--serve-native", str(port), str(up_port)]
                command += ["--front-threads", str(args.front_threads)]
                own = directory / front
                own.mkdir()
                fronts[front] = (port, stack.enter_context(process(command, front, own, env)))
                continue
            config = stockade_config(
                directory,
                front,
                port,
                up_port,
                checks="guarded" in front,
                threads=args.front_threads,
                detection=front == "native_detect",
            )
            command = [args.stockade, "serve", "-c", str(config)]
            fronts[front] = (port, stack.enter_context(process(command, front, config.parent, env)))
        for port in (up_port, *(port for port, _ in fronts.values())):
            wait_ready(port)
        runs["upstream"].append(measure("upstream (nginx, direct)", up_port, up_pid, args))
        # The fronts alternate, so that a change in the machine's load hits all alike.
        for round_ in range(1, args.rounds + 1):
            log(f"round {round_} of {args.rounds}")
            for front, (port, pid) in fronts.items():
                runs[front].append(measure(FRONTS[front], port, pid, args))
            rps = {front: runs[front][-1]["requests_per_s"] for front in fronts_measured}
            for key, values in ratios.items():
                a, b = key.split("/")
                values.append(rps[a] / rps[b])
    results = {key: median_run(value) for key, value in runs.items()}
    medians = {key: median(values) for key, values in ratios.items()}

    threads = args.front_threads
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {threads} nginx worker(s), native thread(s)")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, upstream: nginx 1 worker 'hello'")
    head = f"{'front':<36} {'req/s':>10} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7}"
    print(f"{head} {'user us/req':>11} {'sys us/req':>10} {'non-2xx':>7}")
    labels = {"upstream": "upstream direct (nginx)", **fronts_measured}
    for key, label in labels.items():
        r = results[key]
        print(
            f"{label:<36} {r['requests_per_s']:>10,.0f} {r.get('p50_ms', 0):>7.2f} {r.get('p90_ms', 0):>7.2f} "
            f"{r.get('p99_ms', 0):>7.2f} {r['user_us_per_request']:>11.1f} {r['sys_us_per_request']:>10.1f} "
            f"{r['non_2xx']:>7}"
        )
    targets = {"native/nginx": ">= 0.80", "native_plain/nginx": ">= 0.80", "native_guarded/native_plain": ">= 0.95"}
    for key, values in ratios.items():
        rounds = ", ".join(f"{x:.2f}" for x in values)
        target = f"; target {targets[key]}" if key in targets else ""
        print(f"throughput {key}: {medians[key]:.2f} (median of rounds: {rounds}{target})")
    summary = {
        "ratios": {key: round(value, 4) for key, value in medians.items()},
        "rounds": {key: [round(x, 4) for x in values] for key, values in ratios.items()},
        **results,
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
