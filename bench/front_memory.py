"""Memory of ``stockade serve`` on the native front: idle keep-alive connections, then RSS under load.

Issue 18's memory targets, measured, not asserted: 10,000 idle keep-alive connections in at
most 100 MB of RSS, and RSS flat over two million requests. In one run, in front of the same
upstream (nginx, one worker, answering a static ``hello`` from memory), for each front:

- ``stockade``: ``stockade serve`` with ``engine = "native"`` and a plain proxy config
  (``workers = 1``, the upstream, a SQLite store; config (a) of ``bench/proxy.py``), with
  ``keepalive_timeout`` raised so that idle connections stay;
- ``native``: the native front alone, without a request filter (``bench/proxy.py``'s): the
  data plane's own memory, without the Python process around it;
- ``nginx``: nginx as a reverse proxy, one worker, ``keepalive_timeout`` raised alike.

For each front, in turn: a short wrk warm-up, then RSS (``VmRSS`` from ``/proc``, summed over
the process and its children: nginx's master and worker); then ``--connections`` keep-alive
connections are opened, each makes one request and reads its answer, and stays open, idle;
RSS again (the difference divided by the connections is the cost of one idle connection).
Then, with the idle connections still open, wrk (``-t2 -c64``) drives ``--requests`` requests
in runs of ``--chunk`` seconds, stopping early after ``--budget`` seconds (it says so), while a
thread samples RSS every ``--interval`` seconds. At the end every idle connection makes one
more request (how many are still open is reported), and they are closed.

With ``--baseline-src DIR`` (the ``src`` directory of another tree, with its built
``_native`` module: an earlier commit), the ``stockade`` and ``native`` fronts are measured a
second time from that tree, as ``stockade@baseline`` and ``native@baseline``, in the same run:
before and after a change of the front.

Run with ``python bench/front_memory.py`` (about 7 min on 2 vCPUs; ``--requests 200000
--connections 2000`` for a quick look; ``--only stockade``). Raises its own ``RLIMIT_NOFILE``
to the hard limit (the fronts inherit it); needs ``nginx`` and ``wrk``. Progress goes to
stderr; stdout gets the figures and, as its last line, one JSON object with all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import NGINX_PROXY, ROOT, UPSTREAM, free_port, log, nginx_worker, process, serve_native, wait_ready

# proxy.py's nginx settings, with room for the idle connections and a long keep-alive.
NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile {nofile};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout {keepalive}s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{body}
}}
"""

STOCKADE_CONF = """\
[server]
listen = ["127.0.0.1:{port}"]
upstream = {{ url = "http://127.0.0.1:{upstream}", max_idle_connections = 64 }}
workers = 1
engine = "native"

[server.limits]
keepalive_timeout = {keepalive}

[store]
url = "sqlite:///stockade.db"
"""

FRONTS = {
    "stockade": "stockade serve, native, plain proxy",
    "native": "native front alone, no checks",
    "nginx": "nginx proxy, 1 worker",
}
BASELINE = "@baseline"
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
BATCH = 250  # connections opened (then asked) at a time, well under the listeners' backlog
MIB = 1024 * 1024


def label(front: str) -> str:
    kind, baseline, _ = front.partition(BASELINE)
    return FRONTS[kind] + (", baseline" if baseline else "")


def raise_nofile(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted != resource.RLIM_INFINITY and wanted < needed:
        raise SystemExit(f"RLIMIT_NOFILE's hard limit is {hard}; {needed} descriptors are needed")
    return int(wanted)


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found = [pid]
    for each in found:
        for task in Path(f"/proc/{each}/task").iterdir():
            with suppress(FileNotFoundError):
                found += map(int, (task / "children").read_text().split())
    return found


def rss_bytes(pid: int) -> int:
    total = 0
    for each in tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        if match := re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE):
            total += int(match.group(1)) * 1024
    return total


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def read_answer(sock: socket.socket) -> bool:
    """Read one response of the upstream's ``hello`` (headers and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 200")


def ask_all(socks: list[socket.socket]) -> int:
    """One request on each connection, in batches; how many got a 200."""
    good = 0
    for start in range(0, len(socks), BATCH):
        batch = socks[start : start + BATCH]
        sent = []
        for sock in batch:
            try:
                sock.sendall(REQUEST)
                sent.append(sock)
            except OSError:
                pass
        for sock in sent:
            with suppress(OSError):
                good += read_answer(sock)
    return good


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections, each after one answered request."""
    socks: list[socket.socket] = []
    for start in range(0, count, BATCH):
        batch = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(min(BATCH, count - start))]
        if ask_all(batch) != len(batch):
            raise RuntimeError(f"an idle connection to port {port} got no 200")
        socks += batch
    return socks


class Sampler:
    """RSS of a process tree every ``interval`` seconds, on a thread."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.started = time.monotonic()

    def run(self) -> None:
        while True:
            self.samples.append((time.monotonic() - self.started, rss_bytes(self.pid)))
            if self.stop.wait(self.interval):
                return

    @contextmanager
    def running(self) -> Iterator[Sampler]:
        self.thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            self.thread.join()
            self.samples.append((time.monotonic() - self.started, rss_bytes(self.pid)))


def wrk_requests(url: str, seconds: float, connections: int) -> tuple[int, float, str]:
    """Requests made, seconds taken, and wrk's errors line, of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if not match:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    taken = float(match.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(3)]
    errors = re.search(r"Socket errors: (.*)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    problems = ", ".join(filter(None, [errors and errors.group(1).strip(), non_2xx and f"non-2xx {non_2xx.group(1)}"]))
    return int(match.group(1)), taken, problems


def drive(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """``args.requests`` requests (or as many as ``args.budget`` allows), RSS sampled throughout."""
    done, elapsed, chunks, problems = 0, 0.0, [], []
    sampler = Sampler(pid, args.interval)
    with sampler.running():
        started = time.monotonic()
        while done < args.requests and elapsed < args.budget:
            made, _taken, trouble = wrk_requests(url, min(args.chunk, args.budget - elapsed), args.wrk_connections)
            done += made
            elapsed = time.monotonic() - started
            chunks.append({"requests": done, "seconds": round(elapsed, 1), "rss_mib": rss_bytes(pid) / MIB})
            if trouble:
                problems.append(trouble)
            log(f"  {done:,} requests in {elapsed:.0f} s, RSS {chunks[-1]['rss_mib']:.1f} MiB")
    rss = [value for _, value in sampler.samples]
    # The first tenth of the drive warms the allocator's arenas and the upstream pool; "flat"
    # is read from there to the end (wrk's rate is steady, so a tenth of the time is about a
    # tenth of the requests).
    tenth = next(value for at, value in sampler.samples if at >= sampler.samples[-1][0] / 10) / MIB
    return {
        "requests": done,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(done / elapsed) if elapsed else 0,
        "complete": done >= args.requests,
        "rss_start_mib": round(rss[0] / MIB, 1),
        "rss_after_tenth_mib": round(tenth, 1),
        "rss_end_mib": round(rss[-1] / MIB, 1),
        "rss_max_mib": round(max(rss) / MIB, 1),
        "rss_min_mib": round(min(rss) / MIB, 1),
        "samples": len(rss),
        "series_mib": [round(value / MIB, 1) for value in rss],
        "chunks": chunks,
        "wrk_problems": problems,
    }


def measure(name: str, port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/"
    log(f"{name}: warm-up {args.warmup:g} s")
    wrk_requests(url, args.warmup, args.wrk_connections)
    rss_before = rss_bytes(pid)
    log(f"{name}: RSS {rss_before / MIB:.1f} MiB; opening {args.connections:,} idle keep-alive connections")
    started = time.monotonic()
    socks = open_idle(port, args.connections)
    opened_in = time.monotonic() - started
    rss_idle = rss_bytes(pid)
    log(f"{name}: {len(socks):,} idle in {opened_in:.1f} s, RSS {rss_idle / MIB:.1f} MiB")
    try:
        log(f"{name}: driving {args.requests:,} requests (budget {args.budget:g} s), idle connections open")
        driven = drive(url, pid, args)
        rss_end = rss_bytes(pid)
        still_open = ask_all(socks)
        log(f"{name}: {still_open:,} of {len(socks):,} idle connections still answer")
    finally:
        for sock in socks:
            sock.close()
    return {
        "rss_before_idle_mib": round(rss_before / MIB, 1),
        "rss_idle_mib": round(rss_idle / MIB, 1),
        "idle_connections": len(socks),
        "kib_per_idle_connection": round((rss_idle - rss_before) / len(socks) / 1024, 2),
        "opened_in_s": round(opened_in, 1),
        "drive": driven,
        "rss_after_drive_mib": round(rss_end / MIB, 1),
        "idle_still_open": still_open,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=10_000, help="idle keep-alive connections")
    parser.add_argument("--requests", type=int, default=2_000_000, help="requests driven with wrk")
    parser.add_argument("--budget", type=float, default=300.0, help="at most this many seconds of wrk a front")
    parser.add_argument("--chunk", type=float, default=30.0, help="seconds of one wrk run")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between two RSS samples")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before the first RSS")
    parser.add_argument("--wrk-connections", type=int, default=64)
    parser.add_argument("--keepalive", type=int, default=3600, help="the fronts' keep-alive timeout, seconds")
    parser.add_argument("--only", default="", help="comma-separated fronts (stockade, native, nginx; default all)")
    parser.add_argument(
        "--stockade", default=str(Path(sys.executable).with_name("stockade")), help="the stockade command"
    )
    parser.add_argument(
        "--baseline-src", type=Path, help="also measure stockade and native from this src directory (before/after)"
    )
    parser.add_argument("--serve-native", nargs=2, type=int, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_native:
        serve_native(args.serve_native[0], args.serve_native[1], 1, keepalive=args.keepalive)
        return 0
    chosen = [f for f in args.only.split(",") if f] or list(FRONTS)
    if args.baseline_src:
        chosen = [f for front in chosen for f in ([front] if front == "nginx" else [front + BASELINE, front])]
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            log(f"bench/front_memory.py needs {tool} (apt-get install -y {tool})")
            return 2
    # The client holds the idle connections; each front holds them and its upstream pool.
    nofile = raise_nofile(args.connections + 2 * args.wrk_connections + 512)
    load_start = load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stockade-bench-memory-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

        def start_nginx(name: str, body: str) -> int:
            own = directory / name
            own.mkdir()
            conf = own / "nginx.conf"
            worker_connections = args.connections + 4 * args.wrk_connections + 1024
            text = NGINX_CONF.format(
                dir=own, body=body, nofile=nofile, worker_connections=worker_connections, keepalive=args.keepalive
            )
            conf.write_text(text)
            master = stack.enter_context(process([nginx_bin, "-p", str(own), "-c", str(conf)], name, directory))
            nginx_worker(master)
            return master

        up_port = free_port()
        start_nginx("upstream", UPSTREAM.format(port=up_port))
        wait_ready(up_port)
        for front in chosen:
            port = free_port()
            kind, baseline, _ = front.partition(BASELINE)
            src = args.baseline_src if baseline else ROOT / "src"
            if front == "nginx":
                pid = start_nginx("proxy", NGINX_PROXY.format(port=port, upstream=up_port))
            elif kind == "native":
                # bench/proxy.py's front without a request filter: the data plane's own memory.
                own = directory / front
                own.mkdir()
                command = [sys.executable, __file__, "--serve-native", str(port), str(up_port)]
                command += ["--keepalive", str(args.keepalive)]
                env = {**os.environ, "PYTHONPATH": str(src)}
                pid = stack.enter_context(process(command, front, own, env))
            elif kind == "stockade":
                own = directory / front
                own.mkdir()
                config = own / "stockade.toml"
                config.write_text(STOCKADE_CONF.format(port=port, upstream=up_port, keepalive=args.keepalive))
                env = {**os.environ, "PYTHONPATH": str(src)}
                command = [args.stockade, "serve", "-c", str(config)]
                pid = stack.enter_context(process(command, front, own, env))
            else:
                raise SystemExit(f"--only: no front {front!r} ({', '.join(FRONTS)})")
            wait_ready(port)
            results[front] = measure(label(front), port, pid, args)
    load_end = load_average()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_start} -> {load_end}")
    print(f"{args.connections:,} idle keep-alive connections, then wrk -t2 -c{args.wrk_connections}: up to")
    print(f"{args.requests:,} requests or {args.budget:g} s a front; RSS (VmRSS of the process tree) in MiB")
    head = f"{'front':<48} {'RSS MiB':>8} {'idle':>8} {'KiB/conn':>8}"
    print(f"{head} {'requests':>10} {'req/s':>7} {'start':>7} {'10%':>7} {'end':>7} {'max':>7} {'open':>6}")
    for front, r in results.items():
        d = r["drive"]
        print(
            f"{label(front):<38} {r['rss_before_idle_mib']:>8.1f} {r['rss_idle_mib']:>8.1f} "
            f"{r['kib_per_idle_connection']:>8.2f} {d['requests']:>10,} {d['requests_per_s']:>7,} "
            f"{d['rss_start_mib']:>7.1f} {d['rss_after_tenth_mib']:>7.1f} {d['rss_end_mib']:>7.1f} "
            f"{d['rss_max_mib']:>7.1f} {r['idle_still_open']:>6,}"
        )
        if not d["complete"]:
            print(f"  {label(front)}: only {d['requests']:,} of {args.requests:,} requests within {args.budget:g} s")
        if d["wrk_problems"]:
            print(f"  {label(front)}: wrk reported {'; '.join(d['wrk_problems'])}")
    if "stockade" in results:
        r = results["stockade"]
        verdict = "met" if r["rss_idle_mib"] * MIB <= 100e6 else "not met"
        if r["idle_connections"] < 10_000:
            verdict += ", but the target is for 10,000"
        idle, count = r["rss_idle_mib"], r["idle_connections"]
        print(f"stockade: {count:,} idle connections in {idle:.1f} MiB (target 100 MB = 95.4 MiB: {verdict})")
        if "nginx" in results:
            ratio = idle / results["nginx"]["rss_idle_mib"]
            print(f"stockade / nginx RSS with the idle connections: {ratio:.2f}")
    summary = {"load_average": {"start": load_start, "end": load_end}, "args": vars(args), **results}
    print(json.dumps(summary, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
