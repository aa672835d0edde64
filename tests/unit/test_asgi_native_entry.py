"""The ASGI middleware's native entry (``stockade._native.AsgiMiddleware``): a clean request is
decided in ``__call__`` itself, which returns the app's own awaitable (no coroutine of the
middleware runs); everything else returns one of the middleware's coroutines, ``_slow``
(lifespan, websocket, a checked or non-dict scope, no guard yet, a reloaded blocklist),
``_python`` (the native ladder handed the request on) or ``_banned``. Real SQLite stores, the
real middleware, called in-process; the same site with the native ladder off is the oracle."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stockade.adapters.asgi import CHECKED, CLIENT, GUARD, PROTECTION, StockadeMiddleware
from stockade.engine import Guard
from stockade.stores.sqlite import SQLiteStore
from tests.unit.test_middleware_native import LOGINS, Asgi, scope, write_site


class Entry(Asgi):
    """An :class:`Asgi` that also says which coroutine each call returned."""

    def __init__(self, config: str, *, native: bool) -> None:
        super().__init__(config, native=native)
        self.returned: list[str] = []

    def called(self, awaitable: Any) -> Any:
        self.returned.append(coroutine_name(awaitable))
        return awaitable


def coroutine_name(awaitable: Awaitable[None]) -> str:
    assert inspect.iscoroutine(awaitable)
    return awaitable.cr_code.co_qualname


class Scope(dict[str, Any]):
    """A scope of a type of its own."""


APP = "Asgi.app"  # the app's own coroutine: no coroutine of the middleware in between


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Entry, Entry]]:
    native = Entry(write_site(tmp_path / "native"), native=True)
    python = Entry(write_site(tmp_path / "python"), native=False)
    yield native, python
    native.close()
    python.close()


def test_a_clean_request_reaches_the_app_with_no_middleware_coroutine(pair: tuple[Entry, Entry]) -> None:
    native, python = pair
    assert native.middleware._armed
    before = native.counts()
    # A path, host and headers the canonical request rewrites: the app sees them rewritten.
    lines = [(b"host", b"Example.COM:80"), (b"x-forwarded-for", b"198.51.100.7"), (b"accept", b"*/*")]
    made = [scope("/a/./b/%41", client="127.0.0.1", headers=list(lines), query=b"q=1") for _ in range(2)]
    got = native.call(made[0])
    assert native.returned == [APP]
    assert native.counts() == (before[0] + 1, before[1], before[2])
    sent, app_scope = got
    assert [m.get("status") for m in sent] == [200, None]
    assert app_scope is not None
    assert app_scope[CHECKED] is True
    assert app_scope[CLIENT] == "198.51.100.7"  # named by the trusted proxy
    assert app_scope["client"] == ("198.51.100.7", 0)
    assert native.seen[0][GUARD] is native.middleware.guard
    assert native.seen[0][PROTECTION] is native.middleware.protection
    assert python.middleware.native is None
    assert not python.middleware._armed
    assert got == python.call(made[1])
    assert python.returned == ["StockadeMiddleware._slow"]


def test_a_banned_client_is_answered_without_the_python_ladder(pair: tuple[Entry, Entry]) -> None:
    native, python = pair
    for side in (native, python):
        guard = side.middleware.guard
        assert guard is not None
        side.loop.run_until_complete(guard.bans.block_ip_address("203.0.113.66", 600.0))
    before = native.counts()
    got = native.call(scope("/", client="203.0.113.66"))
    assert native.returned == ["StockadeMiddleware._banned"]
    assert native.counts() == (before[0], before[1] + 1, before[2])
    sent, app_scope = got
    assert app_scope is None
    assert sent[0]["status"] == 403
    assert got == python.call(scope("/", client="203.0.113.66"))


@pytest.mark.parametrize(
    ("request_", "body"),
    [
        (scope("/evil/x"), b""),  # a mod_block rule
        (scope("/.env", client="203.0.113.77"), b""),  # a detection hit
        (scope("/form", method="POST", headers=[(b"host", b"a"), (b"content-length", b"3")]), b"a=1"),
        (scope("/secure/page"), b""),  # a lockout directory
    ],
)
def test_what_the_native_ladder_hands_on_goes_to_the_python_ladder(
    pair: tuple[Entry, Entry], request_: dict[str, Any], body: bytes
) -> None:
    native, python = pair
    before = native.counts()
    got = native.call(dict(request_), body)
    assert native.returned == ["StockadeMiddleware._python"]
    assert native.counts() == (before[0], before[1], before[2] + 1)
    assert got == python.call(dict(request_), body)


def test_scopes_the_native_entry_leaves_alone_go_to_the_whole_python_middleware(pair: tuple[Entry, Entry]) -> None:
    native, _ = pair
    before = native.counts()
    checked = scope("/", client="203.0.113.5") | {CHECKED: True, "path": "/a/../b"}
    _, app_scope = native.call(checked)
    assert app_scope is not None
    assert app_scope["path"] == "/a/../b"
    _, app_scope = native.call(Scope(scope("/hello")))  # not exactly a dict: the Python ladder decides it
    assert app_scope is not None
    assert app_scope[CLIENT] == "203.0.113.5"
    assert native.returned == ["StockadeMiddleware._slow"] * 2
    assert native.counts() == before


def test_websocket_and_lifespan_go_to_the_python_middleware(tmp_path: Path) -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        else:
            await send({"type": "websocket.accept"})

    middleware = StockadeMiddleware(app, write_site(tmp_path), logins=LOGINS)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        lifespan = middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        assert coroutine_name(lifespan) == "StockadeMiddleware._slow"
        started = asyncio.ensure_future(lifespan)
        while not middleware._armed:
            await asyncio.sleep(0)  # until the lifespan startup opened the guard
        socket = scope("/ws", client="203.0.113.5") | {"type": "websocket", "scheme": "ws"}
        call = middleware(socket, receive, send)
        assert coroutine_name(call) == "StockadeMiddleware._slow"
        await call
        await started

    asyncio.run(run())
    assert seen == ["lifespan", "websocket"]
    assert {"type": "websocket.accept"} in sent
    assert not middleware._armed  # closed at shutdown: nothing decided natively any more


def test_the_first_request_opens_the_guard_then_the_native_entry_decides(tmp_path: Path) -> None:
    entry = Entry(write_site(tmp_path), native=True)
    try:
        entry.loop.run_until_complete(entry.middleware.shutdown())
        assert not entry.middleware._armed
        assert entry.call(scope("/"))[1] is not None
        assert entry.middleware._armed
        assert entry.call(scope("/"))[1] is not None
        assert entry.returned == ["StockadeMiddleware._slow", APP]
    finally:
        entry.close()


def test_a_reloaded_blocklist_rebuilds_the_native_ladder(pair: tuple[Entry, Entry], tmp_path: Path) -> None:
    native, _ = pair
    assert native.call(scope("/", client="198.51.100.50"))[1] is not None
    listed = tmp_path / "more.data"
    listed.write_text("198.51.100.50\n")
    block = native.middleware.protection.block
    assert block is not None
    block.reload_ip_blocklist(str(listed))
    assert native.call(scope("/", client="198.51.100.50"))[1] is None  # the Python middleware meets it
    assert native.call(scope("/", client="198.51.100.51"))[1] is not None  # rebuilt: native again
    assert native.returned == [APP, "StockadeMiddleware._slow", APP]


def test_another_process_ban_reaches_the_native_entry(pair: tuple[Entry, Entry], tmp_path: Path) -> None:
    native, _ = pair
    assert native.call(scope("/", client="198.51.100.60"))[1] is not None
    # Another worker's guard over the same file.
    other = Guard(native.middleware.protection.settings, SQLiteStore(tmp_path / "native" / "stockade.db"))
    try:
        other.block_ip_address("198.51.100.60", 600.0)
    finally:
        other.close()
    # The catch-up runs at most once a millisecond: ask until it has run.
    for _ in range(100_000):
        if native.call(scope("/", client="198.51.100.60"))[1] is None:
            break
    assert native.returned[-1] == "StockadeMiddleware._banned"


def test_servers_see_an_asgi3_application(tmp_path: Path) -> None:
    # uvicorn and hypercorn read ``app.__call__`` to tell ASGI 3 (a coroutine function) from 2.
    middleware = StockadeMiddleware(lambda scope, receive, send: None, write_site(tmp_path))
    assert asyncio.iscoroutinefunction(middleware.__call__)
    assert inspect.iscoroutinefunction(middleware.__call__)
