"""Primitives on the TLS session and on the response.

TLS values exist only on secure connections (and the client CA only after client
authentication); response values only once there is a response. Without them the
primitive is false, as a fetch error is in BFE.
"""

from __future__ import annotations

from collections.abc import Callable

from stockade.conditions.matchers import InList, split_list
from stockade.conditions.primitives._base import Source, bool_matcher, string_matcher
from stockade.conditions.registry import Matcher, primitive
from stockade.core.facts import RequestFacts


def _optional(get: Callable[[RequestFacts], str | None], lowered: tuple[object, ...]) -> Source:
    """A source that may be missing, written as a call of its getter (bound as a constant)."""
    return Source(get, lambda tpl: tpl.const(get) + "({r})", optional=True, lowered=lowered)


def _sni(facts: RequestFacts) -> str | None:
    return facts.tls_sni if facts.secure and facts.tls_sni else None


def _client_ca(facts: RequestFacts) -> str | None:
    return facts.tls_client_ca if facts.secure and facts.tls_client_auth and facts.tls_client_ca else None


def _code(facts: RequestFacts) -> str | None:
    if facts.response_header_map is None:
        return None
    return str(facts.response_code if facts.response_code is not None else 0)


def _response_header(name: str) -> Source:
    key = name.lower()

    def get(facts: RequestFacts) -> str | None:
        headers = facts.response_header_map
        return None if headers is None else headers.get(key, "")

    return _optional(get, ("response_header", key))


@primitive(
    "ses_tls_sni_in",
    ("STRING",),
    "True if the TLS server name (SNI) is one of the `|`-separated names, ignoring case; false without TLS or SNI.",
)
def ses_tls_sni_in(names: str) -> Matcher:
    return string_matcher(_optional(_sni, ("tls_sni",)), InList(names, True))


@primitive("ses_tls_client_auth", (), "True if the client authenticated with a TLS certificate.")
def ses_tls_client_auth() -> Matcher:
    return bool_matcher(
        lambda facts: bool(facts.secure and facts.tls_client_auth),
        "not not ({r}.secure and {r}.tls_client_auth)",
        ("tls_client_auth",),
    )


@primitive(
    "ses_tls_client_ca_in",
    ("STRING",),
    "True if the CA that issued the client's certificate is one of the `|`-separated names (case-sensitive); "
    "false without client authentication.",
)
def ses_tls_client_ca_in(names: str) -> Matcher:
    return string_matcher(_optional(_client_ca, ("tls_client_ca",)), InList(names, False))


@primitive(
    "res_code_in",
    ("STRING",),
    "True if the response status code is one of the `|`-separated codes; false before there is a response.",
)
def res_code_in(codes: str) -> Matcher:
    return string_matcher(_optional(_code, ("response_code",)), InList(codes, False))


@primitive(
    "res_header_key_in",
    ("STRING",),
    "True if the response has a non-empty header with one of the `|`-separated names (any case); "
    "false before there is a response.",
)
def res_header_key_in(names: str) -> Matcher:
    keys = tuple(dict.fromkeys(name.lower() for name in split_list(names)))

    def test(facts: RequestFacts) -> bool:
        headers = facts.response_header_map
        return headers is not None and any(headers.get(key) for key in keys)

    return Matcher(test=test, expr="{c0}({r})", consts=(test,), lowered=("response_header_key_in", list(keys)))


@primitive(
    "res_header_value_in",
    ("STRING", "STRING", "BOOL"),
    "True if the first value of response header `name` is one of the `|`-separated values (a missing header "
    "reads as empty); false before there is a response.",
)
def res_header_value_in(name: str, values: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_response_header(name), InList(values, case_insensitive))
