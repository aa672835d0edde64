"""The body read ahead for detection (stockade.request.body), and how it reaches the checks."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.clock import ManualClock
from stockade.config import load_config
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.core.detection import Detector
from stockade.detection import request_from
from stockade.engine import AsyncGuard
from stockade.engine._async.ladder import AsyncLadder
from stockade.engine.settings import BanSettings, GuardSettings
from stockade.request.asgi import from_asgi
from stockade.request.body import PrefixedInput, announced_body, read_ahead, read_ahead_wsgi
from stockade.request.paths import DEFAULT_POLICY
from stockade.stores import MemoryStore, OffloadedStore

Message = dict[str, Any]


# -- which requests have a body ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "version", "expected"),
    [
        ([], "1.1", (False, None)),
        ([(b"content-length", b"0")], "1.1", (False, 0)),
        ([(b"content-length", b"12")], "1.1", (True, 12)),
        ([(b"transfer-encoding", b"chunked")], "1.1", (True, None)),
        ([(b"content-length", b"5"), (b"transfer-encoding", b"chunked")], "1.1", (True, None)),
        ([], "2", (True, None)),  # HTTP/2 may send a body without a length
        ([(b"content-length", b"0")], "2", (False, 0)),
    ],
)
def test_announced_body(headers: list[tuple[bytes, bytes]], version: str, expected: tuple[bool, int | None]) -> None:
    assert announced_body(headers, version) == expected


# -- ASGI: read ahead, then replay --------------------------------------------------------------------


def _receiver(messages: Iterable[Message]) -> Any:
    queue = list(messages)
    taken: list[Message] = []

    async def receive() -> Message:
        message = queue.pop(0) if queue else {"type": "http.disconnect"}
        taken.append(message)
        return message

    receive.taken = taken  # type: ignore[attr-defined]
    return receive


def _pieces(*sizes: int, last: bool = True) -> list[Message]:
    data = bytes(range(256)) * (sum(sizes) // 256 + 1)
    messages, at = [], 0
    for i, size in enumerate(sizes):
        more = i < len(sizes) - 1 or not last
        messages.append({"type": "http.request", "body": data[at : at + size], "more_body": more})
        at += size
    return messages


def _drain(receive: Any) -> tuple[bytes, list[Message]]:
    async def run() -> tuple[bytes, list[Message]]:
        seen: list[Message] = []
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                return b"".join(m.get("body", b"") for m in seen), seen

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("sizes", "limit", "body", "uninspected", "taken"),
    [
        ((10,), 100, 10, 0, 1),
        ((100,), 100, 100, 0, 1),
        ((101,), 100, 100, 1, 1),
        ((60, 60), 100, 100, 20, 2),
        ((60, 60, 60), 100, 100, 20, 2),  # the third piece stays with the server until the app asks
        ((0,), 100, 0, 0, 1),
    ],
)
def test_read_ahead_stops_at_the_limit_and_hands_on_every_byte(
    sizes: tuple[int, ...], limit: int, body: int, uninspected: int, taken: int
) -> None:
    messages = _pieces(*sizes)
    whole = b"".join(m["body"] for m in messages)
    receive = _receiver(messages)
    ahead = asyncio.run(read_ahead(receive, limit, None))
    assert ahead is not None
    assert (ahead.body, ahead.uninspected) == (whole[:body], uninspected)
    assert len(receive.taken) == taken
    replayed, seen = _drain(ahead.replay(receive))
    assert replayed == whole
    assert seen[-1]["more_body"] is False


def test_read_ahead_counts_the_announced_rest_as_uninspected() -> None:
    ahead = asyncio.run(read_ahead(_receiver(_pieces(60, 60, 1000)), 100, 1120))
    assert ahead is not None
    assert (len(ahead.body), ahead.uninspected) == (100, 1020)


def test_read_ahead_of_a_client_gone_mid_body_is_none() -> None:
    assert asyncio.run(read_ahead(_receiver(_pieces(10, last=False)), 100, 50)) is None


def test_the_replay_passes_on_to_the_server_once_the_messages_are_given() -> None:
    receive = _receiver(_pieces(30))
    ahead = asyncio.run(read_ahead(receive, 100, None))
    assert ahead is not None
    replay = ahead.replay(receive)
    _drain(replay)
    assert asyncio.run(replay()) == {"type": "http.disconnect"}


def test_an_unlimited_read_ahead_reads_the_whole_body() -> None:
    ahead = asyncio.run(read_ahead(_receiver(_pieces(7, 70_000, 5)), sys.maxsize, None))
    assert ahead is not None
    assert (len(ahead.body), ahead.uninspected) == (70_012, 0)


# -- WSGI: read ahead, then a stream that gives it all ------------------------------------------------

BODY = b"first line\nsecond line\n" + b"x" * 50 + b"\nlast"
TRAILING = b"GET /next HTTP/1.1\r\n"  # what follows the body on a keep-alive connection


def _environ(body: bytes = BODY, *, length: bool = True, chunked: bool = False) -> dict[str, Any]:
    environ: dict[str, Any] = {"wsgi.input": io.BytesIO(body + TRAILING)}
    if length:
        environ["CONTENT_LENGTH"] = str(len(body))
    if chunked:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return environ


@pytest.mark.parametrize("limit", [1, 5, 10, 11, 12, len(BODY) - 1, len(BODY), len(BODY) + 1, 10_000])
def test_read_ahead_wsgi_reads_up_to_the_limit_and_the_app_reads_it_all(limit: int) -> None:
    environ = _environ()
    raw = environ["wsgi.input"]
    found = read_ahead_wsgi(environ, limit)
    assert found == (BODY[:limit], max(len(BODY) - limit, 0))
    assert environ["CONTENT_LENGTH"] == str(len(BODY))
    assert isinstance(environ["wsgi.input"], PrefixedInput)
    assert environ["wsgi.input"].read() == BODY  # the whole body, never past CONTENT_LENGTH
    assert raw.read() == TRAILING


def test_read_ahead_wsgi_reads_nothing_without_a_body() -> None:
    for environ in (_environ(length=False), {**_environ(), "CONTENT_LENGTH": "0"}, {"CONTENT_LENGTH": ""}):
        stream = environ.get("wsgi.input")
        assert read_ahead_wsgi(environ, 100) is None
        assert environ.get("wsgi.input") is stream
    # A server that does not end the stream: a body without a length cannot be read safely.
    unterminated = {**_environ(length=False), "HTTP_TRANSFER_ENCODING": "chunked"}
    assert read_ahead_wsgi(unterminated, 100) is None


def test_read_ahead_wsgi_reads_a_chunked_body_until_its_end_or_the_limit() -> None:
    environ = _environ(length=False, chunked=True)
    assert read_ahead_wsgi(environ, 15) == (BODY[:15], 0)
    assert environ["wsgi.input"].read() == BODY
    environ = _environ(length=False, chunked=True)
    assert read_ahead_wsgi(environ, 10_000) == (BODY, 0)
    assert environ["wsgi.input"].read() == BODY


def _stream(prefix_size: int, body: bytes = BODY) -> PrefixedInput:
    raw = io.BytesIO(body[prefix_size:] + TRAILING)
    return PrefixedInput(body[:prefix_size], raw, len(body) - prefix_size)


def test_readline_joins_a_line_split_by_the_prefix() -> None:
    stream = _stream(5)
    assert stream.readline() == b"first line\n"
    assert stream.readline(4) == b"seco"
    assert list(stream) == [b"nd line\n", b"x" * 50 + b"\n", b"last"]
    assert stream.readline() == b""


def test_readlines_and_hint() -> None:
    assert _stream(30).readlines() == BODY.splitlines(keepends=True)
    assert _stream(30).readlines(5) == [b"first line\n"]


def test_read_gives_the_size_asked_across_the_prefix() -> None:
    stream = _stream(8)
    assert stream.read(3) == b"fir"
    assert stream.read(10) == b"st line\nse"
    assert stream.read(-1) == BODY[13:]
    assert stream.read(5) == b""


def test_close_lets_the_prefix_go() -> None:
    stream = _stream(20)
    stream.close()
    assert stream.read() == b""


@given(
    body=st.binary(max_size=300),
    split=st.integers(min_value=0, max_value=300),
    calls=st.lists(st.tuples(st.sampled_from(["read", "readline"]), st.integers(min_value=-1, max_value=40))),
)
def test_any_sequence_of_reads_gives_the_body_exactly(body: bytes, split: int, calls: list[tuple[str, int]]) -> None:
    stream = _stream(min(split, len(body)), body)
    got = b""
    for name, size in calls:
        piece = getattr(stream, name)(size)
        if name == "read" and size >= 0:
            assert len(piece) == min(size, len(body) - len(got))
        if name == "readline" and piece and not piece.endswith(b"\n"):
            assert len(piece) == size or len(got) + len(piece) == len(body)
        got += piece
    got += stream.read()
    assert got == body


# -- the ladder says how much to read; the request carries it to the checks ---------------------------


def _ladder(bans: BanSettings | None) -> AsyncLadder:
    store = OffloadedStore(MemoryStore(), threaded=False)
    return AsyncLadder(AsyncGuard(GuardSettings(bans=bans), store, clock=ManualClock(0.0)))


def _incoming(client: str = "198.51.100.1", path: str = "/submit", **scope: Any) -> Any:
    asgi_scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"example.com"), (b"content-type", b"application/x-www-form-urlencoded")],
        "client": (client, 5000),
        "http_version": "1.1",
        **scope,
    }
    resolver = ClientIpResolver(TrustedProxies())
    return from_asgi(asgi_scope, policy=DEFAULT_POLICY, resolver=resolver, clock=ManualClock())


def test_the_ladder_wants_the_body_only_when_detection_reads_it(tmp_path: Any) -> None:
    assert _ladder(BanSettings()).body_wanted(_incoming()) == 64 * 1024
    assert _ladder(None).body_wanted(_incoming()) == 0  # no [bans]: nothing is detected
    assert _ladder(BanSettings(enabled=False)).body_wanted(_incoming()) == 0
    assert _ladder(BanSettings(detector=Detector(()))).body_wanted(_incoming()) == 0  # no rules at all
    exempt = BanSettings(ignore_paths=("/upload",))
    assert _ladder(exempt).body_wanted(_incoming(path="/upload/big")) == 0
    assert _ladder(exempt).body_wanted(_incoming(path="/submit")) == 64 * 1024
    (tmp_path / "a.toml").write_text('[store]\nurl = "memory://"\n[bans]\nbody_limit = "infinity"\n')
    unlimited = load_config(tmp_path / "a.toml").guard_settings().bans
    assert _ladder(unlimited).body_wanted(_incoming()) == sys.maxsize
    (tmp_path / "b.toml").write_text('[store]\nurl = "memory://"\n[bans]\nbody_limit = 100\n')
    assert _ladder(load_config(tmp_path / "b.toml").guard_settings().bans).body_wanted(_incoming()) == 100


def test_the_body_given_reaches_detection_and_the_rules_facts() -> None:
    request = _incoming()
    assert request_from(request).body == b""
    request.give_body(b"q=1' UNION ALL SELECT 1--", 7)
    seen = request_from(request, 10)
    assert (seen.body, seen.uninspected) == (b"q=1' UNION", 7 + 15)
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert request.facts.body == b"q=1' UNION ALL SELECT 1--"
    built = _incoming()
    assert built.facts.body is None
    built.give_body(b'{"a": 1}')
    assert built.facts.body_json("a") == "1"


def test_a_malicious_body_given_counts_a_strike() -> None:
    ladder = _ladder(BanSettings())
    request = _incoming()
    request.give_body(b"comment=1' UNION ALL SELECT password,2 FROM users--")
    verdict = asyncio.run(ladder.decide(request))
    assert verdict.action == "pass"
    assert verdict.malicious is not None
    clean = _incoming()
    clean.give_body(b"comment=hello+world")
    assert asyncio.run(ladder.decide(clean)).malicious is None


def test_a_banned_clients_body_is_not_wanted() -> None:
    ladder = _ladder(BanSettings())
    asyncio.run(ladder.guard.block_ip_address("198.51.100.9", 600))
    assert ladder.body_wanted(_incoming(client="198.51.100.9")) == 0  # refused before detection
    assert ladder.body_wanted(_incoming(client="198.51.100.10")) == 64 * 1024


def test_every_line_of_a_header_reaches_detection() -> None:
    # A second User-Agent line was never read: a payload put there passed detection.
    ladder = _ladder(BanSettings())
    headers = [
        (b"host", b"example.com"),
        (b"user-agent", b"Mozilla/5.0"),
        (b"user-agent", b"() { :; }; /bin/bash -c id"),
    ]
    request = _incoming(method="GET", headers=headers)
    assert [value for name, value in request_from(request).headers if name == "user-agent"] == [
        "Mozilla/5.0",
        "() { :; }; /bin/bash -c id",
    ]
    assert asyncio.run(ladder.decide(request)).malicious is not None
    built = _incoming(method="GET", headers=headers)
    assert built.facts is not None  # the facts built first: the same lines
    assert built.header_values("user-agent") == ["Mozilla/5.0", "() { :; }; /bin/bash -c id"]
