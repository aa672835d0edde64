"""Primitives on the request line and route: host, path, URL, port, method, protocol, tags, context."""

from __future__ import annotations

from stockade.conditions.matchers import (
    ContainIn,
    ElementPrefixIn,
    Exact,
    HostIn,
    InList,
    PrefixIn,
    Regexp,
    SuffixIn,
    split_list,
)
from stockade.conditions.primitives._base import Source, attribute, bool_matcher, string_matcher
from stockade.conditions.registry import Matcher, primitive
from stockade.core.facts import RequestFacts, go_upper, host_key

_HOST = attribute("host_name", upper="host_upper")
_PATH = attribute("path", upper="path_upper")
_URL = attribute("url")
_PORT = attribute("port")
_METHOD = attribute("method", upper="method_upper")
_PROTOCOL = attribute("protocol")
_HOST_TAG = Source(lambda facts: facts.host_tag or "", lambda _tpl: '({r}.host_tag or "")', lowered=("host_tag",))


@primitive("default_t", (), "Always true (a rule that applies to every request).")
def default_t() -> Matcher:
    return bool_matcher(lambda facts: True, "True", ("true",))


@primitive(
    "req_proto_match",
    ("STRING",),
    "True if the protocol equals `proto`, ignoring case: `HTTP/1.0` or `HTTP/1.1` on plain connections, "
    "the TLS session protocol (`https`, `h2`) on secure ones. `|` is not a list separator here.",
)
def req_proto_match(proto: str) -> Matcher:
    return string_matcher(_PROTOCOL, Exact(proto))


@primitive("req_proto_secure", (), "True if the request arrived over TLS.")
def req_proto_secure() -> Matcher:
    return bool_matcher(lambda facts: bool(facts.secure), "not not {r}.secure", ("secure",))


@primitive(
    "req_host_in",
    ("STRING",),
    "True if the host (the Host header without its port) is one of the `|`-separated names, ignoring case. "
    "A name with a port is an error.",
)
def req_host_in(hosts: str) -> Matcher:
    keys = frozenset(host_key(host) for host in split_list(hosts))
    return string_matcher(_HOST, HostIn(hosts), hint=("host", keys))


@primitive(
    "req_host_regmatch",
    ("STRING",),
    "True if the regular expression (RE2 syntax, unanchored, case-sensitive) matches the host without its port.",
)
def req_host_regmatch(pattern: str) -> Matcher:
    return string_matcher(_HOST, Regexp(pattern))


@primitive(
    "req_host_suffix_in",
    ("STRING",),
    "True if the host without its port ends with one of the `|`-separated suffixes, ignoring case.",
)
def req_host_suffix_in(suffixes: str) -> Matcher:
    return string_matcher(_HOST, SuffixIn(suffixes, True))


@primitive(
    "req_host_tag_in", ("STRING",), "True if the route's host tag is one of the `|`-separated tags, ignoring case."
)
def req_host_tag_in(tags: str) -> Matcher:
    return string_matcher(_HOST_TAG, InList(tags, True))


@primitive(
    "req_path_in",
    ("STRING", "BOOL"),
    "True if the (percent-decoded) path equals one of the `|`-separated paths; `case_insensitive` folds case.",
)
def req_path_in(paths: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_PATH, InList(paths, case_insensitive))


@primitive(
    "req_path_prefix_in",
    ("STRING", "BOOL"),
    "True if the path starts with one of the `|`-separated prefixes; `case_insensitive` folds case.",
)
def req_path_prefix_in(prefixes: str, case_insensitive: bool) -> Matcher:
    predicate = PrefixIn(prefixes, case_insensitive)
    return string_matcher(_PATH, predicate, hint=None if case_insensitive else ("path_prefix", predicate.values))


@primitive(
    "req_path_suffix_in",
    ("STRING", "BOOL"),
    "True if the path ends with one of the `|`-separated suffixes; `case_insensitive` folds case.",
)
def req_path_suffix_in(suffixes: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_PATH, SuffixIn(suffixes, case_insensitive))


@primitive(
    "req_path_contain",
    ("STRING", "BOOL"),
    "True if the path contains one of the `|`-separated strings; `case_insensitive` folds case.",
)
def req_path_contain(parts: str, case_insensitive: bool) -> Matcher:
    return string_matcher(_PATH, ContainIn(parts, case_insensitive))


@primitive(
    "req_path_regmatch",
    ("STRING",),
    "True if the regular expression (RE2 syntax, unanchored) matches the percent-decoded path.",
)
def req_path_regmatch(pattern: str) -> Matcher:
    return string_matcher(_PATH, Regexp(pattern))


@primitive(
    "req_path_element_prefix_in",
    ("STRING", "BOOL"),
    "True if the path starts with one of the `|`-separated paths as whole segments: `/api` matches `/api` "
    "and `/api/x` but not `/apix`; `case_insensitive` folds case.",
)
def req_path_element_prefix_in(prefixes: str, case_insensitive: bool) -> Matcher:
    predicate = ElementPrefixIn(prefixes, case_insensitive)
    # A path that matches "/api/" (as "/api" + "/") starts with "/api".
    hint = None if case_insensitive else ("path_prefix", tuple(value[:-1] for value in predicate.values))
    return string_matcher(_PATH, predicate, hint=hint)


@primitive(
    "req_url_regmatch",
    ("STRING",),
    "True if the regular expression (RE2 syntax, unanchored) matches the raw request target "
    "(path and query as received, not decoded).",
)
def req_url_regmatch(pattern: str) -> Matcher:
    return string_matcher(_URL, Regexp(pattern))


@primitive(
    "req_port_in",
    ("STRING",),
    "True if the port of the Host header (the text after its first `:`, else `80`, even over TLS) "
    "is one of the `|`-separated ports.",
)
def req_port_in(ports: str) -> Matcher:
    return string_matcher(_PORT, InList(ports, False))


@primitive("req_method_in", ("STRING",), "True if the method is one of the `|`-separated methods, ignoring case.")
def req_method_in(methods: str) -> Matcher:
    wanted = frozenset(go_upper(method) for method in split_list(methods))
    return string_matcher(_METHOD, InList(methods, True), hint=("method", wanted))


@primitive(
    "req_tag_match",
    ("STRING", "STRING"),
    "True if the request carries a tag `value` under `name` (the part of each tag before its first `:` is compared).",
)
def req_tag_match(name: str, value: str) -> Matcher:
    def test(facts: RequestFacts) -> bool:
        return any(tag.split(":", 1)[0] == value for tag in facts.tags.get(name, ()))

    # Most requests carry no tag of that name: answer those without a call.
    lowered = ("tag_match", name, value)
    return Matcher(test=test, expr="({c0} in {r}.tags and {c1}({r}))", consts=(name, test), lowered=lowered)


@primitive(
    "req_context_value_in",
    ("STRING", "STRING", "BOOL"),
    "True if the request context holds a string under `key` equal to one of the `|`-separated values; "
    "false when the key is empty or missing or its value is not a string.",
)
def req_context_value_in(key: str, values: str, case_insensitive: bool) -> Matcher:
    predicate = InList(values, case_insensitive)

    def test(facts: RequestFacts) -> bool:
        value = facts.context.get(key) if key else None
        return isinstance(value, str) and predicate(value)

    return bool_matcher(test, lowered=("context_value_in", key, predicate.lowered()))
