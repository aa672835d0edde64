"""A request refused before the checks (400) for a path only an attack sends counts toward a ban.

A path that climbs above the root, hides a dot segment (behind parameters, a backslash, an
escaped slash or a control character, or in overlong UTF-8), names a Windows drive behind a
backslash or holds a null byte has no safe canonical form: every
front answers 400 before the ladder runs. Such a request is still an attack on what the path
hides, so it counts against its client as a malicious request does, through every front
(``stockade serve``, the ASGI and WSGI middlewares); a merely malformed
request (an escaped slash, a backslash, a stray tab, none beside a dot segment) counts nothing.
The fronts are those of ``test_bodies``; clients come through the trusted proxy's
``X-Forwarded-For``.
"""

from __future__ import annotations

import itertools

import pytest

from tests.integration.test_bodies import THRESHOLD, Front, base, front, send, server_config, upstream

__all__ = ["base", "front", "server_config", "upstream"]  # the fixtures this module shares

pytestmark = pytest.mark.slow

_addresses = (f"198.18.7.{n}" for n in itertools.count(1))

HOSTILE = [
    "/echo/../../etc/passwd",
    "/echo/%2e%2e/%2e%2e/etc/passwd",
    "/echo/.%2e/.%2e/.%2e/etc/shadow",
    "/echo/..%5c..%5cwindows%5cwin.ini",  # a dot segment beside an escaped backslash
    "/echo/x%2f..%2f..%2fetc%2fpasswd",  # beside escaped slashes
    "/echo/php.ini%00.txt",  # a null byte
    "/echo/....%5c....%5cboot.ini",  # runs of dots beside escaped backslashes
    "/echo/C:%5cboot.ini",  # a Windows drive behind a backslash
    "/echo/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd",  # overlong "../../"
]
# (One overlong "..": two characters of EUC-JP text as well.)
MALFORMED = ["/echo/a%5cb", "/echo/a%2fb", "/echo/a%09b", "/echo/%c0%ae%c0%ae/x", "/echo/AC:%5cx"]


@pytest.mark.parametrize("path", HOSTILE)
def test_a_path_only_an_attack_sends_counts_toward_a_ban(front: Front, path: str) -> None:
    client = next(_addresses)
    assert send(front, "GET", "/echo/clean", client=client).status == 200
    for _ in range(THRESHOLD):
        assert send(front, "GET", path, client=client).status == 400
    assert send(front, "GET", "/echo/clean", client=client).status == 403  # banned


@pytest.mark.parametrize("path", MALFORMED)
def test_a_merely_malformed_path_counts_nothing(front: Front, path: str) -> None:
    client = next(_addresses)
    for _ in range(THRESHOLD + 1):
        assert send(front, "GET", path, client=client).status == 400
    assert send(front, "GET", "/echo/clean", client=client).status == 200
