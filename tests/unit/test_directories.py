"""Protected directories match by path prefix on segment boundaries (README §1, Q16)."""

from __future__ import annotations

import pytest

from stockade.core.directories import DirectoryTable, normalize_directory


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/secure", "/secure"), ("/secure/", "/secure"), ("/secure//", "/secure"), ("/", "/"), ("//", "/")],
)
def test_normalize_directory(path: str, expected: str) -> None:
    assert normalize_directory(path) == expected


@pytest.mark.parametrize("path", ["secure", "", "secure/"])
def test_normalize_directory_requires_a_leading_slash(path: str) -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        normalize_directory(path)


@pytest.mark.parametrize(
    ("request_path", "protected"),
    [
        ("/secure", True),
        ("/secure/", True),
        ("/secure/x", True),
        ("/secure/x/y.html", True),
        ("/secure2", False),
        ("/secure2/x", False),
        ("/securex", False),
        ("/a/secure", False),
        ("/", False),
        ("/other", False),
    ],
)
def test_segment_boundaries(request_path: str, protected: bool) -> None:
    table = DirectoryTable({"/secure": "s"})
    assert (table.match(request_path) is not None) == protected


def test_regex_metacharacters_are_literal() -> None:
    table = DirectoryTable({"/a.b": 1})
    assert table.match("/a.b/x") == ("/a.b", 1)
    assert table.match("/axb/x") is None


def test_longest_match_wins_whatever_the_order() -> None:
    entries = [("/", "root"), ("/a", "a"), ("/a/b", "ab"), ("/a/bc", "abc")]
    for ordering in (entries, list(reversed(entries))):
        table = DirectoryTable(ordering)
        assert table.match("/a/b/c") == ("/a/b", "ab")
        assert table.match("/a/b") == ("/a/b", "ab")
        assert table.match("/a/bc/d") == ("/a/bc", "abc")
        assert table.match("/a/bd") == ("/a", "a")
        assert table.match("/a") == ("/a", "a")
        assert table.match("/z") == ("/", "root")


def test_root_matches_everything() -> None:
    table = DirectoryTable({"/": 0})
    for path in ("/", "/x", "/x/y/z", "/secure2"):
        assert table.match(path) == ("/", 0)


def test_configured_paths_are_normalised() -> None:
    table = DirectoryTable({"/secure/": 1})
    assert "/secure" in table
    assert "/secure/" not in table
    assert table.get("/secure") == 1
    assert table.get("/secure/") is None
    assert table.match("/secure/x") == ("/secure", 1)


def test_empty_table_matches_nothing() -> None:
    assert DirectoryTable[int]({}).match("/x") is None
