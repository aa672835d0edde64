"""Primitives on the query string and the cookies.

Query values follow Go's ``url.ParseQuery`` and a missing key reads as ``""`` (so it matches
an empty pattern and hashes to bucket 0); a missing cookie makes the primitive false.
"""

from __future__ import annotations

from stockade.conditions.matchers import ContainIn, HashIn, InList, PrefixIn, Regexp, SuffixIn, split_list
from stockade.conditions.primitives._base import keyed, string_matcher
from stockade.conditions.registry import Matcher, primitive
from stockade.core.facts import RequestFacts, read_expr

_LIST = "`|`-separated"


@primitive("req_query_key_in", ("STRING",), f"True if the query has one of the {_LIST} keys (decoded, case-sensitive).")
def req_query_key_in(keys: str) -> Matcher:
    wanted = frozenset(split_list(keys))
    return Matcher(
        test=lambda facts: not wanted.isdisjoint(facts.query_params),
        expr=_any_key_expr(wanted, "query_params"),
        consts=tuple(wanted) if len(wanted) == 1 else (wanted,),
        lowered=("query_key_in", sorted(wanted)),
    )


def _any_key_expr(wanted: frozenset[str], mapping: str) -> str:
    """One key is a plain ``in`` test (no call); several are one ``isdisjoint`` call."""
    if len(wanted) == 1:
        return "{c0} in " + read_expr(mapping)
    return "not {c0}.isdisjoint(" + read_expr(mapping) + ")"


@primitive(
    "req_query_key_prefix_in",
    ("STRING",),
    f"True if some query key starts with one of the {_LIST} prefixes.",
)
def req_query_key_prefix_in(prefixes: str) -> Matcher:
    wanted = tuple(split_list(prefixes))

    def test(facts: RequestFacts) -> bool:
        return any(key.startswith(wanted) for key in facts.query_params)

    return Matcher(test=test, expr="{c0}({r})", consts=(test,), lowered=("query_key_prefix_in", list(wanted)))


@primitive(
    "req_query_exist",
    (),
    "True if the query has at least one parameter (`?` alone, or pairs Go's parser drops, do not count).",
)
def req_query_exist() -> Matcher:
    return Matcher(
        test=lambda facts: len(facts.query_params) > 0,
        expr="len(" + read_expr("query_params") + ") > 0",
        lowered=("query_exist",),
    )


@primitive(
    "req_query_value_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of query key `key` is one of the {_LIST} values (a missing key reads as empty).",
)
def req_query_value_in(key: str, values: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("query_params", key, ""), InList(values, case_insensitive))


@primitive(
    "req_query_value_prefix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of query key `key` starts with one of the {_LIST} prefixes.",
)
def req_query_value_prefix_in(key: str, prefixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("query_params", key, ""), PrefixIn(prefixes, case_insensitive))


@primitive(
    "req_query_value_suffix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of query key `key` ends with one of the {_LIST} suffixes.",
)
def req_query_value_suffix_in(key: str, suffixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("query_params", key, ""), SuffixIn(suffixes, case_insensitive))


@primitive(
    "req_query_value_contain",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of query key `key` contains one of the {_LIST} strings.",
)
def req_query_value_contain(key: str, parts: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("query_params", key, ""), ContainIn(parts, case_insensitive))


@primitive(
    "req_query_value_regmatch",
    ("STRING", "STRING"),
    "True if the regular expression (RE2, unanchored) matches the first value of query key `key` "
    "(a missing key reads as empty, so `^$` matches it).",
)
def req_query_value_regmatch(key: str, pattern: str) -> Matcher:
    return string_matcher(keyed("query_params", key, ""), Regexp(pattern))


@primitive(
    "req_query_value_hash_in",
    ("STRING", "STRING", "BOOL"),
    "True if the hash bucket (0-9999) of the first value of query key `key` is in the list of buckets "
    "and ranges (`7|100-199`); a missing key hashes as empty (bucket 0); `case_insensitive` lower-cases first.",
)
def req_query_value_hash_in(key: str, buckets: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("query_params", key, ""), HashIn(buckets, case_insensitive))


@primitive("req_cookie_key_in", ("STRING",), f"True if the request has a cookie with one of the {_LIST} names.")
def req_cookie_key_in(names: str) -> Matcher:
    wanted = frozenset(split_list(names))
    return Matcher(
        test=lambda facts: not wanted.isdisjoint(facts.cookies),
        expr=_any_key_expr(wanted, "cookies"),
        consts=tuple(wanted) if len(wanted) == 1 else (wanted,),
        lowered=("cookie_key_in", sorted(wanted)),
    )


@primitive(
    "req_cookie_value_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the cookie `key` (the first of that name) is one of the {_LIST} values; false without the cookie.",
)
def req_cookie_value_in(key: str, values: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("cookies", key, None), InList(values, case_insensitive))


@primitive(
    "req_cookie_value_prefix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the cookie `key` starts with one of the {_LIST} prefixes; false without the cookie.",
)
def req_cookie_value_prefix_in(key: str, prefixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("cookies", key, None), PrefixIn(prefixes, case_insensitive))


@primitive(
    "req_cookie_value_suffix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the cookie `key` ends with one of the {_LIST} suffixes; false without the cookie.",
)
def req_cookie_value_suffix_in(key: str, suffixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("cookies", key, None), SuffixIn(suffixes, case_insensitive))


@primitive(
    "req_cookie_value_contain",
    ("STRING", "STRING", "BOOL"),
    f"True if the cookie `key` contains one of the {_LIST} strings; false without the cookie.",
)
def req_cookie_value_contain(key: str, parts: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("cookies", key, None), ContainIn(parts, case_insensitive))


@primitive(
    "req_cookie_value_hash_in",
    ("STRING", "STRING", "BOOL"),
    "True if the hash bucket (0-9999) of the cookie `key` is in the list of buckets and ranges (`7|100-199`); "
    "false without the cookie; `case_insensitive` lower-cases first.",
)
def req_cookie_value_hash_in(key: str, buckets: str, case_insensitive: bool) -> Matcher:
    return string_matcher(keyed("cookies", key, None), HashIn(buckets, case_insensitive))
