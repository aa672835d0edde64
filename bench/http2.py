"""Benchmark the native front over TLS: HTTP/2 against HTTP/1.1, in front of the same upstream.

Speed is measured, not asserted. In one run: an upstream (nginx, one worker, answering a
static ``hello`` from memory) and the native front alone (no checks, one thread) on a TLS
listener offering ``h2`` and ``http/1.1``. h2load drives it over TLS (``--h1``: HTTP/1.1
keep-alive connections; else HTTP/2 with ``-m`` streams at once a connection), in
alternating rounds (3 by default), since the machine's load moves both; the median of each
round's ratio HTTP/2 / HTTP/1.1 is reported, with the CPU the front spent per request.

Run with ``python bench/http2.py`` (about a minute; ``--rounds 1 --requests 20000`` for a
quick look). Needs ``nginx``, ``openssl`` and ``h2load`` (Debian: ``nghttp2-client``).
Progress goes to stderr; stdout gets a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy import UPSTREAM, cpu_seconds, free_port, log, median, nginx, process


def serve(port: int, upstream: int, certfile: str, keyfile: str) -> None:
    """The native front alone on a TLS listener (``--serve``)."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from stockade import _native  # noqa: PLC0415

    site = _native.FrontSite(
        limits=(64 * 1024, None, 10.0, 30.0, 30.0, 5.0),
        upstreams=[("127.0.0.1", upstream, b"", 5.0, 60.0, 64)],
    )
    sock = _native.bind_socket("127.0.0.1", port)
    options = _native.ListenerOptions(f"127.0.0.1:{port}", tls=(certfile, keyfile, None, "none"))
    front = _native.NativeFront.start(workers=1, listeners=[(sock, options)], site=site)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    front.stop()


def certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def h2load(url: str, *, http1: bool, requests: int, clients: int, streams: int) -> dict[str, Any]:
    command = ["h2load", f"-n{requests}", f"-c{clients}", f"-m{1 if http1 else streams}", url]
    if http1:
        command.insert(1, "--h1")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    done = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output)
    status = re.search(r"status codes: (\d+) 2xx", output)
    protocol = re.search(r"Application protocol: (\S+)", output)
    if done is None or status is None:
        raise RuntimeError(f"cannot read h2load's output:\n{output}")
    return {
        "requests_per_s": float(done.group(1)),
        "ok": int(status.group(1)),
        "protocol": protocol.group(1) if protocol else "",
    }


def measure(name: str, url: str, pid: int, args: argparse.Namespace, *, http1: bool) -> dict[str, Any]:
    streams = 1 if http1 else args.streams
    log(f"{name}: h2load -n{args.requests} -c{args.clients} -m{streams}")
    h2load(url, http1=http1, requests=args.requests // 5, clients=args.clients, streams=args.streams)  # warm-up
    user0, sys0 = cpu_seconds(pid)
    result = h2load(url, http1=http1, requests=args.requests, clients=args.clients, streams=args.streams)
    user1, sys1 = cpu_seconds(pid)
    result["cpu_us_per_request"] = round((user1 - user0 + sys1 - sys0) / args.requests * 1e6, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--streams", type=int, default=10, help="HTTP/2 streams at once a connection")
    parser.add_argument("--serve", nargs=4, metavar=("PORT", "UPSTREAM", "CERT", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), int(args.serve[1]), args.serve[2], args.serve[3])
        return 0
    with tempfile.TemporaryDirectory(prefix="stockade-bench-h2-") as temp:
        directory = Path(temp)
        cert, key = certificate(directory)
        upstream_port = free_port()
        with nginx("upstream", UPSTREAM.format(port=upstream_port), directory):
            port = free_port()
            command = [sys.executable, __file__, "--serve", str(port), str(upstream_port), str(cert), str(key)]
            with process(command, "front", directory) as pid:
                ready = directory / "front.log"
                while b"ready" not in ready.read_bytes():
                    time.sleep(0.05)
                url = f"https://127.0.0.1:{port}/"
                rounds: list[dict[str, dict[str, Any]]] = []
                for number in range(args.rounds):
                    log(f"round {number + 1} of {args.rounds}")
                    rounds.append(
                        {
                            "http1": measure("HTTP/1.1", url, pid, args, http1=True),
                            "h2": measure("HTTP/2", url, pid, args, http1=False),
                        }
                    )
    ratios = [r["h2"]["requests_per_s"] / r["http1"]["requests_per_s"] for r in rounds]
    summary = {
        "clients": args.clients,
        "streams": args.streams,
        "requests": args.requests,
        "rounds": rounds,
        "h2_over_http1": round(median(ratios), 3),
    }
    print(f"{'front':<10} {'req/s (median)':>15} {'CPU us/request':>15}")
    for protocol in ("http1", "h2"):
        runs = [r[protocol] for r in rounds]
        middle = sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2]
        print(f"{protocol:<10} {middle['requests_per_s']:>15.0f} {middle['cpu_us_per_request']:>15.2f}")
    print(f"HTTP/2 / HTTP/1.1 (median of the rounds' ratios): {summary['h2_over_http1']}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
