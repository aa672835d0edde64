"""The Redis store beyond the contract suite: key layout, TTLs, slots, errors, flavours, URLs.

The contract suite (tests/contract) runs every transition against a single server and a
three-node cluster; here are the properties only Redis has: every record carries a TTL
unless it lasts forever, the keys of one transition share a cluster slot, passwords never
show, the asyncio flavour, Sentinel and TLS connections, and agreement with the memory
store when logins and reservations consult several keys.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.core.bans import BanPolicy
from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.errors import StoreError
from stockade.stores import MemoryStore, open_async_store, open_store
from stockade.stores.records import Scope
from tests.redis_servers import (
    ClusterServers,
    RedisProcess,
    SingleServer,
    free_port,
    redis_cluster,
    redis_single,
    require_redis_py,
    start_redis,
    unique_prefix,
)

require_redis_py()

from stockade.stores._async.redis_store import AsyncRedisStore  # noqa: E402
from stockade.stores._sync.redis_store import RedisStore  # noqa: E402

__all__ = ["redis_cluster", "redis_single"]

T0 = 1_800_000_000.0
POLICY = LockoutPolicy(max_retries=3, block_time=60.0, fail_expire_time=60.0, auth_timeout=30.0)
ALICE = LockoutKey("/secure", "alice")
BOB = LockoutKey("/secure", "bob")
SECRET = "pa55-w0rd-never-shown"


@pytest.fixture
def single(redis_single: SingleServer) -> SingleServer:
    redis_single.flush()
    return redis_single


@pytest.fixture
def cluster(redis_cluster: ClusterServers) -> ClusterServers:
    redis_cluster.flush()
    return redis_cluster


@pytest.fixture
def store(single: SingleServer) -> Iterator[RedisStore]:
    opened = open_store(single.url("test:"))
    assert isinstance(opened, RedisStore)
    yield opened
    opened.close()


def _populate(store: RedisStore) -> None:
    infinite = LockoutPolicy(max_retries=2, block_time=math.inf)
    store.record_failure(ALICE, T0, POLICY)
    store.block(BOB, math.inf, T0, POLICY)
    store.record_failure(LockoutKey("/secure", "carol"), T0, infinite)
    store.record_failure(LockoutKey("/secure", "carol"), T0, infinite)
    store.record_success([LockoutKey("/secure", "dave")], T0, POLICY)
    store.reserve([LockoutKey("/secure", "erin")], T0, POLICY)
    store.block(LockoutKey("/other", "frank", "10.0.0.1", "::1", 8443), T0 + 5, T0, POLICY)


# -- key layout ----------------------------------------------------------------------------------


def test_every_record_has_a_ttl_unless_it_lasts_forever(store: RedisStore, single: SingleServer) -> None:
    _populate(store)
    with single.server.client() as client:
        records = list(client.scan_iter(match="test:lockout:*"))
        assert len(records) == 6
        for name in records:
            ttl = client.pttl(name)
            expires_at = float(client.hget(name, "e"))
            if math.isinf(expires_at):
                assert ttl == -1, name
            else:
                # expires_at (from `now`) plus a day's grace, counted on the server's clock.
                assert 86_400_000 < ttl <= (expires_at - T0 + 86_400) * 1000, name
        assert sorted(client.hget(name, "e") for name in records).count("inf") == 2
        # The shard indexes are the only other keys; each lives as long as its longest-lived
        # record (no TTL when that one lasts forever).
        others = set(client.scan_iter(match="test:*")) - set(records)
        assert others
        assert all(name.startswith("test:index:{") for name in others)
        for index in others:
            top = float(client.zrange(index, -1, -1, withscores=True)[0][1])
            if math.isinf(top):
                assert client.pttl(index) == -1, index
            else:
                assert 86_400_000 < client.pttl(index) <= (top - T0 + 86_400) * 1000, index


def test_an_index_outlives_its_records_by_the_grace_only(store: RedisStore, single: SingleServer) -> None:
    store.block(ALICE, math.inf, T0, POLICY)
    _, index = store.keys.locate(ALICE)
    with single.server.client() as client:
        assert client.pttl(index) == -1
        store.unblock(Scope(user="alice"), T0 + 1)
        # Nothing left in the shard: Redis removed the empty index itself.
        assert not client.exists(index)
        store.record_failure(ALICE, T0, POLICY)
        assert 86_400_000 < client.pttl(index) <= (60 + 86_400) * 1000


def test_record_and_index_of_each_transition_share_a_slot(cluster: ClusterServers) -> None:
    store = open_store(cluster.url("slots:"))
    assert isinstance(store, RedisStore)
    try:
        keys = [LockoutKey("/d", f"user{i}", port=i % 3) for i in range(40)]
        for key in keys:
            store.record_failure(key, T0, POLICY)
        with cluster.nodes[0].client() as client:
            slots = set()
            for key in keys:
                record, index = store.keys.locate(key)
                slot = client.execute_command("CLUSTER", "KEYSLOT", record)
                assert slot == client.execute_command("CLUSTER", "KEYSLOT", index)
                slots.add(slot)
        assert len(slots) > 10
        # The records are spread over all three nodes.
        held = []
        for node in cluster.nodes:
            with node.client() as client:
                held.append(sum(1 for _ in client.scan_iter(match="slots:lockout:*")))
        assert sum(held) == 40
        assert all(held)
        assert [r.key for r in store.list_auth(Scope(), T0)] == []
        assert store.sweep(T0 + 61) == []
        assert cluster.count("slots:*") == 0
    finally:
        store.close()


def test_prefixes_keep_tenants_apart(single: SingleServer) -> None:
    first, second = open_store(single.url("one:")), open_store(single.url("two:"))
    try:
        first.block(ALICE, T0 + 10, T0, POLICY)
        assert second.list_blocked(Scope(), T0) == []
        assert second.unblock(Scope(), T0) == []
        assert second.sweep(T0 + 100) == []
        assert [r.key for r in first.list_blocked(Scope(), T0)] == [ALICE]
    finally:
        first.close()
        second.close()


def test_a_record_redis_expired_leaves_an_index_entry_the_sweep_removes(
    store: RedisStore, single: SingleServer
) -> None:
    store.block(ALICE, T0 + 10, T0, POLICY)
    record, index = store.keys.locate(ALICE)
    with single.server.client() as client:
        client.delete(record)  # as Redis does when the TTL runs out
        assert client.zcard(index) == 1
        assert store.list_blocked(Scope(), T0) == []
        assert store.unblock(Scope(), T0) == []
        assert store.sweep(T0 + 20) == []
        assert client.zcard(index) == 0


def test_times_round_trip_bit_for_bit(store: RedisStore) -> None:
    now = T0 + 0.1 + 0.2
    policy = LockoutPolicy(max_retries=1, block_time=1 / 3)
    outcome = store.record_failure(ALICE, now, policy)
    assert outcome.until == now + 1 / 3
    assert store.list_blocked(Scope(), now)[0].until == now + 1 / 3


# -- passwords and failures ----------------------------------------------------------------------


@pytest.fixture
def acl_user(single: SingleServer) -> Iterator[str]:
    with single.server.client() as client:
        client.execute_command("ACL", "SETUSER", "stockade-test", "on", f">{SECRET}", "~acl:*", "&acl:*", "+@all")
    yield f"redis://stockade-test:{SECRET}@127.0.0.1:{single.server.port}/0?prefix=acl:"
    with single.server.client() as client:
        client.execute_command("ACL", "DELUSER", "stockade-test")


def test_a_password_works_and_never_shows(acl_user: str) -> None:
    store = open_store(acl_user)
    try:
        store.block(ALICE, T0 + 10, T0, POLICY)
        assert [r.key for r in store.list_blocked(Scope(), T0)] == [ALICE]
        for text in (store.url, repr(store), str(store), repr(store.target)):  # type: ignore[attr-defined]
            assert SECRET not in text
        assert "stockade-test:***@" in store.url
    finally:
        store.close()


def test_a_wrong_password_is_a_store_error_without_it(acl_user: str) -> None:
    store = open_store(acl_user.replace(SECRET, "wrong-" + SECRET))
    try:
        with pytest.raises(StoreError) as info:
            store.record_failure(ALICE, T0, POLICY)
        assert info.value.operation == "record_failure"
        assert "stockade-test:***@127.0.0.1" in str(info.value)
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value.cause)
    finally:
        store.close()


def test_an_unreachable_server_is_a_store_error_for_every_operation() -> None:
    store = open_store(f"redis://:{SECRET}@127.0.0.1:{free_port()}/0?timeout=2")
    calls: dict[str, Any] = {
        "record_failure": lambda: store.record_failure(ALICE, T0, POLICY),
        "record_success": lambda: store.record_success([ALICE, BOB], T0, POLICY),
        "reserve": lambda: store.reserve([ALICE, BOB], T0, POLICY),
        "release": lambda: store.release(ALICE, T0, POLICY),
        "block": lambda: store.block(ALICE, T0 + 1, T0, POLICY),
        "unblock": lambda: store.unblock(Scope(), T0),
        "list_blocked": lambda: store.list_blocked(Scope(), T0),
        "list_auth": lambda: store.list_auth(Scope(), T0),
        "sweep": lambda: store.sweep(T0),
    }
    try:
        for operation, call in calls.items():
            with pytest.raises(StoreError) as info:
                call()
            assert info.value.operation == operation
            assert SECRET not in str(info.value)
            assert str(info.value).startswith("store redis://:***@127.0.0.1:")
    finally:
        store.close()


def test_an_unreachable_cluster_fails_at_open() -> None:
    with pytest.raises(StoreError) as info:
        open_store(f"redis+cluster://:{SECRET}@127.0.0.1:{free_port()}?timeout=2")
    assert info.value.operation == "open"
    assert SECRET not in str(info.value)


# -- the asyncio flavour -------------------------------------------------------------------------


def _async_scenario(url: str) -> None:
    async def main() -> None:
        store = open_async_store(url)
        assert isinstance(store, AsyncRedisStore)
        try:
            outcomes = await asyncio.gather(*(store.record_failure(ALICE, T0, POLICY) for _ in range(50)))
            assert sum(o.blocked for o in outcomes) == 16
            assert sorted(o.failures for o in outcomes) == sorted([1, 2, 3] * 16 + [1, 2])
            granted = await asyncio.gather(*(store.reserve([BOB], T0, POLICY) for _ in range(20)))
            assert sum(o.granted for o in granted) == 3
            assert [r.key for r in await store.list_blocked(Scope(), T0)] == [ALICE]
            result = await store.record_success([BOB, ALICE], T0 + 1, POLICY, reserved=True)
            assert (result.accepted, result.until) == (False, T0 + 60)
            result = await store.record_success([BOB, ALICE], T0 + 61, POLICY, reserved=True)
            assert (result.accepted, result.unblocked) == (True, (ALICE,))
            assert [r.key for r in await store.list_auth(Scope(), T0 + 62)] == [BOB]
            await store.block(ALICE, T0 + 100, T0, POLICY)
            assert [r.key for r in await store.unblock(Scope(user="alice"), T0)] == [ALICE]
            await store.release(BOB, T0 + 62, POLICY)
            assert await store.sweep(T0 + 200) == []
        finally:
            await store.aclose()

    asyncio.run(main())


def test_async_store_on_a_single_server(single: SingleServer) -> None:
    _async_scenario(single.url("async:"))


def test_async_store_on_a_cluster(cluster: ClusterServers) -> None:
    _async_scenario(cluster.url("async:"))


def test_async_errors_are_store_errors() -> None:
    async def main() -> None:
        store = open_async_store(f"redis+cluster://:{SECRET}@127.0.0.1:{free_port()}?timeout=2")
        try:
            with pytest.raises(StoreError) as info:
                await store.record_failure(ALICE, T0, POLICY)
            assert info.value.operation == "record_failure"
            assert SECRET not in str(info.value)
        finally:
            await store.aclose()

    asyncio.run(main())


# -- Sentinel and TLS ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sentinel(redis_single: SingleServer) -> Iterator[RedisProcess]:
    directory = Path(tempfile.mkdtemp(prefix="stockade-sentinel-"))
    config = directory / "sentinel.conf"
    config.write_text(f"sentinel monitor primary 127.0.0.1 {redis_single.server.port} 1\n")
    process = start_redis("--sentinel", config=config, ready="+monitor master primary")
    yield process
    process.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_sentinel_finds_the_master(sentinel: RedisProcess, single: SingleServer) -> None:
    url = f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{sentinel.port}/primary/0?prefix=sentinel:"
    store = open_store(url)
    try:
        store.block(ALICE, T0 + 10, T0, POLICY)
        assert [r.key for r in store.list_blocked(Scope(), T0)] == [ALICE]
    finally:
        store.close()
    assert single.count("sentinel:lockout:*") == 1

    async def main() -> None:
        store = open_async_store(url)
        try:
            assert [r.key for r in await store.list_blocked(Scope(), T0)] == [ALICE]
        finally:
            await store.aclose()

    asyncio.run(main())


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[RedisProcess, Path]]:
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is needed to make the TLS test certificates (.ci/run installs it)", pytrace=False)
        pytest.skip("openssl is needed to make the TLS test certificates")
    directory = Path(tempfile.mkdtemp(prefix="stockade-tls-"))
    try:
        _make_certificates(directory)
        server = start_redis(
            "--port",
            "0",
            "--tls-cert-file",
            str(directory / "server.crt"),
            "--tls-key-file",
            str(directory / "server.key"),
            "--tls-ca-cert-file",
            str(directory / "ca.crt"),
            "--tls-auth-clients",
            "no",
            port_option="--tls-port",
        )
        yield server, directory / "ca.crt"
        server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _make_certificates(directory: Path) -> None:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=stockade test CA")
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip


def test_tls_with_the_server_ca(tls_server: tuple[RedisProcess, Path]) -> None:
    server, ca = tls_server
    store = open_store(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={ca}&prefix=tls:")
    try:
        store.block(ALICE, T0 + 10, T0, POLICY)
        assert [r.key for r in store.list_blocked(Scope(), T0)] == [ALICE]
    finally:
        store.close()


def test_tls_refuses_an_unknown_certificate(tls_server: tuple[RedisProcess, Path]) -> None:
    server, _ = tls_server
    store = open_store(f"rediss://127.0.0.1:{server.port}/0?prefix=tls:")
    try:
        with pytest.raises(StoreError, match="certificate verify failed"):
            store.list_blocked(Scope(), T0)
    finally:
        store.close()


def test_plain_text_to_a_tls_port_fails(tls_server: tuple[RedisProcess, Path]) -> None:
    server, _ = tls_server
    store = open_store(f"redis://127.0.0.1:{server.port}/0?timeout=2")
    try:
        with pytest.raises(StoreError):
            store.list_blocked(Scope(), T0)
    finally:
        store.close()


# -- logins and reservations that consult several keys agree with the memory store -------------

_KEYS = [LockoutKey("/d", "", "10.0.0.1"), LockoutKey("/d", "a"), LockoutKey("/d", "b"), LockoutKey("/d", "c", port=2)]
_POLICIES = [
    LockoutPolicy(max_retries=2, block_time=30.0, fail_expire_time=20.0, auth_timeout=10.0, reservation_timeout=15.0),
    LockoutPolicy(max_retries=None, block_time=math.inf, fail_expire_time=math.inf, auth_timeout=math.inf),
]
_index = st.integers(min_value=0, max_value=len(_KEYS) - 1)
_keys = st.lists(_index, min_size=1, max_size=3, unique=True)
_operations = st.lists(
    st.tuples(
        st.sampled_from([0, 0.5, 1, 5, 10, 20, 31]),
        st.integers(min_value=0, max_value=len(_POLICIES) - 1),
        st.one_of(
            st.tuples(st.just("fail"), _index, st.booleans()),
            st.tuples(st.just("succeed"), _keys, st.booleans()),
            st.tuples(st.just("reserve"), _keys, st.booleans()),
            st.tuples(st.just("release"), _index, st.booleans()),
            st.tuples(st.just("block"), _index, st.sampled_from([-5, 0, 10, 40, math.inf])),
            st.tuples(st.just("unblock"), st.sampled_from(["", "a", "b", "c"]), st.booleans()),
            st.tuples(st.just("sweep"), st.booleans(), st.booleans()),
        ),
    ),
    max_size=30,
)


def _apply(store: Any, now: float, policy: LockoutPolicy, op: tuple[str, Any, Any]) -> object:
    name, a, b = op
    match name:
        case "fail":
            return store.record_failure(_KEYS[a], now, policy, reserved=b)
        case "succeed":
            return store.record_success([_KEYS[i] for i in a], now, policy, reserved=b)
        case "reserve":
            return store.reserve([_KEYS[i] for i in a], now, policy)
        case "release":
            return store.release(_KEYS[a], now, policy)
        case "block":
            return store.block(_KEYS[a], now + b, now, policy)
        case "unblock":
            return store.unblock(Scope(user=a), now)
        case _:
            return sorted(store.sweep(now), key=str)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=_operations)
def test_multi_key_operations_agree_with_the_memory_store(
    single: SingleServer, operations: list[tuple[float, int, tuple[str, Any, Any]]]
) -> None:
    reference = MemoryStore()
    prefix = unique_prefix(uuid.uuid4())
    store = open_store(single.url(prefix))
    try:
        now = T0
        for gap, policy, op in operations:
            now += gap
            assert _apply(store, now, _POLICIES[policy], op) == _apply(reference, now, _POLICIES[policy], op), op
            assert store.list_blocked(Scope(), now) == reference.list_blocked(Scope(), now)
            assert store.list_auth(Scope(), now) == reference.list_auth(Scope(), now)
        assert single.count(f"{prefix}lockout:*") == len(reference)
    finally:
        store.close()


def test_only_a_change_of_ban_is_announced(single: SingleServer) -> None:
    """A strike below the threshold changes no ban: it is not announced, so no late "not banned"
    from it can undo, in the writer's own view, the ban its next strike sets there."""
    prefix = unique_prefix(uuid.uuid4())
    store = open_store(single.url(prefix), watch=False)
    policy = BanPolicy(threshold=3, window=60.0, block_duration=100.0)
    with single.server.client() as client, client.pubsub() as feed:
        feed.subscribe(f"{prefix}changes")
        assert feed.get_message(timeout=5)["type"] == "subscribe"
        try:
            for i in range(3):
                store.record_strike("192.0.2.10", T0 + i, policy)
            store.unban_ip("192.0.2.10", T0 + 3)
        finally:
            store.close()
        ends = []
        while (message := feed.get_message(timeout=0.5)) is not None:
            data = message["data"]
            ends.append((data.decode() if isinstance(data, bytes) else str(data)).split("\t")[2])
    assert len(ends) == 2, ends  # the ban, then its end: nothing for the two strikes before it
    assert float(ends[0]) == T0 + 2 + 100.0
    assert ends[1] == ""
