"""The middlewares' native path (``NativeLadder.asgi``/``wsgi``): a clean request and a banned
client are decided in one native call; everything else goes to the Python ladder, from the
start. Each middleware is compared with a twin whose native ladder is off (the Python
ladder decides every request): the same answers, and the same scope or environ reaches the
app. Real SQLite stores, the real middlewares, called in-process."""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.adapters.asgi import CLIENT, GUARD, PROTECTION, StockadeMiddleware
from stockade.adapters.wsgi import PATH, StockadeWSGI

CONFIG = """\
[store]
url = "sqlite:///stockade.db"

[proxy]
trusted = ["127.0.0.1"]

[bans]
malicious_req_threshold = 5
block_duration = 600

[block]
rules = "rules.data"
ip_blocklist = "blocklist.data"
hosts = { default_product = "web" }

[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
"""

RULES = [
    {"Name": "no_evil", "Cond": 'req_path_prefix_in("/evil", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
    {"Name": "let_in", "Cond": 'req_path_prefix_in("/allowed", false)', "Action": {"Cmd": "ALLOW", "Params": []}},
    {"Name": "bad_agent", "Cond": 'req_ua_regmatch("bad-agent/")', "Action": {"Cmd": "CLOSE", "Params": []}},
    # A header named with `_`: the WSGI environ's HTTP_X_STAGE holds X-Stage and X_Stage alike.
    {
        "Name": "no_stage",
        "Cond": 'req_header_value_in("X_Stage", "debug", false)',
        "Action": {"Cmd": "CLOSE", "Params": []},
    },
]
LOGINS = [{"path": "/login", "max_retries": 3}]
SKIP = {GUARD, PROTECTION}  # objects of each middleware's own


def write_site(base: Path) -> str:
    base.mkdir(parents=True, exist_ok=True)
    (base / "stockade.toml").write_text(CONFIG)
    (base / "rules.data").write_text(json.dumps({"Version": "1", "Config": {"global": RULES}}))
    (base / "blocklist.data").write_text("192.0.2.99\n")
    (base / "users.htpasswd").write_text("alice:{SHA}Rzhy5jvJcAzOmSXYF84hkEYsD+M=\n")
    return str(base / "stockade.toml")


# -- ASGI ---------------------------------------------------------------------------------


class Asgi:
    """A middleware over an app that records the scope it receives."""

    def __init__(self, config: str, *, native: bool) -> None:
        self.seen: list[dict[str, Any]] = []
        self.middleware = StockadeMiddleware(self.app, config, logins=LOGINS)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.middleware.startup())
        if not native:
            self.middleware.native = None
        else:
            assert self.middleware.native is not None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(dict(scope))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def call(self, scope: dict[str, Any], body: bytes = b"") -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        sent: list[dict[str, Any]] = []
        self.seen.clear()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.called(self.middleware(scope, receive, send)))
        app_scope = {k: v for k, v in self.seen[0].items() if k not in SKIP} if self.seen else None
        return sent, app_scope

    def called(self, awaitable: Any) -> Any:
        """What the middleware's call returned, before it runs (a subclass may look at it)."""
        return awaitable

    def counts(self) -> tuple[int, int, int]:
        native = self.middleware.native
        assert native is not None
        return native.counts

    def close(self) -> None:
        self.loop.run_until_complete(self.middleware.shutdown())
        self.loop.close()


def scope(
    path: str = "/",
    *,
    client: str = "203.0.113.5",
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "GET",
    query: bytes = b"",
    raw_path: bytes | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"example.com")],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.fixture
def asgi_pair(tmp_path: Path) -> Iterator[tuple[Asgi, Asgi]]:
    native = Asgi(write_site(tmp_path / "native"), native=True)
    python = Asgi(write_site(tmp_path / "python"), native=False)
    yield native, python
    native.close()
    python.close()


def test_asgi_clean_request_is_decided_natively(asgi_pair: tuple[Asgi, Asgi]) -> None:
    native, python = asgi_pair
    before = native.counts()
    sent, app_scope = native.call(scope("/hello", query=b"a=1"))
    assert native.counts() == (before[0] + 1, before[1], before[2])
    assert [m.get("status") for m in sent] == [200, None]
    assert app_scope is not None
    assert app_scope[CLIENT] == "203.0.113.5"
    assert native.seen[0][GUARD] is native.middleware.guard
    assert (sent, app_scope) == python.call(scope("/hello", query=b"a=1"))


@pytest.mark.parametrize("forever", [True, False])
def test_asgi_banned_client_gets_the_python_answer(asgi_pair: tuple[Asgi, Asgi], forever: bool) -> None:
    native, python = asgi_pair
    seconds = math.inf if forever else 600.0
    for side in (native, python):
        guard = side.middleware.guard
        assert guard is not None
        side.loop.run_until_complete(guard.bans.block_ip_address("203.0.113.66", seconds))
    for method in ("GET", "HEAD"):
        before = native.counts()
        request = scope("/", client="203.0.113.66", method=method)
        sent, app_scope = native.call(request)
        assert native.counts() == (before[0], before[1] + 1, before[2])
        assert app_scope is None
        assert sent[0]["status"] == 403
        retry = [v for n, v in sent[0]["headers"] if n == b"retry-after"]
        assert retry == ([] if forever else [b"600"])
        assert (sent, app_scope) == python.call(scope("/", client="203.0.113.66", method=method))


CASES = {
    "mod_block CLOSE": (scope("/evil/x"), b""),
    "mod_block ALLOW": (scope("/allowed/x"), b""),
    "a CLOSE on the user agent": (scope("/", headers=[(b"host", b"a"), (b"user-agent", b"bad-agent/1")]), b""),
    "the IP blocklist": (scope("/", client="192.0.2.99"), b""),
    "a lockout directory": (scope("/secure/page"), b""),
    "a detection hit": (scope("/.env", client="203.0.113.77"), b""),
    "a body": (
        scope("/form", method="POST", headers=[(b"host", b"a"), (b"content-length", b"3")]),
        b"a=1",
    ),
    "no safe canonical form": (scope("/a/../../etc/passwd", raw_path=b"/a/../../etc/passwd"), b""),
    "a client that is no address": (scope("/", client="not-an-address"), b""),
}


@pytest.mark.parametrize("case", list(CASES))
def test_asgi_what_python_decides(asgi_pair: tuple[Asgi, Asgi], case: str) -> None:
    native, python = asgi_pair
    request, body = CASES[case]
    before = native.counts()
    got = native.call(dict(request), body)
    assert native.counts() == (before[0], before[1], before[2] + 1)
    assert got == python.call(dict(request), body)


def test_asgi_mod_block_counts_each_request_once(asgi_pair: tuple[Asgi, Asgi]) -> None:
    native, python = asgi_pair
    for request in (scope("/"), scope("/evil/x"), scope("/allowed/y"), scope("/", client="192.0.2.99")):
        native.call(dict(request))
        python.call(dict(request))
    counters = [side.middleware.protection.block.table.counters.snapshot() for side in (native, python)]  # type: ignore[union-attr]
    assert counters[0] == counters[1]
    assert counters[0]["REQ_TOTAL"] == 3
    assert counters[0]["CONN_TOTAL"] == 4


def test_asgi_reloaded_blocklist_is_met_natively(asgi_pair: tuple[Asgi, Asgi], tmp_path: Path) -> None:
    native, _ = asgi_pair
    assert native.call(scope("/", client="198.51.100.50"))[1] is not None
    listed = tmp_path / "more.data"
    listed.write_text("198.51.100.50\n")
    block = native.middleware.protection.block
    assert block is not None
    block.reload_ip_blocklist(str(listed))
    sent, app_scope = native.call(scope("/", client="198.51.100.50"))
    assert app_scope is None
    assert sent[0]["status"] == 403


SEGMENTS = ["a", "B", "%41", "%2e", "..", ".", "", "%2F", "x%20y", "caf%C3%A9", "%ff", "a;b", "~u", "index.html"]
HOSTS = [b"example.com", b"Example.COM:8080", b"example.com.", b"[2001:db8::1]:80", b"", b"bad host"]
EXTRA = [
    (b"x-forwarded-for", b"198.51.100.23"),
    (b"x-real-ip", b"198.51.100.24"),
    (b"user-agent", b"curl/8.0"),
    (b"accept", b"*/*"),
    (b"x-forwarded-proto", b"https"),
    (b"cookie", b"a=1; b=2"),
]
paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))
headers = st.tuples(st.sampled_from(HOSTS), st.lists(st.sampled_from(EXTRA), max_size=4, unique=True))
peers = st.sampled_from(["127.0.0.1", "203.0.113.5", "::ffff:203.0.113.6", "2001:db8::5"])


def test_asgi_scope_is_the_same_both_ways(asgi_pair: tuple[Asgi, Asgi]) -> None:
    native, python = asgi_pair

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=paths, head=headers, peer=peers, query=st.sampled_from([b"", b"a=1&b=%20", b"q=x"]))
    def same(path: str, head: tuple[bytes, list[tuple[bytes, bytes]]], peer: str, query: bytes) -> None:
        host, extra = head
        lines = ([(b"host", host)] if host else []) + list(extra)
        raw = path.encode("latin-1")
        made = [scope(path, client=peer, headers=list(lines), query=query, raw_path=raw) for _ in range(2)]
        assert native.call(made[0]) == python.call(made[1])

    same()


# -- WSGI ---------------------------------------------------------------------------------


class Wsgi:
    def __init__(self, config: str, *, native: bool) -> None:
        self.seen: list[dict[str, Any]] = []
        self.middleware = StockadeWSGI(self.app, config, logins=LOGINS)
        self.middleware.process.ladder()
        if not native:
            self.middleware.process.native = None
        else:
            assert self.middleware.process.native is not None

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.seen.append(dict(environ))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def call(self, environ: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        started: list[Any] = []
        self.seen.clear()
        body = b"".join(self.middleware(environ, lambda status, headers, exc=None: started.append((status, headers))))
        app_environ = {k: v for k, v in self.seen[0].items() if k not in SKIP | {"wsgi.input"}} if self.seen else None
        return (started, body), app_environ

    def counts(self) -> tuple[int, int, int]:
        native = self.middleware.process.native
        assert native is not None
        return native.counts

    def close(self) -> None:
        self.middleware.process.close()


def environ(
    path: str = "/",
    *,
    client: str = "203.0.113.5",
    headers: dict[str, str] | None = None,
    method: str = "GET",
    query: str = "",
    raw: str | None = None,
) -> dict[str, Any]:
    made: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": (raw if raw is not None else path) + ("?" + query if query else ""),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": client,
        "REMOTE_PORT": "50000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }
    made.update(headers if headers is not None else {"HTTP_HOST": "example.com"})
    return made


@pytest.fixture
def wsgi_pair(tmp_path: Path) -> Iterator[tuple[Wsgi, Wsgi]]:
    native = Wsgi(write_site(tmp_path / "native"), native=True)
    python = Wsgi(write_site(tmp_path / "python"), native=False)
    yield native, python
    native.close()
    python.close()


def test_wsgi_clean_request_is_decided_natively(wsgi_pair: tuple[Wsgi, Wsgi]) -> None:
    native, python = wsgi_pair
    before = native.counts()
    got = native.call(environ("/hello", query="a=1"))
    assert native.counts() == (before[0] + 1, before[1], before[2])
    assert got[1] is not None
    assert (got[1][CLIENT], got[1][PATH]) == ("203.0.113.5", "/hello")
    assert got == python.call(environ("/hello", query="a=1"))


@pytest.mark.parametrize("forever", [True, False])
def test_wsgi_banned_client_gets_the_python_answer(wsgi_pair: tuple[Wsgi, Wsgi], forever: bool) -> None:
    native, python = wsgi_pair
    for side in (native, python):
        side.middleware.process.guard().bans.block_ip_address("203.0.113.66", math.inf if forever else 600.0)
    for method in ("GET", "HEAD"):
        before = native.counts()
        got = native.call(environ("/", client="203.0.113.66", method=method))
        assert native.counts() == (before[0], before[1] + 1, before[2])
        (started, _), app_environ = got
        assert app_environ is None
        assert started[0][0].startswith("403")
        assert [v for n, v in started[0][1] if n == "retry-after"] == ([] if forever else ["600"])
        assert got == python.call(environ("/", client="203.0.113.66", method=method))


WSGI_CASES = {
    "mod_block CLOSE": environ("/evil/x"),
    "mod_block ALLOW": environ("/allowed/x"),
    "a CLOSE on the user agent": environ("/", headers={"HTTP_HOST": "a", "HTTP_USER_AGENT": "bad-agent/1"}),
    "the IP blocklist": environ("/", client="192.0.2.99"),
    "a CLOSE on a header named with an underscore": environ("/", headers={"HTTP_HOST": "a", "HTTP_X_STAGE": "debug"}),
    "a lockout directory": environ("/secure/page"),
    "a detection hit": environ("/.env", client="203.0.113.77"),
    "a body": environ("/form", method="POST", headers={"HTTP_HOST": "a", "CONTENT_LENGTH": "3"}),
    "no safe canonical form": environ("/etc/passwd", raw="/a/../../etc/passwd"),
    "a client that is no address": environ("/", client="not-an-address"),
}


@pytest.mark.parametrize("case", list(WSGI_CASES))
def test_wsgi_what_python_decides(wsgi_pair: tuple[Wsgi, Wsgi], case: str) -> None:
    native, python = wsgi_pair
    before = native.counts()
    got = native.call(dict(WSGI_CASES[case]))
    assert native.counts() == (before[0], before[1], before[2] + 1)
    assert got == python.call(dict(WSGI_CASES[case]))


WSGI_EXTRA = [
    ("HTTP_X_FORWARDED_FOR", "198.51.100.23"),
    ("HTTP_X_REAL_IP", "198.51.100.24"),
    ("HTTP_USER_AGENT", "curl/8.0"),
    ("HTTP_X_FORWARDED_PROTO", "https"),
    ("HTTP_COOKIE", "a=1; b=2"),
    ("CONTENT_TYPE", "text/plain"),
]


def test_wsgi_environ_is_the_same_both_ways(wsgi_pair: tuple[Wsgi, Wsgi]) -> None:
    native, python = wsgi_pair

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=paths,
        host=st.sampled_from([h.decode() for h in HOSTS]),
        extra=st.lists(st.sampled_from(WSGI_EXTRA), max_size=4, unique=True),
        peer=peers,
        query=st.sampled_from(["", "a=1&b=%20", "q=x"]),
    )
    def same(path: str, host: str, extra: list[tuple[str, str]], peer: str, query: str) -> None:
        lines = ({"HTTP_HOST": host} if host else {}) | dict(extra)
        made = [environ(path, client=peer, headers=dict(lines), query=query) for _ in range(2)]
        assert native.call(made[0]) == python.call(made[1])

    same()


def test_a_ban_from_another_process_refuses_natively(tmp_path: Path) -> None:
    """Two middlewares on one SQLite file, as two worker processes: a ban one of them writes
    reaches the other's native ladder (the store's catch-up runs before each native call)."""
    config = write_site(tmp_path / "shared")
    first, second = Asgi(config, native=True), Asgi(config, native=True)
    workers = (Wsgi(config, native=True),)
    try:
        assert second.call(scope("/", client="203.0.113.40"))[1] is not None
        assert workers[0].call(environ("/", client="203.0.113.40"))[1] is not None
        guard = first.middleware.guard
        assert guard is not None
        first.loop.run_until_complete(guard.bans.block_ip_address("203.0.113.40", 600.0))
        # The catch-up runs at most once a millisecond: the first calls may come before it.
        for _ in range(10_000):
            sent, app_scope = second.call(scope("/", client="203.0.113.40"))
            if app_scope is None:
                break
        assert app_scope is None
        assert sent[0]["status"] == 403
        assert second.counts()[1] >= 1
        for _ in range(10_000):
            (started, _), app_environ = workers[0].call(environ("/", client="203.0.113.40"))
            if app_environ is None:
                break
        assert app_environ is None
        assert started[0][0].startswith("403")
    finally:
        first.close()
        second.close()
        workers[0].close()


def test_a_forked_worker_opens_its_own_guard(tmp_path: Path) -> None:
    """A WSGI guard opened before a fork (gunicorn's --preload) is the parent's: the child
    opens its own store and native ladder at its first request, as a worker must."""
    middleware = StockadeWSGI(lambda environ, start: [b""], write_site(tmp_path))
    parent = middleware.process.ladder()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a guard of its own, then leave at once
        os.close(read)
        child = middleware.process.ladder()
        own = child is not parent and middleware.process.native is not None
        os.write(write, b"own" if own and middleware.process.ladder() is child else b"shared")
        os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as answer:
            assert answer.read() == b"own"
    finally:
        os.waitpid(pid, 0)
    assert middleware.process.ladder() is parent
    middleware.process.close()
