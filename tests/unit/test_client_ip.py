"""ClientIpResolver: forwarding headers believed only from trusted proxies, never a spoofed hop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stockade.config  # noqa: F401  (loads stockade.server.settings without an import cycle)
from stockade.core.client_ip import ClientIp, ClientIpResolver
from stockade.errors import InvalidArgument
from stockade.netaddr import normalize_ip
from stockade.server.settings import TrustedProxies

TRUSTED = ("10.0.0.0/8", "::1", "2001:db8:ffff::/48", "fe80::/10")
PROXY = "10.0.0.1"
CLIENT = "203.0.113.5"
SPOOF = "198.51.100.66"


@dataclass(frozen=True)
class Trust:
    """Shaped like stockade.server.settings.TrustedProxies."""

    networks: tuple[str, ...] = TRUSTED
    header: str = "x-forwarded-for"


def headers(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def resolve(peer: str, *pairs: tuple[str, str], trust: Trust | None = None) -> ClientIp:
    """Without ``trust``, the header configured is the one the first pair names (each header's own tests)."""
    if trust is None:
        first = pairs[0][0].lower() if pairs else ""
        trust = Trust(header=first) if first in ("forwarded", "x-real-ip") else Trust()
    return ClientIpResolver(trust).resolve(peer, headers(*pairs))


def client_of(peer: str, *pairs: tuple[str, str], trust: Trust | None = None) -> str:
    return resolve(peer, *pairs, trust=trust).address


def test_the_settings_class_is_accepted() -> None:
    resolver = ClientIpResolver(TrustedProxies(networks=("10.0.0.0/8",)))
    assert resolver.header == "x-forwarded-for"
    assert resolver.resolve(PROXY, headers(("x-forwarded-for", CLIENT))).address == CLIENT


# -- the peer -----------------------------------------------------------------------------


def test_no_headers_the_peer_is_the_client() -> None:
    assert resolve(CLIENT) == ClientIp(CLIENT, CLIENT, trusted=False, header=None, forwarded=False)
    assert resolve(PROXY) == ClientIp(PROXY, PROXY, trusted=True, header=None, forwarded=False)


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    for name in ("x-forwarded-for", "forwarded", "x-real-ip"):
        value = f"for={SPOOF}" if name == "forwarded" else SPOOF
        assert resolve(CLIENT, (name, value)) == ClientIp(CLIENT, CLIENT, trusted=False, header=None, forwarded=True)


def test_the_peer_is_normalised() -> None:
    assert resolve("::ffff:203.0.113.5").address == CLIENT
    assert resolve("::FFFF:10.0.0.1", ("x-forwarded-for", CLIENT)) == ClientIp(
        CLIENT, PROXY, trusted=True, header="x-forwarded-for", forwarded=True
    )
    assert resolve("fe80::1%eth0", ("x-forwarded-for", CLIENT)).address == CLIENT
    assert resolve("2001:DB8::1").address == "2001:db8::1"


def test_a_peer_that_is_not_an_address_is_kept_and_never_trusted() -> None:
    assert resolve("unix:/run/stockade.sock", ("x-forwarded-for", SPOOF)) == ClientIp(
        "unix:/run/stockade.sock", "unix:/run/stockade.sock", trusted=False, header=None, forwarded=True
    )
    assert resolve("").address == ""


def test_other_headers_do_not_count_as_forwarding() -> None:
    result = resolve(CLIENT, ("x-forwarded-host", "example.com"), ("x-forwarded-proto", "https"), ("host", "a"))
    assert result.forwarded is False


def test_header_names_are_case_insensitive() -> None:
    assert client_of(PROXY, ("X-Forwarded-For", CLIENT)) == CLIENT
    assert client_of(PROXY, ("FORWARDED", f"For={CLIENT}")) == CLIENT
    assert resolve(CLIENT, ("X-Real-IP", SPOOF)).forwarded


# -- X-Forwarded-For ----------------------------------------------------------------------


def test_xff_spoofed_leftmost_entry_through_a_trusted_proxy() -> None:
    assert client_of(PROXY, ("x-forwarded-for", f"{SPOOF}, {CLIENT}")) == CLIENT


def test_xff_skips_trusted_hops_from_the_right() -> None:
    assert client_of(PROXY, ("x-forwarded-for", f"{SPOOF}, {CLIENT}, 10.1.1.1, 10.2.2.2")) == CLIENT
    assert client_of(PROXY, ("x-forwarded-for", f"{CLIENT}, ::1, 2001:db8:ffff::9")) == CLIENT


def test_xff_all_trusted_the_leftmost_is_the_client() -> None:
    assert client_of(PROXY, ("x-forwarded-for", "10.9.9.9, 10.1.1.1, 10.2.2.2")) == "10.9.9.9"


def test_xff_lines_are_joined_in_order() -> None:
    assert client_of(PROXY, ("x-forwarded-for", SPOOF), ("x-forwarded-for", CLIENT)) == CLIENT
    assert client_of(PROXY, ("x-forwarded-for", CLIENT), ("accept", "*/*"), ("x-forwarded-for", "10.1.1.1")) == CLIENT


def test_xff_garbage_stops_the_walk_at_the_last_good_hop() -> None:
    assert client_of(PROXY, ("x-forwarded-for", f"{SPOOF}, garbage, 10.1.1.1")) == "10.1.1.1"
    assert client_of(PROXY, ("x-forwarded-for", f"{SPOOF}, unknown")) == PROXY
    assert resolve(PROXY, ("x-forwarded-for", f"{SPOOF}, 1.2.3")).header is None
    assert client_of(PROXY, ("x-forwarded-for", f"{SPOOF} {CLIENT}")) == PROXY


def test_xff_empty_entries_are_skipped() -> None:
    assert client_of(PROXY, ("x-forwarded-for", f" {CLIENT},, ,\t10.1.1.1,")) == CLIENT


def test_xff_entries_with_ports_and_brackets() -> None:
    assert client_of(PROXY, ("x-forwarded-for", f"{CLIENT}:4711")) == CLIENT
    assert client_of(PROXY, ("x-forwarded-for", "[2001:DB8::7]:443")) == "2001:db8::7"
    assert client_of(PROXY, ("x-forwarded-for", "[2001:db8::7]")) == "2001:db8::7"
    assert client_of(PROXY, ("x-forwarded-for", "2001:db8::7")) == "2001:db8::7"
    assert client_of(PROXY, ("x-forwarded-for", f"{CLIENT}:http")) == PROXY
    assert client_of(PROXY, ("x-forwarded-for", "[1.2.3.4]")) == PROXY
    assert client_of(PROXY, ("x-forwarded-for", "[2001:db8::7")) == PROXY
    assert client_of(PROXY, ("x-forwarded-for", "[2001:db8::7]x")) == PROXY


def test_xff_ipv4_mapped_entries_are_normalised() -> None:
    assert client_of(PROXY, ("x-forwarded-for", f"::ffff:{CLIENT}, ::ffff:10.3.3.3")) == CLIENT


# -- Forwarded ----------------------------------------------------------------------------


def test_forwarded_walks_like_xff() -> None:
    value = f"for={SPOOF}, for={CLIENT};proto=https;by=10.0.0.1, for=10.1.1.1"
    assert resolve(PROXY, ("forwarded", value)) == ClientIp(
        CLIENT, PROXY, trusted=True, header="forwarded", forwarded=True
    )


def test_forwarded_quoted_bracketed_ipv6_with_ports() -> None:
    assert client_of(PROXY, ("forwarded", 'for="[2001:DB8:CAFE::17]:4711"')) == "2001:db8:cafe::17"
    assert client_of(PROXY, ("forwarded", 'for="[2001:db8:cafe::17]"')) == "2001:db8:cafe::17"
    assert client_of(PROXY, ("forwarded", f'for="{CLIENT}:80"')) == CLIENT
    assert client_of(PROXY, ("forwarded", 'for="[2001:db8::17]:_port"')) == "2001:db8::17"
    assert client_of(PROXY, ("forwarded", r'for="\[2001:db8::17\]"')) == "2001:db8::17"


def test_forwarded_unknown_and_obfuscated_nodes_are_not_addresses() -> None:
    assert client_of(PROXY, ("forwarded", f"for={SPOOF}, for=unknown")) == PROXY
    assert client_of(PROXY, ("forwarded", f"for={SPOOF}, for=_hidden, for=10.1.1.1")) == "10.1.1.1"
    assert client_of(PROXY, ("forwarded", f'for={SPOOF}, for="_SEVKISEK"')) == PROXY


def test_forwarded_element_without_for_stops_the_walk() -> None:
    assert client_of(PROXY, ("forwarded", f"for={SPOOF}, proto=https")) == PROXY


def test_forwarded_parameter_names_are_case_insensitive_and_whitespace_tolerated() -> None:
    assert client_of(PROXY, ("forwarded", f"Proto=http ; FOR={CLIENT} ;by=_x")) == CLIENT


def test_forwarded_malformed_elements_are_garbage() -> None:
    for bad in (
        f"for={CLIENT};for={SPOOF}",  # a parameter twice
        f"for {CLIENT}",
        f"=={CLIENT}",
        f'for="{CLIENT}',
        f'for={CLIENT}"',
        f'for="{CLIENT}"x',
        f"f(r={CLIENT}",
        f'for="{CLIENT}\\"',
    ):
        assert client_of(PROXY, ("forwarded", f"for={SPOOF}, {bad}")) == PROXY, bad


def test_forwarded_an_unterminated_quote_cannot_swallow_the_proxy_entry() -> None:
    # The client writes the left part; the trusted proxy appends ", for=..." on the same line.
    assert client_of(PROXY, ("forwarded", f'for="{SPOOF}, for={CLIENT}')) == CLIENT
    assert client_of(PROXY, ("forwarded", f'for={SPOOF};x=", for="[2001:db8::5]"')) == "2001:db8::5"


def test_forwarded_lines_are_joined_in_order() -> None:
    assert client_of(PROXY, ("forwarded", f"for={SPOOF}"), ("forwarded", f"for={CLIENT}")) == CLIENT


# -- X-Real-IP ----------------------------------------------------------------------------


def test_x_real_ip_is_believed_from_a_trusted_peer() -> None:
    assert resolve(PROXY, ("x-real-ip", CLIENT)) == ClientIp(
        CLIENT, PROXY, trusted=True, header="x-real-ip", forwarded=True
    )
    assert client_of(PROXY, ("x-real-ip", "10.5.5.5")) == "10.5.5.5"  # as it is, trusted or not
    assert client_of(PROXY, ("x-real-ip", f" ::ffff:{CLIENT} ")) == CLIENT


def test_x_real_ip_garbage_leaves_the_peer() -> None:
    assert client_of(PROXY, ("x-real-ip", f"{SPOOF}, {CLIENT}")) == PROXY
    assert client_of(PROXY, ("x-real-ip", "unknown")) == PROXY


def test_x_real_ip_several_lines_the_last_counts() -> None:
    assert client_of(PROXY, ("x-real-ip", SPOOF), ("x-real-ip", CLIENT)) == CLIENT


# -- preference ---------------------------------------------------------------------------


def test_only_the_configured_header_decides() -> None:
    both = (("x-real-ip", SPOOF), ("forwarded", f"for={CLIENT}"), ("x-forwarded-for", "192.0.2.1"))
    assert client_of(PROXY, *both, trust=Trust()) == "192.0.2.1"
    assert client_of(PROXY, *both, trust=Trust(header="forwarded")) == CLIENT
    assert client_of(PROXY, *both, trust=Trust(header="x-real-ip")) == SPOOF


def test_a_client_cannot_choose_its_address_through_a_proxy_that_sets_another_header() -> None:
    # The trusted proxy sets X-Real-IP only and passes the client's own X-Forwarded-For through:
    # with x-real-ip configured, the client's header is never read (finding 6 of the canonical request).
    sent = (("x-forwarded-for", SPOOF), ("x-real-ip", CLIENT))
    assert client_of(PROXY, *sent, trust=Trust(header="x-real-ip")) == CLIENT
    # Configured for X-Forwarded-For, a proxy that never sets it leaves the peer: nothing falls through.
    assert client_of(PROXY, ("x-real-ip", SPOOF), trust=Trust()) == PROXY


def test_a_header_that_decides_for_the_peer_does_not_fall_through() -> None:
    assert client_of(PROXY, ("x-forwarded-for", "garbage"), ("x-real-ip", SPOOF)) == PROXY


def test_a_header_of_empty_entries_counts_as_absent() -> None:
    assert resolve(PROXY, ("x-forwarded-for", " , "), ("x-real-ip", CLIENT)) == ClientIp(
        PROXY, PROXY, trusted=True, header=None, forwarded=True
    )
    assert client_of(PROXY, ("forwarded", ","), ("x-real-ip", CLIENT)) == PROXY


def test_unconfigured_headers_are_not_believed() -> None:
    result = resolve(PROXY, ("x-real-ip", SPOOF), trust=Trust(header="x-forwarded-for"))
    assert result == ClientIp(PROXY, PROXY, trusted=True, header=None, forwarded=True)


def test_no_trusted_networks_nothing_is_believed() -> None:
    assert client_of(PROXY, ("x-forwarded-for", CLIENT), trust=Trust(networks=())) == PROXY


# -- settings -----------------------------------------------------------------------------


def test_header_names_are_checked() -> None:
    with pytest.raises(InvalidArgument) as info:
        ClientIpResolver(Trust(header="x-client-ip"))
    assert str(info.value) == "invalid forwarding header 'x-client-ip': expected x-forwarded-for, forwarded, x-real-ip"
    assert ClientIpResolver(Trust(header="X-Real-IP")).header == "x-real-ip"


def test_bad_networks_are_named() -> None:
    with pytest.raises(InvalidArgument) as info:
        ClientIpResolver(Trust(networks=("10.0.0.0/8", "10.0.0.0/33")))
    assert info.value.value == "10.0.0.0/33"


def test_the_peer_cache_stays_bounded() -> None:
    resolver = ClientIpResolver(Trust())
    for i in range(10_000):
        assert resolver.resolve(f"192.0.{i // 256 % 256}.{i % 256}", ()).trusted is False
    assert resolver.resolve(PROXY, ()).trusted is True


# -- properties ---------------------------------------------------------------------------

_NAMES = st.sampled_from(
    [b"x-forwarded-for", b"forwarded", b"x-real-ip", b"X-Forwarded-For", b"FORWARDED", b"host", b"x-forwarded"]
)
_PEERS = st.sampled_from([PROXY, "::1", "::ffff:10.0.0.1", "2001:db8:ffff::1", CLIENT, "::ffff:203.0.113.5", "x"])


@given(_PEERS, st.lists(st.tuples(_NAMES, st.binary(max_size=60)), max_size=6))
def test_arbitrary_header_bytes_never_crash(peer: str, pairs: list[tuple[bytes, bytes]]) -> None:
    result = ClientIpResolver(Trust()).resolve(peer, pairs)
    if result.address != result.peer:
        assert normalize_ip(result.address) == result.address
        assert result.trusted
        assert result.header is not None


_POOL = [CLIENT, SPOOF, "10.1.1.1", "10.2.2.2", "2001:db8::7", "2001:db8:ffff::9", "::1", "192.0.2.33"]
_SPELLINGS = st.sampled_from(_POOL).flatmap(
    lambda a: st.sampled_from(
        [
            a,
            f"[{a}]",
            f"[{a}]:8080",
            f'"[{a}]:1"',
            f'"{a}"',
            f"::ffff:{a}" if "." in a else a,
            f"{a}:80" if "." in a else a,
        ]
    )
)
_GARBAGE = st.sampled_from(["", " ", "unknown", "_obf", "1.2.3", '"', "\\", "[", "]", "=", ";", ",", "for=", "x"])
_FOR = _SPELLINGS.map(lambda s: f"for={s}")
_TOKEN = st.one_of(
    _SPELLINGS, _FOR, _FOR.map(lambda s: f"proto=http;{s}"), _GARBAGE, _GARBAGE.map(lambda s: f"for={s}")
)
_VALUE = st.lists(st.tuples(_TOKEN, st.sampled_from([", ", ", ", ",", ";", " ", ""])), min_size=1, max_size=6).map(
    lambda parts: "".join(token + sep for token, sep in parts)
)


def _joined(token: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(token, token, token, _GARBAGE), min_size=1, max_size=5).map(", ".join)


_PAIR = st.one_of(
    st.tuples(st.just(b"x-forwarded-for"), _joined(_SPELLINGS)),
    st.tuples(st.just(b"forwarded"), _joined(st.one_of(_FOR, _FOR.map(lambda s: f"proto=http;{s};by=_x")))),
    st.tuples(st.just(b"x-real-ip"), st.one_of(_SPELLINGS, _GARBAGE)),
    st.tuples(_NAMES, _VALUE),
)


@given(_PEERS, st.lists(_PAIR, min_size=1, max_size=5))
def test_the_client_is_always_from_the_headers_or_the_peer(peer: str, pairs: list[tuple[bytes, str]]) -> None:
    raw = [(name, value.encode()) for name, value in pairs]
    result = ClientIpResolver(Trust()).resolve(peer, raw)
    allowed = {normalize_ip(a) for a in _POOL} | {result.peer}
    assert result.address in allowed
    if not result.trusted:
        assert result.address == result.peer


@given(st.text(max_size=80), st.sampled_from([CLIENT, "2001:db8::7", "192.0.2.33"]), st.booleans())
def test_a_client_cannot_hide_behind_what_it_writes(prefix: str, real: str, same_line: bool) -> None:
    """Whatever a client sends, the hop the trusted proxy appends is the client."""
    resolver = ClientIpResolver(Trust())
    left = prefix.encode("utf-8", "surrogateescape")
    node = f'"[{real}]"' if ":" in real else real
    for name, appended in ((b"x-forwarded-for", real), (b"forwarded", f"for={node}")):
        if same_line:
            lines: Sequence[tuple[bytes, bytes]] = [(name, left + b", " + appended.encode())]
        else:
            lines = [(name, left), (name, appended.encode())]
        trust = Trust(header=name.decode())
        assert ClientIpResolver(trust).resolve(PROXY, lines).address == real, (name, lines)
    assert resolver.resolve(CLIENT, [(b"x-forwarded-for", left)]).address == CLIENT
