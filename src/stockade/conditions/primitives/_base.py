"""What the primitives share: the request values they read (sources) and how a matcher is assembled.

Most of BFE's 58 primitives are one *source* (a value fetched from the request: the path, a
header's first value, a cookie) paired with one predicate from :mod:`~stockade.conditions.matchers`.
A :class:`Source` knows how to fetch its value (``get``, for the ``test`` closure) and how to
write it as an expression over the facts (for the compiler's inline template), and whether
it can be missing (``None``: a missing cookie, no TLS session, no response), in which case
the primitive is false, as a fetch error is in BFE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stockade.conditions.matchers import Predicate, Template
from stockade.conditions.registry import Matcher
from stockade.core.facts import RequestFacts, go_upper, read_expr

__all__ = ["Source", "attribute", "bool_matcher", "keyed", "string_matcher"]

Hint = tuple[str, frozenset[str] | tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Source:
    """A string value of the request.

    ``expr`` writes the value as an expression over ``{r}`` (constants through the template);
    ``upper`` names a facts attribute that caches the upper-case form, when there is one;
    ``optional`` sources yield ``None`` when the data is missing; ``key`` names the value
    (``path``, ``header_map[user-agent]``) for the hints of rule indexes, when it has a name;
    ``lowered`` is the source in the native evaluator's form.
    """

    get: Callable[[RequestFacts], str | None]
    expr: Callable[[Template], str]
    upper: str | None = None
    optional: bool = False
    key: str | None = None
    lowered: tuple[object, ...] | None = None


# The native names of the facts' attributes and mappings that sources read.
_LOWERED_ATTRIBUTES = {
    "host_name": "host",
    "path": "path",
    "url": "url",
    "port": "port",
    "method": "method",
    "protocol": "protocol",
}
_LOWERED_MAPPINGS = {"header_map": "header", "query_params": "query", "cookies": "cookie"}


def attribute(name: str, upper: str | None = None) -> Source:
    """A source that is a plain (possibly derived) attribute of the facts, never missing."""

    def get(facts: RequestFacts) -> str:
        value: str = getattr(facts, name)
        return value

    return Source(get, lambda _tpl: read_expr(name), upper, key=name, lowered=(_LOWERED_ATTRIBUTES[name],))


def keyed(mapping: str, key: str, default: str | None) -> Source:
    """A source that looks ``key`` up in a dict attribute of the facts; ``default`` when absent."""

    def get(facts: RequestFacts) -> str | None:
        values: dict[str, str] = getattr(facts, mapping)
        return values.get(key, default)

    def expr(tpl: Template) -> str:
        fallback = "" if default is None else ', ""' if default == "" else ", " + tpl.const(default)
        return read_expr(mapping) + ".get(" + tpl.const(key) + fallback + ")"

    lowered = (_LOWERED_MAPPINGS[mapping], key)
    return Source(get, expr, optional=default is None, key=f"{mapping}[{key}]", lowered=lowered)


def string_matcher(source: Source, predicate: Predicate, hint: Hint | None = None) -> Matcher:
    """A primitive that applies ``predicate`` to the value of ``source``."""
    get = source.get

    def test(facts: RequestFacts) -> bool:
        return predicate(get(facts))

    tpl = Template()
    value = source.expr(tpl)

    def upper() -> str:
        return "{r}." + source.upper if source.upper else f"{tpl.const(go_upper)}({value})"

    if source.optional and not predicate.inline_takes_none:
        expr = f"{tpl.const(predicate)}({value})"  # the predicate itself makes a missing value false
    else:
        expr = predicate.inline(value, upper, tpl)
    if hint is None and source.key is not None:
        hint = _contains_hint(source, predicate)
    lowered = None if source.lowered is None else ("match", source.lowered, predicate.lowered())
    return Matcher(test=test, expr=expr, consts=tuple(tpl.consts), hint=hint, lowered=lowered)


# What reads the value of a named source, for the ``contains`` hints of rule indexes.
SOURCES: dict[str, Callable[[RequestFacts], str | None]] = {}


def _contains_hint(source: Source, predicate: Predicate) -> Hint | None:
    """``("contains <key>", words)``: the value of ``source``, when ASCII, holds one of ``words``.

    Regular expressions that are alternations of literals (most scanner signatures) say
    which words a matching value must contain; ``contains_fold`` words are lower case and
    meant for the lower-cased value. Text that is not ASCII tells nothing (RE2 folds some
    other characters into ASCII letters), so an index lets it through.
    """
    required = predicate.required_words()
    if required is None:
        return None
    fold, words = required
    if not words or "" in words:
        return None  # the empty word is in every value
    assert source.key is not None
    SOURCES.setdefault(source.key, source.get)
    return (f"{'contains_fold' if fold else 'contains'} {source.key}", words)


def bool_matcher(
    test: Callable[[RequestFacts], bool], expr: str | None = None, lowered: tuple[object, ...] | None = None
) -> Matcher:
    """A primitive that is a plain condition on the facts (``req_proto_secure()``)."""
    return Matcher(test=test, expr=expr, lowered=lowered)
