"""The admin API's listener on the native front: one HTTP server for the site and the admin.

The front reads the admin listener's requests and hands every one to the Python side, where
the admin API and the console answer; the listener is never checked against the blocklist,
the bans or the site's rules (its peer is an operator's tool).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from stockade.server.testing import ServerThread
from tests.integration.console_support import TOKEN, request, write_site

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerThread, int, int]]:
    config = write_site(tmp_path)
    with ServerThread(config) as server:
        yield server, server.port, urlsplit(server.admin_url).port or 0


def admin_json(port: int, method: str, path: str, payload: object | None = None) -> tuple[int, object]:
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {**AUTH, "Content-Type": "application/json"} if body is not None else AUTH
    answer = request(port, method, path, body, headers)
    return answer.status, json.loads(answer.body) if answer.body else None


def test_the_admin_api_is_the_fronts_listener(served: tuple[ServerThread, int, int]) -> None:
    server, _, admin = served
    status, body = admin_json(admin, "GET", "/status")
    assert status == 200
    assert isinstance(body, dict)
    front = server.app.front_stats
    assert front is not None
    assert front()["requests"] >= 1


def test_two_admin_requests_share_one_keep_alive_connection(served: tuple[ServerThread, int, int]) -> None:
    _, _, admin = served
    connection = http.client.HTTPConnection("127.0.0.1", admin, timeout=10)
    try:
        for _ in range(2):
            connection.request("GET", "/status", headers=AUTH)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200
            assert int(response.headers["content-length"]) == len(body)
            assert response.headers.get("connection") != "close"
        # A HEAD answer has no body (the API answers HEAD 405): the next request still frames.
        connection.request("HEAD", "/status", headers=AUTH)
        head = connection.getresponse()
        assert head.read() == b""
        connection.request("GET", "/status", headers=AUTH)
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_a_posted_ban_with_a_length_or_chunked_body_is_made(served: tuple[ServerThread, int, int]) -> None:
    _, site, admin = served
    status, _ = admin_json(admin, "POST", "/ips/block", {"ip": "192.0.2.44", "seconds": 600})
    assert status == 200
    chunked = json.dumps({"ip": "192.0.2.45", "seconds": 600}).encode()
    with socket.create_connection(("127.0.0.1", admin), timeout=10) as sock:
        sock.sendall(
            b"POST /ips/block HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + f"{len(chunked):x}\r\n".encode()
            + chunked
            + b"\r\n0\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ")
    status, banned = admin_json(admin, "GET", "/ips/banned")
    assert status == 200
    assert isinstance(banned, dict)
    assert {"192.0.2.44", "192.0.2.45"} <= {entry["ip"] for entry in banned["bans"]}
    assert request(site, "GET", "/").status == 200  # the site still serves its other clients


def test_a_body_past_the_apis_limit_is_its_own_413(served: tuple[ServerThread, int, int]) -> None:
    _, _, admin = served
    big = json.dumps({"ip": "192.0.2.9", "reason": "x" * 70_000}).encode()
    answer = request(admin, "POST", "/ips/block", big, {**AUTH, "Content-Type": "application/json"})
    assert answer.status == 413
    assert json.loads(answer.body)["error"] == "payload_too_large"
    assert admin_json(admin, "GET", "/status")[0] == 200


def test_the_sites_checks_never_touch_the_admin_listener(served: tuple[ServerThread, int, int]) -> None:
    _, site, admin = served
    # Probes on the admin listener are the API's 404s, never strikes against the operator
    # (the site bans after 3 of them).
    for _ in range(5):
        assert request(admin, "GET", "/.env", headers=AUTH).status == 404
    status, state = admin_json(admin, "GET", "/ips/status?ip=127.0.0.1")
    assert status == 200
    assert isinstance(state, dict)
    assert (state["verdict"], state["count"]) == ("safe", 0)
    # The local client banned by the operator: the site refuses it, the admin API does not.
    assert admin_json(admin, "POST", "/ips/block", {"ip": "127.0.0.1", "seconds": 600})[0] == 200
    assert request(site, "GET", "/").status == 403
    assert admin_json(admin, "GET", "/status")[0] == 200


def test_a_blocklisted_operator_still_reaches_the_admin_api(tmp_path: Path) -> None:
    config = write_site(tmp_path)
    (tmp_path / "ip_blocklist.data").write_text("127.0.0.1\n")
    with ServerThread(config) as server:
        admin = urlsplit(server.admin_url).port or 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with contextlib.suppress(ConnectionResetError):  # closed with the request unread: a reset
                assert sock.recv(100) == b""  # closed at accept, unread
        assert admin_json(admin, "GET", "/status")[0] == 200
