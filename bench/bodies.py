"""Benchmark what reading request bodies for detection costs, in the middlewares and the protecting server.

Each front runs twice in one run: with detection on (``[bans]`` with the built-in rules and
the default ``body_limit`` of 64 KB: the first 64 KB of a body are read before the checks
decide) and with detection off (``[bans] enabled = false``: nothing is read ahead), the
in-run baseline. The fronts:

- ``asgi``: the ASGI middleware under uvicorn (httptools, uvloop, one worker) around an app
  that reads the whole body and answers ``hello``;
- ``wsgi``: the WSGI middleware under gunicorn (one gthread worker, 4 threads) around the
  same app;
- ``serve``: ``stockade serve`` (the native front, one thread; the rows of BENCHMARKS.md
  recorded before the Python engine was removed ran it on the Python server) as a reverse
  proxy in front of nginx answering ``hello`` (nginx reads and drops the body).

Three requests: ``GET /`` without a body; ``POST`` with a small urlencoded form (three
fields, about 60 bytes, a counter in one of them so that no memo answers it); ``POST`` with
a 64 KB urlencoded form (about 1,500 fields of ordinary words). ``wrk -t2 -c32`` drives each
(a Lua script sets the method and body), on and off alternating in rounds, best round of
each kept; the ratio on / off is printed per front and request. The GET row shows what
detection and the ban lookup cost without a body, so the POST rows minus it are what the
body costs.

In-process first (``--no-sockets`` for only this part): the ASGI and WSGI middlewares called
in a loop without a server, in microseconds a request, on and off; then the read-ahead
alone, without detection (ASGI: ``read_ahead`` and the replayed ``receive``; WSGI:
``read_ahead_wsgi`` and the app's read through ``PrefixedInput``), against reading the body
plainly.

    .venv/bin/python bench/bodies.py                        # about 6 minutes
    .venv/bin/python bench/bodies.py --seconds 2 --rounds 1

Needs ``wrk`` and ``nginx`` (Debian packages) for the socket part. The last line of stdout
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

CONFIG_ON = """\
[store]
url = "sqlite:///{name}.db"

[bans]
rules = ["builtin"]
"""
CONFIG_OFF = """\
[store]
url = "sqlite:///{name}.db"

[bans]
enabled = false
"""
SERVE = """\
[server]
listen = ["127.0.0.1:{port}"]
upstream = {{ url = "http://127.0.0.1:{upstream}", max_idle_connections = 64 }}
workers = 1

"""
NGINX = """\
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
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        client_body_buffer_size 128k;
        location / {{ default_type text/plain; return 200 'hello'; }}
    }}
}}
"""

APPS = """\
import os
from stockade.adapters.asgi import StockadeMiddleware
from stockade.adapters.wsgi import StockadeWSGI

BODY = b"hello"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"5")]


async def hello_asgi(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("the middleware speaks lifespan")
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def hello_wsgi(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    while length > 0:
        piece = stream.read(min(length, 65536))
        if not piece:
            break
        length -= len(piece)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [BODY]


CONFIG = os.environ["BENCH_CONFIG"]
asgi = StockadeMiddleware(hello_asgi, CONFIG)
wsgi = StockadeWSGI(hello_wsgi, CONFIG)
"""

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "bakers",
    "sell",
    "fresh",
    "bread",
]
FORM_TYPE = "application/x-www-form-urlencoded"


def small_form(counter: int) -> bytes:
    return f"name=Jo+Bloggs&email=jo%40example.com&comment=hello+number+{counter}".encode()


def large_form(size: int = 64 * 1024) -> bytes:
    """An ordinary urlencoded form of ``size`` bytes: fields of plain words."""
    fields, total, i = [], 0, 0
    while total < size:
        words = "+".join(WORDS[(i + k) % len(WORDS)] for k in range(5))
        field = f"field{i}={words}"
        fields.append(field)
        total += len(field) + 1
        i += 1
    return "&".join(fields).encode()[:size]


# -- in-process -----------------------------------------------------------------------------------


def _asgi_calls(app: Any, bodies: Callable[[int], bytes | None], count: int, rounds: int) -> float:
    """The best of ``rounds`` loops of ``count`` calls, after a loop to warm the guard up."""

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run() -> float:
        await app.startup()
        timings = [await loop() for _ in range(rounds + 1)]
        await app.shutdown()
        return min(timings[1:])

    async def loop() -> float:
        started = time.perf_counter()
        for i in range(count):
            body = bodies(i)
            headers = [(b"host", b"bench"), (b"user-agent", b"bench/1.0")]
            if body is not None:
                headers += [(b"content-type", FORM_TYPE.encode()), (b"content-length", str(len(body)).encode())]
            scope = {
                "type": "http",
                "http_version": "1.1",
                "method": "GET" if body is None else "POST",
                "path": "/",
                "raw_path": b"/",
                "query_string": b"",
                "headers": headers,
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            messages = [{"type": "http.request", "body": body or b"", "more_body": False}]

            async def receive(queue: list[dict[str, Any]] = messages) -> dict[str, Any]:
                return queue.pop() if queue else {"type": "http.disconnect"}

            await app(scope, receive, send)
        return time.perf_counter() - started

    return asyncio.run(run()) / count * 1e6


def _wsgi_calls(app: Any, bodies: Callable[[int], bytes | None], count: int, rounds: int) -> float:
    """As :func:`_asgi_calls`, for the WSGI middleware."""
    timings = [_wsgi_loop(app, bodies, count) for _ in range(rounds + 1)]
    return min(timings[1:]) / count * 1e6


def _wsgi_loop(app: Any, bodies: Callable[[int], bytes | None], count: int) -> float:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    started = time.perf_counter()
    for i in range(count):
        body = bodies(i)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET" if body is None else "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "bench",
            "HTTP_USER_AGENT": "bench/1.0",
            "wsgi.input": io.BytesIO(body or b""),
            "wsgi.url_scheme": "http",
        }
        if body is not None:
            environ["CONTENT_TYPE"] = FORM_TYPE
            environ["CONTENT_LENGTH"] = str(len(body))
        for _ in app(environ, start_response):
            pass
    return time.perf_counter() - started


def in_process(base: Path, count: int, rounds: int) -> dict[str, dict[str, float]]:
    sys.path.insert(0, str(base))
    from stockade.adapters.asgi import StockadeMiddleware  # noqa: PLC0415
    from stockade.adapters.wsgi import StockadeWSGI  # noqa: PLC0415

    large = large_form()
    bodies: dict[str, Callable[[int], bytes | None]] = {
        "get": lambda i: None,
        "small_form": small_form,
        "form_64k": lambda i: large,
    }

    async def hello_asgi(scope: Any, receive: Any, send: Any) -> None:
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    def hello_wsgi(environ: Any, start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [])
        return [b"hello"]

    figures: dict[str, dict[str, float]] = {}
    for variant in ("off", "on"):
        config = base / f"inproc-{variant}.toml"
        for kind, make in bodies.items():
            n = count if kind != "form_64k" else max(count // 20, 50)
            asgi = StockadeMiddleware(hello_asgi, config)
            wsgi = StockadeWSGI(hello_wsgi, config)
            best_asgi = _asgi_calls(asgi, make, n, rounds)
            best_wsgi = _wsgi_calls(wsgi, make, n, rounds)
            wsgi.process.close()
            figures.setdefault(f"asgi/{kind}", {})[variant] = round(best_asgi, 2)
            figures.setdefault(f"wsgi/{kind}", {})[variant] = round(best_wsgi, 2)
    return figures


def plumbing(count: int, rounds: int) -> dict[str, dict[str, float]]:
    """The read-ahead alone, without detection: what feeding a body to the checks adds to reading it."""
    from stockade.request.body import read_ahead, read_ahead_wsgi  # noqa: PLC0415

    limit = 64 * 1024
    figures: dict[str, dict[str, float]] = {}
    for kind, body in (("small_form", small_form(1)), ("form_64k", large_form())):
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
            return message

        async def asgi(ahead: bool, body: bytes = body) -> float:
            started = time.perf_counter()
            for _ in range(count):
                given = receive
                if ahead:
                    found = await read_ahead(receive, limit, len(body))
                    assert found is not None
                    given = found.replay(receive)
                await given()
            return (time.perf_counter() - started) / count * 1e6

        def wsgi(ahead: bool, body: bytes = body) -> float:
            started = time.perf_counter()
            for _ in range(count):
                environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
                if ahead:
                    read_ahead_wsgi(environ, limit)
                environ["wsgi.input"].read(len(body))
            return (time.perf_counter() - started) / count * 1e6

        figures[f"asgi/{kind}"] = {
            "plain": round(min(asyncio.run(asgi(False)) for _ in range(rounds)), 2),
            "read_ahead": round(min(asyncio.run(asgi(True)) for _ in range(rounds)), 2),
        }
        figures[f"wsgi/{kind}"] = {
            "plain": round(min(wsgi(False) for _ in range(rounds)), 2),
            "read_ahead": round(min(wsgi(True) for _ in range(rounds)), 2),
        }
    return figures


# -- over sockets ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(1200):
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"{what} never answered")


@contextmanager
def started(command: list[str], cwd: Path, env: dict[str, str], port: int, what: str) -> Iterator[None]:
    with (cwd / f"{what}.log").open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, process, what)
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def front_command(front: str, port: int, config: Path) -> list[str]:
    if front == "asgi":
        return [str(BIN / "uvicorn"), "apps:asgi", "--port", str(port), "--http", "httptools", "--loop", "uvloop",
                "--no-access-log", "--log-level", "warning"]  # fmt: skip
    if front == "wsgi":
        return [str(BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "apps:wsgi"]  # fmt: skip
    return [str(BIN / "stockade"), "serve", "-c", str(config)]


LUA_POST = """\
local f = io.open("{path}", "rb")
local body = f:read("*all")
f:close()
local counter = 0
request = function()
  counter = counter + 1
  local text = body
  if {vary} then
    text = string.gsub(body, "COUNTER", tostring(counter))
  end
  return wrk.format("POST", "/", {{["Content-Type"] = "{content_type}"}}, text)
end
"""


def wrk(port: int, seconds: float, connections: int, script: Path | None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def over_sockets(base: Path, args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    scripts: dict[str, Path | None] = {"get": None}
    (base / "small.txt").write_bytes(small_form(0).replace(b"number+0", b"number+COUNTER"))
    (base / "large.txt").write_bytes(large_form())
    for kind, path, vary in (("small_form", base / "small.txt", "true"), ("form_64k", base / "large.txt", "false")):
        script = base / f"{kind}.lua"
        script.write_text(LUA_POST.format(path=path, vary=vary, content_type=FORM_TYPE))
        scripts[kind] = script
    nginx_dir = base / "nginx"
    nginx_dir.mkdir()
    upstream = free_port()
    (nginx_dir / "nginx.conf").write_text(NGINX.format(dir=nginx_dir, port=upstream))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    best: dict[str, dict[str, dict[str, float]]] = {}
    env_base = {**os.environ, "PYTHONPATH": f"{base}{os.pathsep}{ROOT / 'src'}"}
    nginx_command = [nginx_bin, "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf")]
    with started(nginx_command, nginx_dir, env_base, upstream, "nginx"):
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_} of {args.rounds}", file=sys.stderr, flush=True)
            for front in ("asgi", "wsgi", "serve"):
                for variant in ("off", "on"):
                    port = free_port()
                    own = base / f"{front}-{variant}"
                    own.mkdir(exist_ok=True)
                    config = own / "stockade.toml"
                    text = (CONFIG_ON if variant == "on" else CONFIG_OFF).format(name=f"{front}-{variant}")
                    if front == "serve":
                        text = SERVE.format(port=port, upstream=upstream) + text
                    config.write_text(text)
                    env = {**env_base, "BENCH_CONFIG": str(config)}
                    with started(front_command(front, port, config), base, env, port, f"{front}-{variant}"):
                        for kind, script in scripts.items():
                            wrk(port, 1, args.connections, script)  # warm-up
                            figures = wrk(port, args.seconds, args.connections, script)
                            key = f"{front}/{kind}"
                            previous = best.setdefault(key, {}).get(variant)
                            if previous is None or figures["rps"] > previous["rps"]:
                                best[key][variant] = figures
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--count", type=int, default=4000, help="in-process calls per measurement")
    parser.add_argument("--no-sockets", action="store_true", help="only the in-process part")
    args = parser.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stockade-bench-bodies-") as tmp:
        base = Path(tmp)
        (base / "apps.py").write_text(APPS)
        for variant, text in (("on", CONFIG_ON), ("off", CONFIG_OFF)):
            (base / f"inproc-{variant}.toml").write_text(text.format(name=base / f"inproc-{variant}"))
        inproc = in_process(base, args.count, args.rounds)
        result["in_process_us"] = inproc
        print("in-process, microseconds a request (best of rounds):")
        print(f"  {'front/request':<20} {'detection off':>14} {'on':>10} {'on - off':>10}")
        for key, figures in inproc.items():
            print(f"  {key:<20} {figures['off']:>14.1f} {figures['on']:>10.1f} {figures['on'] - figures['off']:>10.1f}")
        alone = plumbing(args.count * 5, args.rounds)
        result["read_ahead_us"] = alone
        print("the read-ahead alone (no detection), microseconds a body:")
        print(f"  {'front/body':<20} {'plain read':>14} {'read ahead':>10} {'difference':>10}")
        for key, figures in alone.items():
            difference = figures["read_ahead"] - figures["plain"]
            print(f"  {key:<20} {figures['plain']:>14.2f} {figures['read_ahead']:>10.2f} {difference:>10.2f}")
        if not args.no_sockets:
            if shutil.which("wrk") is None or (shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists()):
                sys.exit("bench/bodies.py needs wrk and nginx for the socket part (or --no-sockets)")
            best = over_sockets(base, args)
            result["sockets"] = best
            print(f"over sockets, wrk -t2 -c{args.connections}, best of {args.rounds} rounds of {args.seconds:g} s:")
            print(f"  {'front/request':<20} {'off req/s':>10} {'on req/s':>10} {'on/off':>7}")
            ratios: dict[str, float] = {}
            for key, figures in best.items():
                ratio = figures["on"]["rps"] / figures["off"]["rps"]
                ratios[key] = round(ratio, 3)
                errors = figures["on"]["non_2xx"] + figures["off"]["non_2xx"]
                note = f"  ({errors:.0f} non-2xx)" if errors else ""
                print(f"  {key:<20} {figures['off']['rps']:>10.0f} {figures['on']['rps']:>10.0f} {ratio:>7.1%}{note}")
            result["ratios"] = ratios
    print(json.dumps(result))


if __name__ == "__main__":
    main()
