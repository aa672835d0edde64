"""ForwardingWarnings: each trusted-proxy misconfiguration warning is logged once."""

from __future__ import annotations

import logging

import pytest

from stockade.core.client_ip import ClientIp
from stockade.server.forwarding import ForwardingWarnings

LOGGER = "stockade.server.forwarding"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def untrusted(peer: str, *, forwarded: bool = True) -> ClientIp:
    return ClientIp(peer, peer, trusted=False, header=None, forwarded=forwarded)


def test_headers_from_an_untrusted_peer_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    watcher = ForwardingWarnings()
    watcher.observe(untrusted("203.0.113.5", forwarded=False))
    assert warnings(caplog) == []
    for peer in ("203.0.113.5", "198.51.100.7", "203.0.113.5"):
        watcher.observe(untrusted(peer))
    assert warnings(caplog) == [
        "ignoring forwarding headers from 203.0.113.5, which is not a trusted proxy; "
        "if it is a proxy of yours, add it to [proxy] trusted"
    ]
    assert watcher.untrusted_warned
    assert watcher.settled


def test_trusted_peers_never_warn(caplog: pytest.LogCaptureFixture) -> None:
    watcher = ForwardingWarnings(same_peer_requests=3)
    for _ in range(10):
        watcher.observe(ClientIp("203.0.113.5", "10.0.0.1", trusted=True, header="x-forwarded-for", forwarded=True))
    assert warnings(caplog) == []


def test_one_private_peer_with_forwarding_headers_looks_like_a_proxy(caplog: pytest.LogCaptureFixture) -> None:
    watcher = ForwardingWarnings(same_peer_requests=3)
    for _ in range(2):
        watcher.observe(untrusted("127.0.0.1"))
    assert not watcher.proxy_warned
    for _ in range(5):
        watcher.observe(untrusted("127.0.0.1"))
    assert watcher.proxy_warned
    assert warnings(caplog)[1:] == [
        "every request so far (3) came from 127.0.0.1 with forwarding headers: it looks like a proxy; "
        "add it to [proxy] trusted, or every client shares its address"
    ]
    assert watcher.settled


@pytest.mark.parametrize(
    "second",
    [
        untrusted("10.0.0.2"),  # another peer
        untrusted("10.0.0.1", forwarded=False),  # a request without forwarding headers
        ClientIp("10.0.0.1", "10.0.0.1", trusted=True, header=None, forwarded=True),
    ],
)
def test_any_other_request_rules_out_a_lone_proxy(caplog: pytest.LogCaptureFixture, second: ClientIp) -> None:
    watcher = ForwardingWarnings(same_peer_requests=3)
    watcher.observe(untrusted("10.0.0.1"))
    watcher.observe(second)
    for _ in range(10):
        watcher.observe(untrusted("10.0.0.1"))
    assert not watcher.proxy_warned
    assert watcher.settled


@pytest.mark.parametrize("peer", ["8.8.8.8", "2a00:1450:4001::1", "unix:/run/stockade.sock"])
def test_public_or_non_ip_peers_are_not_taken_for_a_proxy(caplog: pytest.LogCaptureFixture, peer: str) -> None:
    watcher = ForwardingWarnings(same_peer_requests=2)
    for _ in range(5):
        watcher.observe(untrusted(peer))
    assert not watcher.proxy_warned
    assert len(warnings(caplog)) == 1
