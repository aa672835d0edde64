"""The bytes of responses: header lines checked once and then looked up, framing headers sorted out."""

from __future__ import annotations

import pytest

from stockade.server.http import framing


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    framing.HEADER_LINES.clear()


def test_a_header_line_is_checked_once_then_looked_up() -> None:
    entry = framing.header_entry(b"Content-Type", b"text/plain")
    assert entry == (framing.OTHER, b"Content-Type: text/plain\r\n", b"text/plain")
    assert framing.HEADER_LINES[b"Content-Type", b"text/plain"] is entry


def test_the_framing_headers_are_sorted_out() -> None:
    parts: list[bytes] = []
    headers = [
        (b"Content-Length", b"5"),
        (b"transfer-encoding", b"chunked\r\nx: injected"),  # never sent, so never checked
        (b"Connection", b"Keep-Alive"),
        (b"connection", b"Close"),
        (b"Date", b"yesterday"),
        [b"x-list", b"a list, not a tuple"],
    ]
    for _ in range(2):  # the second time from the cache
        parts.clear()
        length, date, options = framing.header_lines(headers, parts)  # type: ignore[arg-type]
        assert (length, date, options) == (5, True, b"keep-aliveclose")
        assert parts == [
            b"Content-Length: 5\r\n",
            b"Connection: Keep-Alive\r\n",
            b"connection: Close\r\n",
            b"Date: yesterday\r\n",
            b"x-list: a list, not a tuple\r\n",
        ]


def test_no_content_length_and_no_date() -> None:
    parts: list[bytes] = []
    assert framing.header_lines([(b"server", b"x")], parts) == (-1, False, b"")
    assert parts == [b"server: x\r\n"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (b"x-bad", b"a\r\nb", r"invalid response header b'x-bad': b'a\\r\\nb'"),
        (b"bad name", b"v", r"invalid response header b'bad name': b'v'"),
        (b"", b"v", r"invalid response header b'': b'v'"),
        (b"content-length", b"-1", r"invalid content-length b'-1'"),
    ],
)
def test_bad_headers_raise_and_are_not_kept(name: bytes, value: bytes, message: str) -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match=f"^{message}$"):
            framing.header_lines([(name, value)], [])
    assert not framing.HEADER_LINES


def test_long_values_are_not_kept_and_the_cache_is_bounded() -> None:
    framing.header_entry(b"set-cookie", b"x" * 1000)
    assert not framing.HEADER_LINES
    for i in range(framing._LINES_KEPT + 10):
        framing.header_entry(b"etag", b"%d" % i)
    assert 0 < len(framing.HEADER_LINES) <= framing._LINES_KEPT
