"""Primitives on request headers and the JSON body.

Header names are case-insensitive and the first value counts; a missing header reads as
``""`` (so it matches an empty pattern and hashes to bucket 0), and ``req_header_key_in``
treats a present but empty header as absent, as BFE's ``Header.Get(k) != ""`` does.
"""

from __future__ import annotations

from stockade.conditions.matchers import ContainIn, HashIn, InList, PrefixIn, Regexp, SuffixIn, Template, split_list
from stockade.conditions.primitives._base import Source, keyed, string_matcher
from stockade.conditions.registry import Matcher, primitive
from stockade.core.facts import RequestFacts, read_expr

_LIST = "`|`-separated"


def _header(name: str) -> Source:
    return keyed("header_map", name.lower(), "")


def _body_json(path: str) -> Source:
    def expr(tpl: Template) -> str:
        # Most requests have no body: read "" then without a call.
        return '("" if {r}.body is None else {r}.body_json(' + tpl.const(path) + "))"

    return Source(lambda facts: facts.body_json(path), expr, lowered=("body_json", path))


@primitive(
    "req_ua_regmatch",
    ("STRING",),
    "True if the regular expression (RE2, unanchored) matches the User-Agent header (empty when missing).",
)
def req_ua_regmatch(pattern: str) -> Matcher:
    return string_matcher(_header("User-Agent"), Regexp(pattern))


@primitive(
    "req_header_key_in",
    ("STRING",),
    f"True if the request has a non-empty header with one of the {_LIST} names (any case).",
)
def req_header_key_in(names: str) -> Matcher:
    keys = tuple(dict.fromkeys(name.lower() for name in split_list(names)))

    def test(facts: RequestFacts) -> bool:
        headers = facts.header_map
        return any(headers.get(key) for key in keys)

    # Inline: one membership test and one comparison per name, no call once the map exists.
    headers = read_expr("header_map")
    expr = " or ".join(f'({{c{i}}} in {headers} and {headers}[{{c{i}}}] != "")' for i in range(len(keys)))
    return Matcher(test=test, expr=f"({expr})", consts=keys, lowered=("header_key_in", list(keys)))


@primitive(
    "req_header_value_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of header `name` is one of the {_LIST} values (a missing header reads as empty).",
)
def req_header_value_in(name: str, values: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_header(name), InList(values, case_insensitive))


@primitive(
    "req_header_value_prefix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of header `name` starts with one of the {_LIST} prefixes.",
)
def req_header_value_prefix_in(name: str, prefixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_header(name), PrefixIn(prefixes, case_insensitive))


@primitive(
    "req_header_value_suffix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of header `name` ends with one of the {_LIST} suffixes.",
)
def req_header_value_suffix_in(name: str, suffixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_header(name), SuffixIn(suffixes, case_insensitive))


@primitive(
    "req_header_value_contain",
    ("STRING", "STRING", "BOOL"),
    f"True if the first value of header `name` contains one of the {_LIST} strings.",
)
def req_header_value_contain(name: str, parts: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_header(name), ContainIn(parts, case_insensitive))


@primitive(
    "req_header_value_regmatch",
    ("STRING", "STRING"),
    "True if the regular expression (RE2, unanchored) matches the first value of header `name` "
    "(a missing header reads as empty).",
)
def req_header_value_regmatch(name: str, pattern: str) -> Matcher:
    return string_matcher(_header(name), Regexp(pattern))


@primitive(
    "req_header_value_hash_in",
    ("STRING", "STRING", "BOOL"),
    "True if the hash bucket (0-9999) of the first value of header `name` is in the list of buckets and ranges "
    "(`7|100-199`); a missing header hashes as empty (bucket 0); `case_insensitive` lower-cases first.",
)
def req_header_value_hash_in(name: str, buckets: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_header(name), HashIn(buckets, case_insensitive))


@primitive(
    "req_body_json_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the JSON body's value at `path` (dotted keys and array indices, e.g. `messages.0.role`) is one of "
    f"the {_LIST} values; no body, invalid JSON, null or a missing path read as empty.",
)
def req_body_json_in(path: str, values: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_body_json(path), InList(values, case_insensitive))


@primitive(
    "req_body_json_prefix_in",
    ("STRING", "STRING", "BOOL"),
    f"True if the JSON body's value at `path` starts with one of the {_LIST} prefixes (missing reads as empty).",
)
def req_body_json_prefix_in(path: str, prefixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_body_json(path), PrefixIn(prefixes, case_insensitive))
