"""An ordered list of named rules where the first rule whose condition matches wins.

BFE tries block rules one after another until one matches. With hundreds of rules most
cannot match a given request because they name other hosts or paths, so the list is
indexed by what its conditions require (:attr:`Condition.hints`):

- by host, when a rule requires one of a set of hosts (a ``req_host_in`` ANDed at the top
  level, or on both sides of an ``||``): a dict from ``facts.host_lower`` to rules;
- else by path prefix: a dict from prefix to rules, probed for the prefix lengths in use
  (when those are many, only after one C-level ``str.startswith`` over every prefix says
  that one applies);
- else by method, when a rule requires one of a set of methods (``req_method_in``);
- else by words, when a rule requires that a value (a header, the path...) holds one of
  some literal words (a ``req_*_regmatch`` whose pattern is an alternation of literals, as
  scanner signatures are): the rules of one value are tried only when one compiled
  alternation of all their words finds one in it (or the value is not ASCII);
- every other rule is tried for every request ("always").

A hint is a necessary condition, so leaving out a rule whose hint the request fails never
changes the answer. Each group of rules (one host, one prefix, "always") is compiled into
one generated function that tries its conditions inline, in their original order, and
returns the position of the first that matches below a ``limit`` (or ``limit``): one Python
call per group instead of one per rule, which is most of the cost of a miss. The groups
that apply run one after another, each with the best position found so far as its limit,
so the answer is the first rule in the original order that matches, exactly what a linear
scan finds (a hypothesis test checks this); conditions have no side effects, so the order
in which groups run cannot be observed. Should a generated group ever raise, it falls back
to the rules' own compiled conditions, which never raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, cast

from stockade.conditions.compiler import Condition, SourceBuilder
from stockade.conditions.primitives._base import SOURCES
from stockade.core.facts import RequestFacts

_Group = Callable[[RequestFacts, int], int]
_HEADER_SOURCE = "header_map["
_FEW_LENGTHS = 6
_WORDS_GROUP_MIN = 4


class RequestParts(Protocol):
    """What :meth:`RuleList.first_index_of` reads before it needs the facts: a
    :class:`RequestFacts`, or a request that builds them only on demand."""

    @property
    def path(self) -> str: ...

    @property
    def host_lower(self) -> str: ...

    @property
    def method_upper(self) -> str: ...

    def header(self, name: str) -> str: ...

    @property
    def facts(self) -> RequestFacts: ...


# One value's rules of the words index: its reader, whether words are lower case, the
# alternation of every word, the group.
_Words = tuple[Callable[[RequestFacts], str | None], bool, Callable[[str], object], _Group]


def _words_hint(condition: Condition) -> tuple[str, Iterable[str]] | None:
    """The ``contains`` hint with the fewest words, if the condition has one."""
    found = [(kind, words) for kind, words in condition.hints.items() if kind.startswith("contains")]
    return min(found, key=lambda item: len(item[1])) if found else None


class RuleList:
    """Named conditions tried in order; :meth:`first_match` names the first that matches."""

    __slots__ = (
        "_always",
        "_always_all",
        "_by_host",
        "_by_method",
        "_by_prefix",
        "_by_words",
        "_excludable",
        "_gated",
        "_header_words",
        "_lengths",
        "_members",
        "_prefixes",
        "conditions",
        "names",
    )

    def __init__(self, rules: Iterable[tuple[str, Condition]]) -> None:
        pairs = list(rules)
        self.names: tuple[str, ...] = tuple(name for name, _ in pairs)
        self.conditions: tuple[Condition, ...] = tuple(condition for _, condition in pairs)
        always: list[int] = []
        by_host: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        by_method: dict[str, list[int]] = {}
        by_words: dict[str, tuple[list[int], dict[str, None]]] = {}
        for index, condition in enumerate(self.conditions):
            hosts = condition.hints.get("host")
            prefixes = condition.hints.get("path_prefix")
            methods = condition.hints.get("method")
            if hosts is not None:
                for host in hosts:
                    by_host.setdefault(host, []).append(index)
            elif prefixes:
                for prefix in dict.fromkeys(prefixes):
                    by_prefix.setdefault(prefix, []).append(index)
            elif methods is not None:
                for method in methods:
                    by_method.setdefault(method, []).append(index)
            elif (words := _words_hint(condition)) is not None:
                members, vocabulary = by_words.setdefault(words[0], ([], {}))
                members.append(index)
                vocabulary.update(dict.fromkeys(words[1]))
            else:
                always.append(index)
        if always:
            # A words group costs a call and a search of its own: with rules tried for every
            # request anyway, a group of a few is cheaper tried with them.
            for kind in [kind for kind, (members, _) in by_words.items() if len(members) < _WORDS_GROUP_MIN]:
                always.extend(by_words.pop(kind)[0])
            always.sort()
        # The members of every group, by group function, for candidates().
        self._members: dict[_Group, tuple[int, ...]] = {}
        self._always = self._group(always, "always")
        # Most requests match no rule, so no other group lowers the limit: skip its checks then.
        self._always_all = self._group(always, "always, no limit", limited=False)
        self._by_host = {host: self._group(members, f"host {host}") for host, members in by_host.items()}
        self._by_prefix = {prefix: self._group(members, f"prefix {prefix}") for prefix, members in by_prefix.items()}
        self._by_method = {method: self._group(members, f"method {method}") for method, members in by_method.items()}
        self._by_words: tuple[_Words, ...] = tuple(
            (
                SOURCES[kind.split(" ", 1)[1]],
                kind.startswith("contains_fold"),
                re.compile("|".join(re.escape(word) for word in vocabulary)).search,
                self._group(members, kind),
            )
            for kind, (members, vocabulary) in by_words.items()
        )
        self._prefixes = tuple(by_prefix)
        self._lengths = tuple(sorted({len(prefix) for prefix in by_prefix}))
        # Few lengths: a dict probe per length is cheaper than startswith() over every prefix.
        self._gated = len(self._lengths) > _FEW_LENGTHS
        # The words indexes on headers, for excludes(): a header's value needs no facts.
        self._header_words = tuple(
            (source[len(_HEADER_SOURCE) : -1], kind.startswith("contains_fold"), entry[2])
            for kind, entry in zip(by_words, self._by_words, strict=True)
            if (source := kind.split(" ", 1)[1]).startswith(_HEADER_SOURCE)
        )
        self._excludable = not always and all(kind.split(" ", 1)[1].startswith(_HEADER_SOURCE) for kind in by_words)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"RuleList({len(self.names)} rules)"

    def first_index(self, facts: RequestFacts) -> int | None:
        """The position of the first rule, in order, whose condition matches ``facts`` (names may repeat), or None."""
        best = none = len(self.names)
        if self._by_host:
            host = self._by_host.get(facts.host_lower)
            if host is not None:
                best = host(facts, best)
        if self._prefixes:
            path = facts.path
            if not self._gated or path.startswith(self._prefixes):
                for length in self._lengths:
                    if length > len(path):
                        break
                    prefix = self._by_prefix.get(path[:length])
                    if prefix is not None:
                        best = prefix(facts, best)
        if self._by_method:
            method = self._by_method.get(facts.method_upper)
            if method is not None:
                best = method(facts, best)
        for read, fold, search, group in self._by_words:
            value = read(facts)
            if value is not None and (not value.isascii() or search(value.lower() if fold else value) is not None):
                best = group(facts, best)
        best = self._always_all(facts, best) if best == none else self._always(facts, best)
        return None if best == none else best

    def excludes(self, request: RequestParts) -> bool:
        """True when the index alone shows that no rule matches: no facts needed for that.

        Reads the path, the host, the method and headers; a list with rules the index tries
        for every request (or on other values) is never excluded.
        """
        if not self._excludable:
            return False
        if self._by_host and request.host_lower in self._by_host:
            return False
        if self._prefixes:
            path = request.path
            if self._gated:
                if path.startswith(self._prefixes):
                    return False
            else:
                for length in self._lengths:
                    if length > len(path):
                        break
                    if path[:length] in self._by_prefix:
                        return False
        if self._by_method and request.method_upper in self._by_method:
            return False
        for name, fold, search in self._header_words:
            value = request.header(name)
            if not value.isascii() or search(value.lower() if fold else value) is not None:
                return False
        return True

    def first_index_of(self, request: RequestParts) -> int | None:
        """:meth:`first_index` of a request whose facts are built only if the index lets a rule through."""
        if self.excludes(request):
            return None
        return self.first_index(request.facts)

    def first_match(self, facts: RequestFacts) -> str | None:
        """The name of the first rule, in order, whose condition matches ``facts``, or None."""
        index = self.first_index(facts)
        return None if index is None else self.names[index]

    def candidates(self, facts: RequestFacts) -> list[str]:
        """The names of the rules the index lets through for ``facts``, in order (for tests and debugging)."""
        members = sorted({index for group in self._groups(facts) for index in self._members[group]})
        return [self.names[index] for index in members]

    def _groups(self, facts: RequestFacts) -> list[_Group]:
        """The groups of rules that may match ``facts``: the walk of :meth:`first_index`, as a list."""
        groups = [self._always]
        if self._by_host:
            host = self._by_host.get(facts.host_lower)
            if host is not None:
                groups.append(host)
        if self._prefixes:
            path = facts.path
            if not self._gated or path.startswith(self._prefixes):
                for length in self._lengths:
                    if length > len(path):
                        break
                    prefix = self._by_prefix.get(path[:length])
                    if prefix is not None:
                        groups.append(prefix)
        if self._by_method:
            method = self._by_method.get(facts.method_upper)
            if method is not None:
                groups.append(method)
        for read, fold, search, group in self._by_words:
            value = read(facts)
            if value is not None and (not value.isascii() or search(value.lower() if fold else value) is not None):
                groups.append(group)
        return groups

    def _group(self, members: Sequence[int], label: str, *, limited: bool = True) -> _Group:
        """One function that tries ``members`` in order: ``group(facts, limit)`` -> first match below limit, or limit.

        Unless ``limited``, it assumes ``limit`` is above every member and does not check it.
        """
        builder = SourceBuilder()
        lines = ["def group(r, limit):", "    try:"]
        for index in members:
            condition = self.conditions[index]
            if limited:
                lines.append(f"        if limit <= {index}:")
                lines.append("            return limit")
            lines.append(f"        if {builder.expression(condition.tree, condition.matchers)}:")
            lines.append(f"            return {index}")
        lines += ["        return limit", "    except Exception:", "        return fallback(r, limit)"]
        conditions = [(index, self.conditions[index]) for index in members]

        def fallback(facts: RequestFacts, limit: int) -> int:
            for index, condition in conditions:
                if index >= limit:
                    break
                if condition(facts):
                    return index
            return limit

        builder.namespace["fallback"] = fallback
        namespace = builder.define(builder.source("\n".join(lines) + "\n"), f"rules: {label}")
        group = cast(_Group, namespace["group"])
        if limited:
            self._members[group] = tuple(members)
        return group
