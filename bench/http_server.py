"""Benchmark the protecting server's HTTP machinery against uvicorn, in one run.

The same hello-world ASGI app runs under stockade's own server (:mod:`stockade.server.http`),
once more with its JSON access log on (written to ``/dev/null``), and under uvicorn
(``http="httptools"``, uvloop, no access log, lifespan off), each in a subprocess with one
worker. ``wrk`` (Debian package) loads each in turn over keep-alive connections; the
throughput ratio is printed with the latency percentiles. Rounds alternate between the
servers and the best round of each is kept, so that a burst of other load on the machine
does not decide the ratio.

    .venv/bin/python bench/http_server.py                 # 3 rounds of 5 s each
    .venv/bin/python bench/http_server.py --seconds 2 --rounds 1

The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import uvicorn

from stockade.server.http import HttpServer, JsonLinesLog, bind_listeners, run
from stockade.server.listen import ListenAddress
from stockade.server.settings import ListenerSpec

BODY = b"Hello, world!"
SERVERS = ("uvicorn", "stockade", "stockade+log")  # +log: the JSON access log on, written to /dev/null


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": BODY})


def serve_stockade(port: int, *, access_log: bool = False) -> None:
    listeners = bind_listeners([ListenerSpec(ListenAddress("127.0.0.1", port))])
    sink = JsonLinesLog.open(os.devnull) if access_log else None
    print("ready", flush=True)
    run(HttpServer(hello, listeners, access_log=sink), handle_signals=True)


def serve_uvicorn(port: int) -> None:
    config = uvicorn.Config(
        hello,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    print("ready", flush=True)
    uvicorn.Server(config).run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{kind} did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(port: int, seconds: float, connections: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        figures[f"p{pct}_ms"] = float(value) * _UNITS[unit]
    if "Non-2xx" in out or "Socket errors" in out:
        figures["errors"] = 1.0
    return figures


def measure(kind: str, seconds: float, connections: int) -> dict[str, float]:
    process, port = start(kind)
    try:
        wrk(port, 1, connections)  # warm-up
        return wrk(port, seconds, connections)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve in ("stockade", "stockade+log"):
        serve_stockade(args.port, access_log=args.serve == "stockade+log")
        return
    if args.serve == "uvicorn":
        serve_uvicorn(args.port)
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/http_server.py needs wrk (apt-get install wrk)")
    best: dict[str, dict[str, float]] = {}
    for round_ in range(args.rounds):
        for kind in SERVERS:
            figures = measure(kind, args.seconds, args.connections)
            print(f"round {round_ + 1} {kind}: {figures['rps']:.0f} req/s", file=sys.stderr)
            if kind not in best or figures["rps"] > best[kind]["rps"]:
                best[kind] = figures
    ratio = best["stockade"]["rps"] / best["uvicorn"]["rps"]
    print(f"{platform.python_implementation()} {platform.python_version()}, wrk -t1 -c{args.connections}")
    print(f"{'server':<13} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for kind in SERVERS:
        f = best[kind]
        print(f"{kind:<13} {f['rps']:>9.0f} {f['p50_ms']:>8.2f} {f['p90_ms']:>8.2f} {f['p99_ms']:>8.2f}")
    print(f"stockade / uvicorn throughput: {ratio:.2f}")
    print(json.dumps({"connections": args.connections, "seconds": args.seconds, **best, "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
