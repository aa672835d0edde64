"""The native ban view against its Python oracle: the same answers after any sequence of changes."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.core.bans import ban_key
from stockade.oracle.bans import OracleBanView
from stockade.stores.view import BanView

T0 = 1_800_000_000.0
CLIENTS = [
    "192.0.2.1",
    "192.0.2.200",
    "198.51.100.7",
    "10.1.2.3",
    "2001:db8::1",
    "2001:db8::1:2",
    "2001:db8:0:1::5",
    "2001:db9::7",
    "::1",
    "::ffff:192.0.2.1",  # not folded by the view: the fronts normalise clients first
]
NETWORKS = [
    "192.0.2.0/24",
    "192.0.2.128/25",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "198.51.100.7/32",
    "2001:db8::/32",
    "2001:db8::/64",
    "::/0",
    "::ffff:192.0.2.0/120",
    "192.0.2.7/24",  # host bits: masked as the Python side masks them
    "10.0.0.0/40",  # invalid: ignored
]
TEXTS = ["dry|192.0.2.1", "404s|192.0.2.1", "not an address", "2001:db8::1/64", "192.0.2.1/32"]
PREFIXES = [48, 64, 128]

ends = st.one_of(st.none(), st.floats(T0 - 50, T0 + 50), st.just(math.inf))
keys = st.one_of(
    st.builds(ban_key, st.sampled_from(CLIENTS), st.sampled_from(PREFIXES)),
    st.sampled_from(NETWORKS),
    st.sampled_from(TEXTS),
)
sets = st.tuples(st.just("set"), keys, ends, st.sampled_from([True, False, None]))
loads = st.tuples(
    st.just("load"),
    st.lists(st.tuples(keys, st.floats(T0 - 50, T0 + 50), st.booleans()), max_size=8),
)
forgets = st.tuples(st.just("forget"), st.booleans())
trusts = st.tuples(st.just("trust"), st.booleans())
operations = st.lists(st.one_of(sets, sets, sets, loads, forgets, trusts), max_size=30)


def apply(view: BanView | OracleBanView, operation: tuple[object, ...]) -> None:
    match operation:
        case ("set", str(key), until, network):
            view.set(
                key, until if isinstance(until, float) else None, network=network if isinstance(network, bool) else None
            )
        case ("load", list(records)):
            view.replace_all(records)
        case ("forget", bool(trusted)):
            view.forget(trusted=trusted)
        case ("trust", bool(trusted)):
            view.trusted = trusted


@settings(max_examples=300, deadline=None)
@given(operations, st.sampled_from([3, 1000]), st.floats(T0 - 60, T0 + 60), st.sampled_from(PREFIXES))
def test_the_native_view_answers_as_the_python_one(
    ops: list[tuple[object, ...]], capacity: int, now: float, prefix: int
) -> None:
    native, oracle = BanView(capacity), OracleBanView(capacity)
    for operation in ops:
        apply(native, operation)
        apply(oracle, operation)
        for client in CLIENTS:
            key = ban_key(client, prefix)
            assert native.peek(client, key, now) == oracle.peek(client, key, now), (operation, client)
    assert native.complete == oracle.complete
    assert native.trusted == oracle.trusted
    assert len(native) == len(oracle)


def test_an_ended_ban_is_inactive_but_kept_until_it_is_dropped() -> None:
    view = BanView()
    view.set("192.0.2.1", T0 + 10, network=False)
    assert view.peek("192.0.2.1", "192.0.2.1", T0 + 9.5).until == T0 + 10
    assert view.peek("192.0.2.1", "192.0.2.1", T0 + 10).until is None
    assert len(view) == 1  # forgotten only by a change that says so (an unban, a sweep, a load)
