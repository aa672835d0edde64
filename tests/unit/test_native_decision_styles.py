"""The native front's reading of check requests against :func:`stockade.decision.styles.describe`.

Differential tests (hypothesis): for any check target, method and header lines, the native
reading (``stockade._native.describe_check``, what ``Request.original`` reads on the
decision listener) gives the same style and original request as the Python one, or the
same refusal (``BadCheck`` or ``BadRequest``) with the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stockade import _native
from stockade.decision.styles import describe
from stockade.errors import BadCheck, BadRequest

NAMES = [
    b"host",
    b"x-original-method",
    b"x-original-uri",
    b"x-original-url",
    b"x-forwarded-method",
    b"x-forwarded-uri",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-forwarded-for",
    b"x-scheme",
    b"x-sent-from",
    b"x-auth-request-redirect",
    b"x-envoy-auth-partial-body",
    b"content-length",
    b"transfer-encoding",
    b"authorization",
    b"user-agent",
]
PIECES = [b"", b" ", b"\t", b"/", b"?", b"#", b"://", b",", b"a", b"GET", b"POST", b"https", b"HTTP", b"wss", b"x y"]
PIECES += [b"http://h.example/p?q", b"HTTPS://", b"/old/page", b"\xe9", b"ftp://h/", b"*"]
VALUES = st.lists(st.sampled_from(PIECES), max_size=4).map(b"".join)


def _case(name: bytes, upper: list[bool]) -> bytes:
    return bytes(c - 32 if flip and 97 <= c <= 122 else c for c, flip in zip(name, upper, strict=False))


NAME = st.builds(_case, st.sampled_from(NAMES), st.lists(st.booleans(), min_size=30, max_size=30))
HEADERS = st.lists(st.tuples(NAME, VALUES), max_size=8)
CHECKS = [b"/nginx", b"/ingress-nginx", b"/forward", b"/envoy", b"/other", b"/nginxx", b""]
RESTS = st.lists(st.sampled_from(PIECES), max_size=3).map(b"".join)
TARGETS = st.builds(lambda check, rest: check + rest, st.sampled_from(CHECKS), RESTS)
METHODS = st.sampled_from(["GET", "POST", "HEAD", "PROPFIND", "", "G T", "A" * 33, "A" * 32, "M\u00e9"])


def outcome(call: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        found = call(*args)
    except BadCheck as exc:
        return ("bad_check", str(exc))
    except BadRequest as exc:
        return ("bad_request", str(exc))
    if found is None:
        return ("none", None)
    style, original = found
    name = style if isinstance(style, str) else style.name
    return ("ok", (name, tuple(original[:4]), [tuple(line) for line in original[4]]))


@given(METHODS, TARGETS, HEADERS)
@settings(max_examples=1000, deadline=None)
@example("GET", b"/nginx", [(b"X-Original-URI", b" /a?b#c "), (b"X-Original-Method", b"GET"), (b"Host", b"h")])
@example("GET", b"/forward?x", [(b"X-Forwarded-Method", b"GET"), (b"x-forwarded-uri", b"/"), (b"X-Forwarded-Uri", b"")])
@example("GET", b"/ingress-nginx", [(b"X-Original-Method", b"GET"), (b"X-Original-URL", b"Http://h/p?q#f")])
@example("POST", b"/envoy/a?b=c", [(b"Host", b"h"), (b"Content-Length", b"3"), (b"X-Forwarded-Proto", b"WSS, http")])
def test_the_native_reading_of_a_check_request_is_the_python_one(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    assert outcome(_native.describe_check, method, target, headers) == outcome(describe, method, target, headers)
