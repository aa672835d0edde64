"""Benchmark the middleware: a hello-world endpoint with and without stockade, in one run.

The same endpoint runs bare and behind the middleware under uvicorn (the ASGI middleware;
httptools, uvloop, one worker, no access log) and under gunicorn (the WSGI middleware;
one gthread worker with 4 threads). The guarded apps carry the full load of a production
configuration: a login lockout, 100 mod_block rules, a 100,000-entry IP blocklist and the
built-in ban rules, on a SQLite store in the run's temporary directory. ``wrk`` drives each
over keep-alive connections; rounds alternate and the best round of each is kept, so that
a burst of other load on the machine does not decide the ratio.

    .venv/bin/python bench/middleware.py                 # 3 rounds of 5 s each
    .venv/bin/python bench/middleware.py --seconds 2 --rounds 1
    .venv/bin/python bench/middleware.py --only starlette,django   # the frameworks' rows

The issue's own hello worlds run too, each bare and guarded the way its README section says:
Starlette's (one route, ``PlainTextResponse``) under uvicorn with ``protect(app, ...)``,
and Django's (``startproject``'s middleware and apps, one view) under gunicorn with the
Django middleware and backend first, and with django-axes instead when it is installed
(``pip install django-axes``; its column is left out otherwise).

Target: guarded throughput at least 90% of the bare one under uvicorn (Starlette's hello
world) and 95% under gunicorn (Django's). For scale, uvicorn also runs the
endpoint behind a middleware that does nothing but spin for 2 µs of CPU a request: what a
fixed in-process cost does to this hello world on this machine. A fifth variant turns the
native ladder off (the Python ladder decides every request, as before issue 17). The last line of stdout is
one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
RULES = 100
BLOCKLIST = 100_000

APPS = """\
import os
import time
from stockade.adapters.asgi import StockadeMiddleware
from stockade.adapters.wsgi import ProcessGuard, StockadeWSGI

BODY = b"Hello, world!"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]
CONFIG = os.environ["STOCKADE_CONFIG"]
LOGINS = [{"path": "/login", "max_retries": 3}]


async def hello_asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def hello_wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [BODY]


async def spin_asgi(scope, receive, send):
    # The calibration: 2 microseconds of CPU, then the endpoint.
    end = time.perf_counter() + 2e-6
    while time.perf_counter() < end:
        pass
    await hello_asgi(scope, receive, send)


guarded_asgi = StockadeMiddleware(hello_asgi, CONFIG, logins=LOGINS)
guarded_wsgi = StockadeWSGI(hello_wsgi, CONFIG, logins=LOGINS)


# The same, with the native ladder off: the Python ladder decides every request (before issue 17).
class PythonLadderASGI(StockadeMiddleware):
    def _build_native(self, ladder):
        super()._build_native(ladder)
        self.native = None


class PythonLadderProcess(ProcessGuard):
    def rebuild(self, ladder):
        super().rebuild(ladder)
        self.native = None


python_asgi = PythonLadderASGI(hello_asgi, CONFIG, logins=LOGINS)
python_wsgi = StockadeWSGI(hello_wsgi, CONFIG, logins=LOGINS)
python_wsgi.process = PythonLadderProcess(python_wsgi.protection, python_wsgi.clock)
# Without [block]: the cost of the middleware itself, bans and lockout, without the rules.
LITE = CONFIG.replace("stockade.toml", "stockade-lite.toml")
lite_asgi = StockadeMiddleware(hello_asgi, LITE, logins=LOGINS)
lite_wsgi = StockadeWSGI(hello_wsgi, LITE, logins=LOGINS)
"""

STARLETTE = """\
import os
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from stockade.adapters.fastapi import protect


async def hello(request):
    return PlainTextResponse("Hello, world!")


bare = Starlette(routes=[Route("/", hello)])
guarded = Starlette(routes=[Route("/", hello)])
protect(guarded, os.environ["STOCKADE_CONFIG"], logins=[{"path": "/login", "max_retries": 3}])
"""

# One module a variant: ``kind`` is bare, stockade or axes (django-axes, as its docs set it up).
DJANGO = """\
import os
from django.conf import settings

KIND = "{kind}"
middleware = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
apps = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "django.contrib.messages"]
backends = ["django.contrib.auth.backends.ModelBackend"]
if KIND == "stockade":
    middleware.insert(0, "stockade.adapters.django.StockadeMiddleware")
    backends.insert(0, "stockade.adapters.django.StockadeBackend")
elif KIND == "axes":
    apps.append("axes")
    middleware.append("axes.middleware.AxesMiddleware")
    backends.insert(0, "axes.backends.AxesStandaloneBackend")
settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="bench-only",
    ROOT_URLCONF=__name__,
    MIDDLEWARE=middleware,
    INSTALLED_APPS=apps,
    AUTHENTICATION_BACKENDS=backends,
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "django-{kind}.db"}}}},
    STOCKADE={{"config": os.environ["STOCKADE_CONFIG"], "logins": [{{"path": "/login", "max_retries": 3}}]}},
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def hello(request):
    return HttpResponse(b"Hello, world!", content_type="text/plain")


urlpatterns = [path("", hello)]
application = get_wsgi_application()
"""

CONFIG = """\
[store]
url = "sqlite:///stockade.db"

[bans]
malicious_req_threshold = 5

[block]
rules = "rules.data"
ip_blocklist = "blocklist.data"
hosts = { default_product = "web" }

[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
"""

# (server, app) -> the command; {port} is filled in.
SERVERS = {
    ("uvicorn", "bare"): "uvicorn apps:hello_asgi",
    ("uvicorn", "stockade"): "uvicorn apps:guarded_asgi",
    ("uvicorn", "python-ladder"): "uvicorn apps:python_asgi",
    ("uvicorn", "no-block"): "uvicorn apps:lite_asgi",
    ("uvicorn", "spin-2us"): "uvicorn apps:spin_asgi",
    ("gunicorn", "bare"): "gunicorn apps:hello_wsgi",
    ("gunicorn", "stockade"): "gunicorn apps:guarded_wsgi",
    ("gunicorn", "python-ladder"): "gunicorn apps:python_wsgi",
    ("gunicorn", "no-block"): "gunicorn apps:lite_wsgi",
    ("uvicorn", "starlette-bare"): "uvicorn starlette_apps:bare",
    ("uvicorn", "starlette-stockade"): "uvicorn starlette_apps:guarded",
    ("gunicorn", "django-bare"): "gunicorn django_bare:application",
    ("gunicorn", "django-stockade"): "gunicorn django_stockade:application",
    ("gunicorn", "django-axes"): "gunicorn django_axes:application",
}
# The rows of each --only group.
GROUPS = {
    "asgi": ["bare", "stockade", "python-ladder", "no-block", "spin-2us"],
    "wsgi": ["bare", "stockade", "python-ladder", "no-block"],
    "starlette": ["starlette-bare", "starlette-stockade"],
    "django": ["django-bare", "django-stockade", "django-axes"],
}


def has_axes() -> bool:
    return importlib.util.find_spec("axes") is not None


def write_site(base: Path) -> None:
    (base / "apps.py").write_text(APPS)
    (base / "starlette_apps.py").write_text(STARLETTE)
    for kind in ("bare", "stockade", "axes"):
        (base / f"django_{kind}.py").write_text(DJANGO.format(kind=kind))
    (base / "stockade.toml").write_text(CONFIG)
    (base / "stockade-lite.toml").write_text(
        CONFIG.split("[block]", maxsplit=1)[0] + "[[directory]]" + CONFIG.split("[[directory]]")[1]
    )
    (base / "users.htpasswd").write_text("alice:{SHA}Rzhy5jvJcAzOmSXYF84hkEYsD+M=\n")
    rules = [
        {
            "Name": f"rule{i}",
            "Cond": f'req_path_prefix_in("/blocked/{i}/", false) && req_header_value_in("X-Bad", "{i}", false)',
            "Action": {"Cmd": "CLOSE", "Params": []},
        }
        for i in range(RULES // 2)
    ]
    rules += [
        {
            "Name": f"agent{i}",
            "Cond": f'req_ua_regmatch("bad-agent-{i}/")',
            "Action": {"Cmd": "CLOSE", "Params": []},
        }
        for i in range(RULES - RULES // 2)
    ]
    (base / "rules.data").write_text(json.dumps({"Version": "1", "Config": {"web": rules}}))
    lines = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(BLOCKLIST))
    (base / "blocklist.data").write_text("\n".join(lines) + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(server: str, app: str, port: int) -> list[str]:
    target = SERVERS[(server, app)].split()[1]
    if server == "uvicorn":
        return [str(BIN / "uvicorn"), target, "--port", str(port), "--http", "httptools", "--loop", "uvloop",
                "--no-access-log", "--log-level", "warning"]  # fmt: skip
    return [str(BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", target]  # fmt: skip


@contextmanager
def running(server: str, app: str, base: Path) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "STOCKADE_CONFIG": str(base / "stockade.toml"), "PYTHONPATH": str(base)}
    process = subprocess.Popen(command(server, app, port), cwd=base, env=env)
    try:
        for _ in range(1200):
            if process.poll() is not None:
                sys.exit(f"{server} {app} exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                subprocess.run(["sleep", "0.05"], check=True)
        # The hello worlds speak no lifespan: the guard opens at the first request (the store,
        # the native ladder, the detection engine: seconds on a loaded machine), which must
        # not fall inside wrk's 2 s timeout.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("GET", "/")
        connection.getresponse().read()
        connection.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(port: int, seconds: float, connections: int) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def selected(only: str) -> list[tuple[str, str]]:
    """The (server, app) pairs of the ``--only`` groups (every group by default)."""
    groups = [name.strip() for name in only.split(",") if name.strip()] or list(GROUPS)
    unknown = [name for name in groups if name not in GROUPS]
    if unknown:
        sys.exit(f"--only: unknown group {unknown[0]!r} (groups: {', '.join(GROUPS)})")
    pairs: list[tuple[str, str]] = []
    for group in groups:
        server = "gunicorn" if group in ("wsgi", "django") else "uvicorn"
        pairs += [(server, app) for app in GROUPS[group] if app != "django-axes" or has_axes()]
    return pairs


def ratio_line(best: dict[str, dict[str, float]], server: str, bare: str, rows: dict[str, str], target: float) -> str:
    base = best[f"{server}/{bare}"]
    line = f"{server:9} {bare} {base['rps']:7.0f} req/s (p99 {base['p99_ms']:.2f} ms)"
    for label, app in rows.items():
        figures = best.get(f"{server}/{app}")
        if figures is None:
            continue
        ratio = figures["rps"] / base["rps"]
        below = " (BELOW the target)" if label == "stockade" and ratio < target else ""
        line += f"   {label} {figures['rps']:7.0f} req/s {ratio:.1%}{below}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default="", help=f"comma-separated groups: {', '.join(GROUPS)} (default: all)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/middleware.py needs wrk (apt-get install wrk)")
    pairs = selected(args.only)
    print(f"{platform.python_implementation()} {platform.python_version()}, wrk -t2 -c{args.connections}")
    print(f"guarded: lockout, {RULES} rules, {BLOCKLIST:,}-entry blocklist, built-in ban rules, SQLite store")
    if not has_axes():
        print("django-axes is not installed: its row is left out (pip install django-axes)")
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_site(base)
        for _ in range(args.rounds):
            for server, app in pairs:
                with running(server, app, base) as port:
                    wrk(port, 1, args.connections)  # warm-up
                    figures = wrk(port, args.seconds, args.connections)
                name = f"{server}/{app}"
                if name not in best or figures["rps"] > best[name]["rps"]:
                    best[name] = figures
    result: dict[str, object] = {"servers": best}
    plain = {"stockade": "stockade", "without [block]": "no-block", "Python ladder only": "python-ladder"}
    for server, target in (("uvicorn", 0.90), ("gunicorn", 0.95)):
        if f"{server}/bare" in best:
            print(ratio_line(best, server, "bare", plain, target))
            for app in plain.values():
                if f"{server}/{app}" in best:
                    result[f"{server}_{app.replace('-', '_')}_ratio"] = round(
                        best[f"{server}/{app}"]["rps"] / best[f"{server}/bare"]["rps"], 3
                    )
    if "uvicorn/spin-2us" in best:
        spin = best["uvicorn/spin-2us"]
        spin_ratio = round(spin["rps"] / best["uvicorn/bare"]["rps"], 3)
        result["uvicorn_spin_2us_ratio"] = spin_ratio
        print(f"uvicorn   a middleware spinning 2 us a request: {spin['rps']:7.0f} req/s {spin_ratio:.1%}")
    frameworks = (
        ("uvicorn", "starlette", {"stockade": "starlette-stockade"}, 0.90),
        ("gunicorn", "django", {"stockade": "django-stockade", "django-axes": "django-axes"}, 0.95),
    )
    for server, framework, rows, target in frameworks:
        bare = f"{framework}-bare"
        if f"{server}/{bare}" not in best:
            continue
        print(ratio_line(best, server, bare, rows, target))
        for app in rows.values():
            if f"{server}/{app}" in best:
                result[f"{app.replace('-', '_')}_ratio"] = round(
                    best[f"{server}/{app}"]["rps"] / best[f"{server}/{bare}"]["rps"], 3
                )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
