"""What the middlewares cost a request in-process, in instructions: a measure no load can blur.

The throughput of ``bench/middleware.py`` swings with whatever else the machine runs. This
benchmark calls the same hello worlds in-process (no server, no sockets) under valgrind's
callgrind, which counts the instructions executed, and reports the instructions a request
of each app and the ratio of each guarded app to its bare twin. Each app runs twice, with
``--requests`` and three times as many requests after the same warm-up, and the difference
is divided by the extra requests, so start-up (the imports, the guard, the native ladder)
cancels out. The apps and the configuration are ``bench/middleware.py``'s: a login lockout,
100 mod_block rules, a 100,000-entry IP blocklist, the built-in ban rules, a SQLite store.

The other processes' catch-up (one ``PRAGMA data_version`` at most every millisecond, the
ban view brought up to date) is left out: under callgrind each request takes more than a
millisecond, so it would run on every request instead of once in tens.

    .venv/bin/python bench/middleware_cost.py                  # every app
    .venv/bin/python bench/middleware_cost.py --only django    # one group

Needs valgrind (``apt-get install valgrind``). An instruction is not a nanosecond (a
system call, a cache miss and the server's own work are not in it), so this says what
the middleware adds to the app's own work, not the throughput a server keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from middleware import has_axes, write_site  # noqa: E402

# The app each name runs: (module, attribute, kind), kind "asgi" or "wsgi".
APPS = {
    "asgi-bare": ("apps", "hello_asgi", "asgi"),
    "asgi-stockade": ("apps", "guarded_asgi", "asgi"),
    "starlette-bare": ("starlette_apps", "bare", "asgi"),
    "starlette-stockade": ("starlette_apps", "guarded", "asgi"),
    "wsgi-bare": ("apps", "hello_wsgi", "wsgi"),
    "wsgi-stockade": ("apps", "guarded_wsgi", "wsgi"),
    "django-bare": ("django_bare", "application", "wsgi"),
    "django-stockade": ("django_stockade", "application", "wsgi"),
    "django-axes": ("django_axes", "application", "wsgi"),
}
GROUPS = {
    "asgi": ["asgi-bare", "asgi-stockade"],
    "starlette": ["starlette-bare", "starlette-stockade"],
    "wsgi": ["wsgi-bare", "wsgi-stockade"],
    "django": ["django-bare", "django-stockade", "django-axes"],
}

# Run inside valgrind: warm up, turn the instrumentation on, run the requests, turn it off.
DRIVER = """
import asyncio, io, os, subprocess, sys
module, attribute, kind, count, warm = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
app = getattr(__import__(module), attribute)
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]

def scope():
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 51000), "scheme": "http", "method": "GET",
            "root_path": "", "path": "/", "raw_path": b"/", "query_string": b"", "headers": list(HEADERS)}

def environ():
    return {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "", "RAW_URI": "/",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "51000", "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_USER_AGENT": "wrk", "HTTP_ACCEPT": "*/*", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False}

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

def started(status, headers, exc_info=None):
    pass

loop = asyncio.new_event_loop()

def run(n):
    if kind == "asgi":
        async def many():
            for _ in range(n):
                await app(scope(), receive, send)
        loop.run_until_complete(many())
    else:
        for _ in range(n):
            for _chunk in app(environ(), started):
                pass

def no_catch_up():
    # Other processes' catch-up paces itself by the millisecond; see the module's docstring.
    from stockade.stores.sqlite import SQLiteStore
    import gc
    for thing in gc.get_objects():
        if issubclass(type(thing), SQLiteStore):  # type(): lazy objects must stay unevaluated
            thing._catch_up_seconds = float("inf")
            thing._next_catch_up = float("inf")

run(warm)
no_catch_up()
subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=False)
run(count)
subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=False)
"""


def instructions(base: Path, name: str, count: int, warm: int) -> int:
    module, attribute, kind = APPS[name]
    out = base / f"callgrind.{name}.{count}"
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, str(base / "driver.py"), module, attribute, kind, str(count), str(warm),
    ]  # fmt: skip
    env = {**os.environ, "STOCKADE_CONFIG": str(base / "stockade.toml"), "PYTHONPATH": f"{base}:{ROOT / 'src'}"}
    done = subprocess.run(command, cwd=base, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"{name}: valgrind failed\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="requests of the short run (the long one: 3x)")
    parser.add_argument("--warm", type=int, default=5000, help="requests before counting (the first open the guard)")
    parser.add_argument("--only", default="", help=f"comma-separated groups: {', '.join(GROUPS)} (default: all)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("bench/middleware_cost.py needs valgrind (apt-get install valgrind)")
    groups = [name.strip() for name in args.only.split(",") if name.strip()] or list(GROUPS)
    if any(group not in GROUPS for group in groups):
        sys.exit(f"--only: groups are {', '.join(GROUPS)}")
    names = [name for group in groups for name in GROUPS[group] if name != "django-axes" or has_axes()]
    per_request: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_site(base)
        (base / "driver.py").write_text(DRIVER)
        for name in names:
            short = instructions(base, name, args.requests, args.warm)
            long = instructions(base, name, 3 * args.requests, args.warm)
            per_request[name] = (long - short) / (2 * args.requests)
            print(f"{name:20} {per_request[name]:10,.0f} instructions a request", flush=True)
    result: dict[str, object] = {"instructions": {name: round(value) for name, value in per_request.items()}}
    for group in groups:
        bare = per_request.get(GROUPS[group][0])
        for name in GROUPS[group][1:]:
            if bare is not None and name in per_request:
                ratio = bare / per_request[name]
                result[f"{name}_ratio"] = round(ratio, 3)
                added = per_request[name] - bare
                print(f"{name:20} adds {added:8,.0f} instructions to {GROUPS[group][0]}: ratio {ratio:.3f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
