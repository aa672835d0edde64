"""The matchers of BFE's primitives: what a value is compared with, and how (``bfe.md`` §1.4).

Every list argument is split on ``|`` with no trimming (``"a | b"`` is ``"a "`` and ``" b"``)
and empty elements are kept (the empty pattern is legal: every value has it as a prefix).
Case folding upper-cases both sides with Go's mapping (:func:`~stockade.core.facts.go_upper`);
hash matchers lower-case instead. Each predicate is validated and precomputed when a
condition is built and only decides per request; ``None`` (data the request does not have,
such as a missing cookie) is always false.

A predicate can also write itself as a Python expression over an expression of the value
(:meth:`Predicate.inline`), which the condition compiler inlines: ``r.path.startswith(c)``
costs no Python call. Constants travel through a :class:`Template`, never as source text.

Regular expressions use RE2 (``google-re2``), the engine Go's ``regexp`` is modelled on, so
patterns mean the same as in BFE (unanchored search, no backreferences or lookarounds) and
run in linear time whatever the input, which matters for patterns applied to attacker
text. The wrapper's ``search`` builds a match object through a generator (5.2 µs a call
measured here); RE2's own ``Match`` on bytes takes 1.0 µs, so it is used when present, and
a pattern without metacharacters is a plain substring test (0.05 µs).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import re2

from stockade._native import regex_problem as native_regex_problem
from stockade.conditions.errors import BuildFailure
from stockade.conditions.hashing import bucket, bucket_ranges, parse_buckets
from stockade.core.facts import go_lower, go_upper, ip16

__all__ = [
    "ContainIn",
    "ElementPrefixIn",
    "Exact",
    "HashIn",
    "HostIn",
    "InList",
    "Predicate",
    "PrefixIn",
    "Regexp",
    "SuffixIn",
    "Template",
    "go_text",
    "ip_list",
    "ip_range",
    "prefix_bounds",
    "split_list",
]

_SURROGATES = {code: "\ufffd" for code in range(0xD800, 0xE000)}
_METACHARACTERS = frozenset("\\.+*?()|[]{}^$")
# RE2 accepts \C (any byte); Go's regexp does not.
_ANY_BYTE = re.compile(r"(?<!\\)(?:\\\\)*\\C")
# RE2's error texts, as Go's regexp/syntax words them.
_GO_REGEXP_ERRORS = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}


def split_list(patterns: str) -> list[str]:
    """BFE's ``strings.Split(patterns, "|")``: no trimming, empty elements kept."""
    return patterns.split("|")


def go_text(value: str) -> str:
    """The text Go's regexp sees: each byte that is not UTF-8 (a surrogate escape here) reads as U+FFFD."""
    return value if value.isascii() else value.translate(_SURROGATES)


class Template:
    """Collects the constants of an inline expression; :meth:`const` returns the ``{cN}`` placeholder."""

    def __init__(self) -> None:
        self.consts: list[object] = []

    def const(self, value: object) -> str:
        self.consts.append(value)
        return "{c%d}" % (len(self.consts) - 1)  # noqa: UP031 - braces in a format string would need doubling


class Predicate:
    """A test of one string value, built once; ``None`` (missing data) is false.

    ``inline_takes_none`` says whether :meth:`inline` is also right (and safe) for ``None``.
    """

    fold = False
    inline_takes_none = False

    def __call__(self, value: str | None) -> bool:
        raise NotImplementedError

    def inline(self, value: str, upper: Callable[[], str], tpl: Template) -> str:
        """A Python expression equal to ``self(value)`` for a value that is never ``None``.

        ``value`` is an expression of the value; ``upper()`` returns one of its upper-case
        form. The default calls the predicate itself.
        """
        return f"{tpl.const(self)}({value})"

    def required_words(self) -> tuple[bool, tuple[str, ...]] | None:
        """``(fold, words)`` when every ASCII value it accepts holds one of ``words``
        (lower-cased value and words when ``fold``); ``None`` when it cannot tell."""
        return None

    def lowered(self) -> tuple[object, ...]:
        """The test in the native evaluator's form (``stockade.conditions.lowering``)."""
        raise NotImplementedError


class InList(Predicate):
    """Equal to one of the patterns (BFE ``InMatcher``)."""

    def __init__(self, patterns: str, fold: bool) -> None:
        self.fold = fold
        self.inline_takes_none = not fold  # None is in no set of strings
        self.patterns = split_list(patterns)
        self.values = frozenset(go_upper(p) if fold else p for p in self.patterns)

    def lowered(self) -> tuple[object, ...]:
        return ("in", self.fold, self.patterns)

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        return (go_upper(value) if self.fold else value) in self.values

    def inline(self, value: str, upper: Callable[[], str], tpl: Template) -> str:
        return f"{upper() if self.fold else value} in {tpl.const(self.values)}"


class HostIn(InList):
    """Case-insensitive host equality (BFE ``HostMatcher``): a pattern with a port is a build error."""

    def __init__(self, patterns: str) -> None:
        for pattern in split_list(patterns):
            if ":" in pattern:
                raise BuildFailure(f"port should not be included in host({pattern})")
        super().__init__(patterns, True)


class PrefixIn(Predicate):
    """Starts with one of the patterns (BFE ``PrefixInMatcher``)."""

    method = "startswith"

    def __init__(self, patterns: str, fold: bool) -> None:
        self.fold = fold
        self.patterns = split_list(patterns)
        self.values = tuple(go_upper(p) if fold else p for p in self.patterns)

    def lowered(self) -> tuple[object, ...]:
        return ("prefix" if self.method == "startswith" else "suffix", self.fold, self.patterns)

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        text = go_upper(value) if self.fold else value
        return text.startswith(self.values) if self.method == "startswith" else text.endswith(self.values)

    def inline(self, value: str, upper: Callable[[], str], tpl: Template) -> str:
        subject = upper() if self.fold else value
        bounds = prefix_bounds(self.values) if self.method == "startswith" else None
        if bounds is not None:
            # Two string comparisons instead of a call of str.startswith (about 35 ns here).
            low, high = bounds
            return f"{tpl.const(low)} <= {subject} < {tpl.const(high)}"
        return f"{subject}.{self.method}({tpl.const(self.values)})"


def prefix_bounds(prefixes: tuple[str, ...]) -> tuple[str, str] | None:
    """``(low, high)`` such that ``low <= s < high`` exactly when ``s`` starts with the one prefix; else None.

    Strings compare by code point, and the strings that start with ``p`` are exactly those
    from ``p`` up to, not including, ``p`` with its last character incremented. There is no
    such bound for several prefixes, the empty prefix or one ending in U+10FFFF.
    """
    if len(prefixes) != 1 or not prefixes[0] or prefixes[0][-1] == "\U0010ffff":
        return None
    prefix = prefixes[0]
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SuffixIn(PrefixIn):
    """Ends with one of the patterns (BFE ``SuffixInMatcher``)."""

    method = "endswith"


class ContainIn(Predicate):
    """Contains one of the patterns (BFE ``ContainMatcher``), as one alternation of literals."""

    def __init__(self, patterns: str, fold: bool) -> None:
        self.fold = fold
        self.patterns = split_list(patterns)
        literals = (re.escape(go_upper(p) if fold else p) for p in self.patterns)
        self.search = re.compile("|".join(literals)).search

    def lowered(self) -> tuple[object, ...]:
        return ("contain", self.fold, self.patterns)

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        return self.search(go_upper(value) if self.fold else value) is not None

    def inline(self, value: str, upper: Callable[[], str], tpl: Template) -> str:
        return f"{tpl.const(self.search)}({upper() if self.fold else value}) is not None"


class ElementPrefixIn(Predicate):
    """Whole-segment path prefix (BFE ``PathElementPrefixMatcher``): ``/api`` matches ``/api/x``, not ``/apix``."""

    def __init__(self, patterns: str, fold: bool) -> None:
        self.fold = fold
        self.patterns = split_list(patterns)
        elements = (p if p.endswith("/") else p + "/" for p in self.patterns)
        self.values = tuple(go_upper(p) if fold else p for p in elements)

    def lowered(self) -> tuple[object, ...]:
        return ("element_prefix", self.fold, self.patterns)

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        if not value.endswith("/"):
            value += "/"
        return (go_upper(value) if self.fold else value).startswith(self.values)


class Exact(Predicate):
    """Equal to one pattern, folding case; ``|`` is not a separator (BFE ``ExactMatcher``)."""

    fold = True

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.value = go_upper(pattern)

    def __call__(self, value: str | None) -> bool:
        return value is not None and go_upper(value) == self.value

    def lowered(self) -> tuple[object, ...]:
        return ("exact", self.pattern)

    def inline(self, value: str, upper: Callable[[], str], tpl: Template) -> str:
        return f"{upper()} == {tpl.const(self.value)}"


class HashIn(Predicate):
    """The value's bucket (0..9999) is listed (BFE ``HashValueMatcher``); folding lower-cases."""

    def __init__(self, sections: str, fold: bool) -> None:
        self.fold = fold
        self.buckets = parse_buckets(sections)

    def lowered(self) -> tuple[object, ...]:
        return ("hash", self.fold, bucket_ranges(self.buckets))

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        return bucket(go_lower(value) if self.fold else value) in self.buckets


class Regexp(Predicate):
    """An unanchored RE2 search, case-sensitive unless the pattern says ``(?i)`` (BFE ``RegMatcher``)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._literal = pattern if _METACHARACTERS.isdisjoint(pattern) else None
        self._match: Callable[[bytes], bool] | None = None
        self._search: Callable[[str], object] | None = None
        if self._literal is None:
            self._compile(pattern)
        # The native evaluator runs the same pattern: it must be able to (see its module).
        problem = native_regex_problem(pattern)
        if problem is not None:
            raise BuildFailure(f"compile regexp err {problem}")
        self._words, self._fold = _literal_alternatives(pattern)

    def lowered(self) -> tuple[object, ...]:
        return ("regex", self.pattern)

    def required_words(self) -> tuple[bool, tuple[str, ...]] | None:
        return None if self._words is None else (self._fold, self._words)

    def _compile(self, pattern: str) -> None:
        if _ANY_BYTE.search(pattern):
            raise BuildFailure("compile regexp err error parsing regexp: invalid escape sequence: `\\C`")
        options = re2.Options()
        options.log_errors = False  # else RE2 writes every bad pattern to stderr
        options.never_capture = True  # a yes/no answer needs no groups
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as exc:
            raise BuildFailure(f"compile regexp err error parsing regexp: {_go_regexp_error(exc)}") from None
        except UnicodeError:
            raise BuildFailure("compile regexp err error parsing regexp: invalid UTF-8") from None
        self._search = compiled.search
        native = getattr(compiled, "_regexp", None)
        anchor = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)
        if native is not None and anchor is not None and hasattr(native, "Match"):
            unanchored = anchor.UNANCHORED
            self._match = lambda data: bool(native.Match(unanchored, data, 0, len(data))[0][0] >= 0)

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        words = self._words
        if words is not None and value.isascii():
            # Scanner signatures are mostly literal alternations: substring tests give RE2's
            # answer several times faster. Folding is exact only for ASCII text (RE2 also folds
            # the long s and the Kelvin sign into ASCII letters), so other text goes to RE2.
            if self._fold:
                value = value.lower()
            for word in words:  # noqa: SIM110 - a loop is cheaper here than any() over a generator
                if word in value:
                    return True
            return False
        text = go_text(value)
        if self._literal is not None:
            return self._literal in text
        if self._match is not None:
            return self._match(text.encode("utf-8"))
        return self._search is not None and self._search(text) is not None


_ALTERNATIVE = re.compile(r"[A-Za-z0-9 _\-/:;,=@#%&'\"<>~!`]+")


def _literal_alternatives(pattern: str) -> tuple[tuple[str, ...] | None, bool]:
    """``a|b|c`` or ``(?i)a|b|c`` of plain ASCII words: the words (lower-cased under ``(?i)``)."""
    fold = pattern.startswith("(?i)")
    body = pattern[4:] if fold else pattern
    words = body.split("|")
    if not all(_ALTERNATIVE.fullmatch(word) for word in words):
        return None, False
    return tuple(word.lower() for word in words) if fold else tuple(words), fold


def _go_regexp_error(exc: Exception) -> str:
    """RE2's ``missing ): (`` as Go's ``missing closing ): `(```."""
    raw = exc.args[0] if exc.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, separator, argument = message.partition(": ")
    code = _GO_REGEXP_ERRORS.get(code, code)
    return f"{code}: `{argument}`" if separator else code


# -- IP addresses ---------------------------------------------------------------------------

_V4_PREFIX = b"\x00" * 10 + b"\xff\xff"


def _parse_ip(text: str) -> bytes:
    address = ip16(text)
    if not address:
        raise BuildFailure(f"invalid IP addr string:{text}")
    return address


def ip_range(start: str, end: str) -> tuple[bytes, bytes]:
    """Validate an inclusive IP range (BFE ``NewIPMatcher``); both ends as 16-byte addresses."""
    first, last = _parse_ip(start), _parse_ip(end)
    if (first[:12] == _V4_PREFIX) != (last[:12] == _V4_PREFIX):
        raise BuildFailure(f"startIP[{start}] and endIP[{end}] has different addr type(IPv4/IPv6)")
    if last < first:
        raise BuildFailure(f"startIP[{start}] must <= endIP[{end}]")
    return first, last


def ip_list(addresses: str) -> frozenset[bytes]:
    """Validate a ``|`` list of IP addresses (BFE ``NewIpInMatcher``); IPv4 equals its IPv4-mapped form."""
    return frozenset(_parse_ip(text) for text in split_list(addresses))
