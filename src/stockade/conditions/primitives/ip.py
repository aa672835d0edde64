"""Primitives on addresses: the client IP, the socket peer and the VIP the request arrived on.

Addresses compare in their 16-byte form, so an IPv4 client (``::ffff:a.b.c.d``) also falls in
an IPv6 range that spans ``::ffff:0:0/96``. A request without the address is false; the
facts hold ``b""`` then, which no range or list contains.
"""

from __future__ import annotations

from stockade.conditions.hashing import bucket, bucket_ranges, go_ip_string, parse_buckets
from stockade.conditions.matchers import ip_list, ip_range
from stockade.conditions.primitives._base import bool_matcher
from stockade.conditions.registry import Matcher, primitive
from stockade.core.facts import RequestFacts, read_expr

_ADDRESSES = {"client_ip16": "client", "remote_ip16": "remote", "vip16": "vip"}
_RANGE = "inclusive range `start`..`end` (two IPv4 or two IPv6 addresses, no CIDR)"


def _range(attribute: str, start: str, end: str) -> Matcher:
    first, last = ip_range(start, end)

    def test(facts: RequestFacts) -> bool:
        address: bytes = getattr(facts, attribute)
        return first <= address <= last

    lowered = ("ip_range", _ADDRESSES[attribute], first, last)
    return Matcher(
        test=test, expr="{c0} <= " + read_expr(attribute) + " <= {c1}", consts=(first, last), lowered=lowered
    )


@primitive(
    "req_cip_trusted",
    (),
    "True if the connection comes from a trusted source (whose X-Real-Ip or X-Forwarded-For gives the client IP).",
)
def req_cip_trusted() -> Matcher:
    return bool_matcher(lambda facts: bool(facts.trusted), "not not {r}.trusted", ("trusted",))


@primitive("req_cip_range", ("STRING", "STRING"), f"True if the client IP is in the {_RANGE}.")
def req_cip_range(start: str, end: str) -> Matcher:
    return _range("client_ip16", start, end)


@primitive(
    "req_cip_hash_in",
    ("STRING",),
    "True if the hash bucket (0-9999) of the client IP (as text: dotted IPv4 or compressed IPv6) is in the list "
    "of buckets and ranges (`7|100-199`).",
)
def req_cip_hash_in(buckets: str) -> Matcher:
    selected = parse_buckets(buckets)

    def hashed(address: bytes) -> bool:
        return address != b"" and bucket(go_ip_string(address)) in selected

    return Matcher(
        test=lambda facts: hashed(facts.client_ip16),
        expr="{c0}(" + read_expr("client_ip16") + ")",
        consts=(hashed,),
        lowered=("ip_hash", "client", bucket_ranges(selected)),
    )


@primitive(
    "req_vip_in",
    ("STRING",),
    "True if the VIP (the address the request arrived on) is one of the `|`-separated IPs; "
    "an IPv4 address equals its IPv4-mapped IPv6 form.",
)
def req_vip_in(addresses: str) -> Matcher:
    wanted = ip_list(addresses)
    return Matcher(
        test=lambda facts: facts.vip16 in wanted,
        expr=read_expr("vip16") + " in {c0}",
        consts=(wanted,),
        lowered=("ip_in", "vip", sorted(wanted)),
    )


@primitive("req_vip_range", ("STRING", "STRING"), f"True if the VIP is in the {_RANGE}.")
def req_vip_range(start: str, end: str) -> Matcher:
    return _range("vip16", start, end)


@primitive("ses_vip_range", ("STRING", "STRING"), f"True if the VIP is in the {_RANGE} (same as `req_vip_range`).")
def ses_vip_range(start: str, end: str) -> Matcher:
    return _range("vip16", start, end)


@primitive(
    "ses_sip_range",
    ("STRING", "STRING"),
    f"True if the socket peer's IP (not a proxy-supplied client IP) is in the {_RANGE}.",
)
def ses_sip_range(start: str, end: str) -> Matcher:
    return _range("remote_ip16", start, end)
