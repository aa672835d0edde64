"""The canonical path: what the checks decide on is what the backend receives, read any way.

The property tests read the forwarded target with an RFC 3986 normaliser written here,
independently of the one under test (the string-buffer form of section 5.2.4, not a
segment stack), and require it to find exactly the path the checks decided on.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.errors import BadRequest
from stockade.request.paths import PathPolicy, canonical_decoded_path, canonical_path

UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
KEEP = PathPolicy(escaped_slashes="keep")
NO_MERGE = PathPolicy(merge_slashes=False)


# -- an independent reader ---------------------------------------------------------------------


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, step by step, on a string buffer."""
    output = ""
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./") or path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            output = output[: output.rfind("/")] if "/" in output else ""
        elif path == "/..":
            path = "/"
            output = output[: output.rfind("/")] if "/" in output else ""
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            end = len(path) if end < 0 else end
            output += path[:end]
            path = path[end:]
    return output


def decode_unreserved(target: str) -> str:
    def one(match: re.Match[str]) -> str:
        value = int(match.group(1), 16)
        return chr(value) if value in UNRESERVED else "%" + match.group(1).upper()

    return re.sub(r"%([0-9A-Fa-f]{2})", one, target)


def backend_reads(target: bytes) -> str:
    """How an RFC 3986 backend reads a forwarded target: normalise, then decode every escape."""
    text = remove_dot_segments(decode_unreserved(target.decode("ascii")))
    return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode()).decode("utf-8")


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


# -- examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "target", "path"),
    [
        (b"/", b"/", "/"),
        (b"/a/b/", b"/a/b/", "/a/b/"),
        (b"/api/v1/users/123", b"/api/v1/users/123", "/api/v1/users/123"),
        (b"//secure/", b"/secure/", "/secure/"),
        (b"/%73ecure/", b"/secure/", "/secure/"),
        (b"/pub/../secure/", b"/secure/", "/secure/"),
        (b"/a/./b", b"/a/b", "/a/b"),
        (b"/a/..", b"/", "/"),
        (b"/a/b/.", b"/a/b/", "/a/b/"),
        (b"/secure/..", b"/", "/"),
        (b"/secure/%2e%2e", b"/", "/"),
        (b"/secure/.%2e", b"/", "/"),
        (b"/secure/%2E%2e/", b"/", "/"),
        (b"/admin/x/../..", b"/", "/"),
        (b"/admin/.%2e/", b"/", "/"),
        (b"/%252e", b"/%252e", "/%2e"),
        (b"/secure/x%252f..%252f..%252fpub", b"/secure/x%252f..%252f..%252fpub", "/secure/x%2f..%2f..%2fpub"),
        (b"/caf%c3%a9", b"/caf%C3%A9", "/caf\u00e9"),
        (b"/a%20b", b"/a%20b", "/a b"),
        (b'/a"b', b"/a%22b", '/a"b'),
        (b"/100%", b"/100%25", "/100%"),
        (b"/a%zz", b"/a%25zz", "/a%zz"),
        (b"/a;b=c/d", b"/a;b=c/d", "/a;b=c/d"),
        (b"/a/.b/..c", b"/a/.b/..c", "/a/.b/..c"),
        (b"*", b"*", "*"),
    ],
)
def test_canonical(raw: bytes, target: bytes, path: str) -> None:
    assert canonical_path(raw) == (target, path)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"secure", "the path must start with '/'"),
        (b"/../x", "the path climbs above the root"),
        (b"/a/../../x", "the path climbs above the root"),
        (b"/a%00b", "the path contains a null byte"),
        (b"/a%01b", "the path contains a control character"),
        (b"/a%0ab", "the path contains a control character"),
        (b"/a\\b", "the path contains a backslash"),
        (b"/a%5cb", "the path contains an escaped slash or backslash"),
        (b"/admin%2F", "the path contains an escaped slash or backslash"),
        (b"/a.%2f.b", "the path contains an escaped slash or backslash"),
        (b"/%ff", "the path is not UTF-8"),
        (b"/x/%c0%ae%c0%ae/", "the path is not UTF-8"),  # overlong "."
        (b"/%ed%a0%80", "the path is not UTF-8"),  # a surrogate
        (b"/..;/admin", "the path has a dot segment with parameters"),
        (b"/a/.;x/b", "the path has a dot segment with parameters"),
    ],
)
def test_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as info:
        canonical_path(raw)
    assert str(info.value) == reason


def test_escaped_slashes_kept_when_the_operator_says_so() -> None:
    assert canonical_path(b"/api/group%2fproject", KEEP) == (b"/api/group%2Fproject", "/api/group/project")
    for raw in (b"/admin%2f..", b"/admin/x%2F..%2F..", b"/a%5c..%5cb"):
        with pytest.raises(BadRequest, match="dot segment between escaped slashes"):
            canonical_path(raw, KEEP)


def test_slashes_kept_when_the_operator_says_so() -> None:
    assert canonical_path(b"//a//b/", NO_MERGE) == (b"//a//b/", "//a//b/")
    assert canonical_path(b"/a//../b", NO_MERGE) == (b"/a/b", "/a/b")


def test_a_decoded_path_is_never_decoded_again() -> None:
    # What gunicorn gives as PATH_INFO for /secure/x%252f..: the checks must not see /pub.
    assert canonical_decoded_path("/secure/x%2f..%2f..%2fpub") == (
        b"/secure/x%252f..%252f..%252fpub",
        "/secure/x%2f..%2f..%2fpub",
    )
    assert canonical_decoded_path("/caf\u00e9/../a b") == (b"/a%20b", "/a b")


def test_a_decoded_path_with_a_dot_segment_beside_a_backslash_is_hostile() -> None:
    for path, hostile in (("/a\\..\\b", True), ("/../a\nb", True), ("/%2e%2e\\b", False), ("/a\\b", False)):
        with pytest.raises(BadRequest) as refused:
            canonical_decoded_path(path)
        assert refused.value.hostile is hostile, path


# -- properties --------------------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        b"a",
        b"B",
        b"secure",
        b".",
        b"..",
        b"",
        b"%2e",
        b"%2E",
        b".%2e",
        b"%2e.",
        b"%2f",
        b"%2F",
        b"%5c",
        b"%00",
        b"%0a",
        b"%25",
        b"%252e",
        b"%252f",
        b"%41",
        b"%7e",
        b"%zz",
        b"%",
        b"%c0%ae",
        b"%c1%9c",
        b"%c0.",
        b"%e0%80%af",
        b"%f8%80%80%80%ae",
        b"%25c0%25ae",
        b"%a4%a2",
        b"C:",
        b"...",
        b"%c3%a9",
        b"%e2%80%ae",
        b";x",
        b"..;",
        b"x;..",
        b"\\",
        b":@!$&'()*+,=",
        b"%3b",
        b"%3f",
        b"%23",
        b"<>",
    ]
)
SEGMENTS = st.lists(st.lists(PIECES, max_size=3).map(b"".join), max_size=7)
POLICIES = st.sampled_from([PathPolicy(), KEEP, NO_MERGE, PathPolicy(False, "keep")])


def raw_path(segments: list[bytes], trailing: bool) -> bytes:
    return b"/" + b"/".join(segments) + (b"/" if trailing else b"")


@given(SEGMENTS, st.booleans(), POLICIES)
def test_the_backend_reads_what_the_checks_read(segments: list[bytes], trailing: bool, policy: PathPolicy) -> None:
    raw = raw_path(segments, trailing)
    try:
        canon = canonical_path(raw, policy)
    except BadRequest:
        return
    assert re.fullmatch(rb"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*(%[0-9A-F]{2}[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)*", canon.target)
    if policy.escaped_slashes == "reject":
        assert b"%2F" not in canon.target
        assert b"%5C" not in canon.target
        assert backend_reads(canon.target) == canon.path
        assert canonical_decoded_path(canon.path, policy).path == canon.path  # a server's decoding changes nothing
    assert "\x00" not in canon.path
    assert canonical_path(canon.target, policy) == canon  # already canonical


@given(SEGMENTS, st.booleans(), st.sampled_from(["/secure", "/admin", "/a/b"]))
def test_a_gate_is_never_passed_by_a_path_under_it(segments: list[bytes], trailing: bool, prefix: str) -> None:
    raw = raw_path(segments, trailing)
    try:
        canon = canonical_path(raw)
    except BadRequest:
        return
    assert under(backend_reads(canon.target), prefix) == under(canon.path, prefix)
    # An RFC 3986 reader of the raw path, where it can read it at all, lands where the checks do.
    try:
        naive = backend_reads(raw.replace(b"\\", b"/"))
    except (UnicodeDecodeError, ValueError):
        return
    if "\\" not in naive and "%" not in naive and "//" not in naive:
        assert under(naive, prefix) == under(canon.path, prefix) or naive == canon.path


@pytest.mark.parametrize(
    ("raw", "policy", "hostile"),
    [
        (b"/../etc/passwd", PathPolicy(), True),
        (b"/a/%2e%2e/%2e%2e/etc/passwd", PathPolicy(), True),
        (b"/a%00.php", PathPolicy(), True),  # a file name cut short: no link holds a null byte
        (b"/a%01.php", PathPolicy(), False),
        (b"/presentations/vim/%094", PathPolicy(), False),  # a stray tab, from a real log
        (b"/a/..;x=1/b", PathPolicy(), True),
        (b"/a%2f..%2fb", PathPolicy(escaped_slashes="keep"), True),
        (b"/a%2fb", PathPolicy(), False),
        (b"/a\\b", PathPolicy(), False),
        # A dot segment beside what the path is refused for: a traversal written for a backend
        # that decodes or splits at backslashes (no browser sends a dot segment).
        (b"/..\\..\\windows\\win.ini", PathPolicy(), True),
        (b"/admin%2f..", PathPolicy(), True),
        (b"/a/%2e%2e%5cetc", PathPolicy(), True),
        (b"/x%2f..;y%2fetc", PathPolicy(), True),
        (b"/../../etc/passwd%00.html", PathPolicy(), True),
        (b"/%252e%252e%255c%5cx", PathPolicy(), False),
        (b"/a..\\b", PathPolicy(), False),
        (b"/a...%2f", PathPolicy(), False),
        # Runs of dots, dots encoded twice, a Windows drive behind a backslash.
        (b"/...%2f", PathPolicy(), True),
        (b"/static/....\\....\\boot.ini", PathPolicy(), True),
        (b"/%252e%252e\\%252e%252e\\x", PathPolicy(), True),
        (b"/static/C:\\boot.ini", PathPolicy(), True),
        (b"/%c0%2e%c0%2e%c0%5c%c0%2e%c0%2e%c0%5cx", PathPolicy(), True),
        (b"/static/AC:\\x", PathPolicy(), False),
        # Bytes that are not UTF-8 hiding dot segments (overlong "." "/" "\\"); one such
        # segment in bytes EUC-JP text holds is not enough (%c0%ae is a character of EUC-JP).
        (b"/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc", PathPolicy(), True),
        (b"/static/..%c1%9c..%c1%9cx", PathPolicy(), True),
        (b"/%f8%80%80%80%ae%f8%80%80%80%ae/x", PathPolicy(), True),
        (b"/x/%c0%ae%c0%ae/", PathPolicy(), False),
        (b"/%c0%ae%c0%ae/%a4%a2", PathPolicy(), False),
        (b"/%e0%80%ae%e0%80%ae/x", PathPolicy(), True),
        (b"/caf%ff", PathPolicy(), False),
        (b"a/b", PathPolicy(), False),
    ],
)
def test_only_reasons_no_honest_client_gives_are_hostile(raw: bytes, policy: PathPolicy, hostile: bool) -> None:
    with pytest.raises(BadRequest) as refused:
        canonical_path(raw, policy)
    assert refused.value.hostile is hostile, refused.value.reason
    assert refused.value.client == ""  # a front fills it in
