"""``[lockout] scope``: two servers, each on an address of its own, sharing one store.

Records are kept per listener address and port by default (the reference's semantics), so
each host counts its own failures; with ``scope = "site"`` the failures and blocks of every
listener sharing the store are one. Real servers on real sockets, on a real SQLite file and
on a real Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from stockade.clock import ManualClock
from stockade.server.listen import ListenAddress
from stockade.server.settings import ListenerSpec
from stockade.server.testing import ServerThread
from tests.integration.conftest import PASSWORDS, HttpClient, Site
from tests.redis_servers import SingleServer, redis_single, unique_prefix

__all__ = ["redis_single"]

ALICE = ("alice", PASSWORDS["alice"])
WRONG = ("alice", "wrong")


def _store_url(kind: str, site: Site, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{site.store}"
    redis: SingleServer = request.getfixturevalue("redis_single")
    return redis.url(unique_prefix(site.base))


@contextlib.contextmanager
def two_hosts(site: Site, store_url: str, scope: str | None) -> Iterator[tuple[HttpClient, HttpClient]]:
    """Two servers on one store: 127.0.0.1:P and 127.0.0.2:P, as two hosts with addresses of their own."""
    config = site.write_config(audit=False, store_url=store_url)
    if scope is not None:
        config.write_text(config.read_text() + f'\n[lockout]\nscope = "{scope}"\n')
    clock = ManualClock()
    with ServerThread(config, clock=clock) as first:
        second_address = ListenAddress("127.0.0.2", first.port)
        with ServerThread(config, clock=clock, listeners=[ListenerSpec(second_address)]) as second:
            yield HttpClient(first.port), HttpClient(second.port, host="127.0.0.2")


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_site_scope_shares_failures_and_blocks_between_listeners(
    site: Site, kind: str, request: pytest.FixtureRequest
) -> None:
    with two_hosts(site, _store_url(kind, site, request), "site") as (first, second):
        # max_retries = 3: two failures on one host and one on the other block alice on both.
        assert [first.get("/secure/", auth=WRONG).status for _ in range(2)] == [401, 401]
        assert second.get("/secure/", auth=WRONG).status == 401
        assert second.get("/secure/", auth=ALICE).status == 403
        assert first.get("/secure/", auth=ALICE).status == 403


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("scope", [None, "listener"])
def test_listener_scope_counts_each_listener_apart(
    site: Site, kind: str, scope: str | None, request: pytest.FixtureRequest
) -> None:
    with two_hosts(site, _store_url(kind, site, request), scope) as (first, second):
        assert [first.get("/secure/", auth=WRONG).status for _ in range(2)] == [401, 401]
        assert second.get("/secure/", auth=WRONG).status == 401
        # Neither listener saw three failures: the reference's semantics, and the default.
        assert first.get("/secure/", auth=ALICE).status == 200
        assert second.get("/secure/", auth=ALICE).status == 200
