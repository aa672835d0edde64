"""Request paths: normalised once, so no encoding, doubled slash or dot segment hides a path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.server.paths import BadPath, _resolve, normalize_path

SEGMENT_BYTES = st.sampled_from(
    [b"a", b"B", b"%2e", b"%2F", b".", b"..", b"", b"x.y", b"%00", b"\\", b"\xc3\xa9", b"\xff"]
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/", "/"),
        (b"/a/b/", "/a/b/"),
        (b"/api/v1/users/123", "/api/v1/users/123"),
        (b"//secure/", "/secure/"),
        (b"/%73ecure/", "/secure/"),
        (b"/pub/../secure/", "/secure/"),
        (b"/a/./b", "/a/b"),
        (b"/a/..", "/"),
        (b"/%252e", "/%2e"),
        (b"/caf\xc3\xa9", "/caf\u00e9"),
    ],
)
def test_normalised(raw: bytes, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize("raw", [b"secure", b"/../x", b"/a%00b", b"/a\x00b", b"/a\\b", b"/\xff", b"/%ff"])
def test_refused(raw: bytes) -> None:
    with pytest.raises(BadPath):
        normalize_path(raw)


@given(st.lists(SEGMENT_BYTES, max_size=6), st.booleans())
def test_the_short_way_agrees_with_the_long_way(segments: list[bytes], trailing: bool) -> None:
    raw = b"/" + b"/".join(segments) + (b"/" if trailing else b"")
    try:
        expected: str | type[BadPath] = _resolve(raw)
    except BadPath:
        expected = BadPath
    try:
        got: str | type[BadPath] = normalize_path(raw)
    except BadPath:
        got = BadPath
    assert got == expected
