"""Redis store URLs and key names, without a server."""

from __future__ import annotations

import pytest

from stockade.core.lockout import LockoutKey
from stockade.errors import InvalidArgument
from stockade.stores import open_store
from stockade.stores.redis import ACCEPTED, RedisTarget, Secret, is_redis_url, parse_redis_url, redact
from stockade.stores.redis.keys import SHARDS, KeySpace
from stockade.stores.redis.scripts import BAN_NAMES, NAMES, load_scripts, parse_state, policy_args

# -- URL forms -----------------------------------------------------------------------------------


def test_single_server_defaults() -> None:
    target = parse_redis_url("redis://cache.internal")
    assert target == RedisTarget(kind="single", url="redis://cache.internal", hosts=(("cache.internal", 6379),))
    assert (target.db, target.prefix, target.timeout, target.tls, target.password) == (
        0,
        "stockade:v1:",
        5.0,
        False,
        None,
    )


def test_single_server_with_credentials_database_and_options() -> None:
    target = parse_redis_url("redis://app:s%40cret@10.0.0.5:6380/3?prefix=tenant-a:&timeout=0.5")
    assert target.hosts == (("10.0.0.5", 6380),)
    assert (target.username, target.db, target.prefix, target.timeout) == ("app", 3, "tenant-a:", 0.5)
    assert target.password is not None
    assert target.password.reveal() == "s@cret"
    assert target.url == "redis://app:***@10.0.0.5:6380/3?prefix=tenant-a:&timeout=0.5"


def test_password_without_user() -> None:
    target = parse_redis_url("redis://:hunter2@localhost/0")
    assert target.username is None
    assert target.password is not None
    assert target.password.reveal() == "hunter2"
    assert target.url == "redis://:***@localhost/0"


def test_tls() -> None:
    target = parse_redis_url("rediss://:pw@redis.example:6390/1?ssl_cert_reqs=optional&ssl_ca_certs=/etc/ca.pem")
    assert (target.kind, target.tls, target.ssl_cert_reqs, target.ssl_ca_certs) == (
        "single",
        True,
        "optional",
        "/etc/ca.pem",
    )
    assert parse_redis_url("rediss://redis.example").ssl_cert_reqs == "required"


def test_sentinel() -> None:
    target = parse_redis_url("redis+sentinel://:pw@s1:26380,s2,[::1]:26381/mymaster/2")
    assert target.kind == "sentinel"
    assert target.hosts == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (target.service_name, target.db) == ("mymaster", 2)
    assert parse_redis_url("redis+sentinel://s1/mymaster").db == 0


def test_cluster() -> None:
    target = parse_redis_url("redis+cluster://:pw@n1:7000,n2:7001,n3?prefix=x:")
    assert target.kind == "cluster"
    assert target.hosts == (("n1", 7000), ("n2", 7001), ("n3", 6379))
    assert target.prefix == "x:"
    assert parse_redis_url("redis+cluster://n1:7000/").hosts == (("n1", 7000),)


def test_ipv6_host() -> None:
    assert parse_redis_url("redis://[::1]:6380").hosts == (("::1", 6380),)
    assert parse_redis_url("redis://[::1]").hosts == (("::1", 6379),)


def test_is_redis_url() -> None:
    assert [is_redis_url(u) for u in ("redis://h", "rediss://h", "redis+sentinel://h/m", "redis+cluster://h")] == [
        True
    ] * 4
    assert not is_redis_url("sqlite:///x.db")
    assert not is_redis_url("memory://")


# -- bad URLs: the message names what is accepted, never the password ------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis:/host", f"invalid store url 'redis:/host': expected {ACCEPTED}"),
        ("redis://", f"invalid store url 'redis://': expected {ACCEPTED}"),
        ("redis://:pw@", f"invalid store url 'redis://:***@': expected {ACCEPTED}"),
        ("redis://a:1,b:2", f"invalid store url 'redis://a:1,b:2': expected {ACCEPTED}"),
        ("redis://:pw@h/0/1", f"invalid store url 'redis://:***@h/0/1': expected {ACCEPTED}"),
        ("redis://h#frag", f"invalid store url 'redis://h#frag': expected {ACCEPTED}"),
        ("redis://[::1", f"invalid store url 'redis://[::1': expected {ACCEPTED}"),
        ("redis://h:port", "invalid redis port 'port': expected an integer from 1 to 65535"),
        ("redis://h:70000", "invalid redis port '70000': expected an integer from 1 to 65535"),
        ("redis://h/db1", "invalid redis database 'db1': expected a database number such as /0"),
        ("redis://h?db=1", "invalid store url parameter 'db': expected prefix or timeout"),
        (
            "rediss://h?ssl=1",
            "invalid store url parameter 'ssl': expected prefix or timeout or ssl_cert_reqs or ssl_ca_certs",
        ),
        ("redis://h?ssl_cert_reqs=none", "invalid store url parameter 'ssl_cert_reqs': expected prefix or timeout"),
        ("rediss://h?ssl_cert_reqs=maybe", "invalid ssl_cert_reqs 'maybe': expected required, optional or none"),
        ("redis://h?timeout=0", "invalid timeout '0': expected a positive number of seconds"),
        ("redis://h?timeout=inf", "invalid timeout 'inf': expected a positive number of seconds"),
        ("redis://h?timeout=soon", "invalid timeout 'soon': expected a positive number of seconds"),
        (
            "redis://h?prefix={tag}:",
            "invalid redis key prefix '{tag}:': expected a non-empty prefix without braces or whitespace",
        ),
        ("redis://h?prefix=", "invalid redis key prefix '': expected a non-empty prefix without braces or whitespace"),
        ("redis+sentinel://s1", "invalid sentinel service name '': expected /service_name or /service_name/db"),
        (
            "redis+sentinel://s1/m/0/x",
            "invalid sentinel service name 'm/0/x': expected /service_name or /service_name/db",
        ),
        ("redis+cluster://n1/0", "invalid redis cluster path '/0': expected nothing: a cluster has only database 0"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_redis_url(url)
    assert str(info.value) == message


def test_unknown_schemes_list_the_redis_forms() -> None:
    with pytest.raises(InvalidArgument) as info:
        open_store("postgres://db/x")
    assert str(info.value) == (
        "invalid store url 'postgres://db/x': expected memory://, sqlite:///path.db, redis://, rediss://, "
        "redis+sentinel:// or redis+cluster://"
    )


# -- secrets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:pw@h:1/0?prefix=p:", "redis://user:***@h:1/0?prefix=p:"),
        ("redis+cluster://:pw@a:1,b:2", "redis+cluster://:***@a:1,b:2"),
        ("redis://user@h", "redis://user@h"),
        ("redis://h/0?x=a@b", "redis://h/0?x=a@b"),
        ("no-scheme:pw@host", "***@host"),
        ("redis://h", "redis://h"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_secrets_do_not_show() -> None:
    target = parse_redis_url("redis+sentinel://app:t0p-s3cret@s1/m")
    assert "t0p-s3cret" not in repr(target)
    assert "t0p-s3cret" not in target.url
    assert repr(Secret("t0p-s3cret")) == str(Secret("t0p-s3cret")) == "Secret('***')"


# -- key names -------------------------------------------------------------------------------------

_AWKWARD = [
    LockoutKey("/secure", "alice"),
    LockoutKey("/a b:c{d}", "ü%x:y", "10.0.0.1", "::1", 8080),
    LockoutKey("", "", "", None, 0),
    LockoutKey("/d", "}{", "2001:db8::1", "127.0.0.1", 65535),
]


@pytest.mark.parametrize("key", _AWKWARD)
def test_key_names_map_back_to_their_keys(key: LockoutKey) -> None:
    keys = KeySpace("tenant:")
    record, index = keys.locate(key)
    assert keys.parse(record) == key
    assert keys.index_of(record) == index
    # The hash tag is the shard, the same in the record's name and its index's.
    tag = record[record.index("{") : record.index("}") + 1]
    assert index == f"tenant:index:{tag}"
    assert record.count("{") == record.count("}") == 1


def test_key_name_layout() -> None:
    record, index = KeySpace().locate(LockoutKey("/secure", "alice", port=8443))
    assert record.startswith("stockade:v1:lockout:{")
    assert record.endswith("}:/secure:alice:::8443")
    assert index.startswith("stockade:v1:index:{")


def test_keys_spread_over_every_shard() -> None:
    keys = KeySpace()
    indexes = {keys.locate(LockoutKey("/d", f"user{i}"))[1] for i in range(2000)}
    assert indexes == set(keys.indexes)
    assert len(keys.indexes) == SHARDS


@pytest.mark.parametrize(
    "name",
    [
        "other:lockout:{01}:/d:u:::0",
        "tenant:lockout:01:/d:u:::0",
        "tenant:lockout:{01}:/d:u::0",
        "tenant:lockout:{01}:/d:u:::port",
        "tenant:index:{01}",
    ],
)
def test_foreign_names_parse_to_nothing(name: str) -> None:
    assert KeySpace("tenant:").parse(name) is None


# -- the scripts -------------------------------------------------------------------------------------


def test_every_script_carries_the_shared_helpers() -> None:
    scripts = load_scripts()
    assert sorted(scripts) == sorted(NAMES + BAN_NAMES)
    for text in scripts.values():
        assert "local function save(" in text
    for name in BAN_NAMES:
        assert "local function store_ban(" in scripts[name]


def test_policy_and_state_encoding() -> None:
    from stockade.core.lockout import LockoutPolicy, LockoutState  # noqa: PLC0415

    assert policy_args(LockoutPolicy(max_retries=None, block_time=float("inf"))) == (
        "",
        "inf",
        "1800.0",
        "30.0",
        "30.0",
        "64",
    )
    assert parse_state("1.5 2.25", "inf", None, "") == LockoutState(failures=(1.5, 2.25), blocked_until=float("inf"))
