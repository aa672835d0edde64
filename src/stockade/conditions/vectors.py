"""Run a file of condition test vectors (the format of BFE's ``bfe_conditions.json``).

A vector file is a JSON list of cases. A match case has ``cond``, an optional ``request``
(the keys of :data:`REQUEST_KEYS`, see :meth:`RequestFacts.from_vector`) and ``expect``
(a bool); an error case has ``cond``, ``expect_error: true`` and ``error_kind`` (the
:attr:`ConditionError.kind` expected).
``note``, ``source`` and ``quirk`` are informative.

The whole file is validated before any case runs, so a malformed file is reported as one
:class:`VectorFileError` (naming the case and the field) instead of half a run. This
module does no I/O: the caller reads and decodes the file and injects ``now``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stockade.conditions.compiler import compile_condition
from stockade.conditions.errors import ConditionError
from stockade.core.facts import RequestFacts
from stockade.errors import StockadeError

# The request object of a case (and of a replayed request event): each key and what it holds.
# docs/conditions.md lists the same keys; an unknown key is a typo, refused rather than ignored.
REQUEST_KEYS: dict[str, str] = {
    "method": "string",
    "host": "string",
    "path": "string",
    "query": "string",
    "uri": "string",
    "proto": "string",
    "headers": "object",
    "cookies": "object",
    "client_ip": "string",
    "remote_ip": "string",
    "vip": "string",
    "secure": "bool",
    "session_proto": "string",
    "tls": "object",
    "trusted": "bool",
    "host_tag": "string",
    "product": "string",
    "body": "string",
    "body_base64": "string",
    "tags": "object",
    "context": "object",
    "response": "object",
}
_NESTED_KEYS: dict[str, dict[str, str]] = {
    "tls": {"sni": "string", "client_auth": "bool", "client_ca": "string"},
    "response": {"code": "integer", "headers": "object"},
}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "bool": (bool,),
    "integer": (int,),
    "object": (dict,),
}

ERROR_KINDS = frozenset(
    {"syntax", "lexer", "keyword", "unresolved_variable", "unknown_primitive", "arg_count", "arg_type", "build"}
)


class VectorFileError(StockadeError):
    """A vector file is not a list of well-formed cases."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message, index)
        self.message = message
        self.index = index

    def __str__(self) -> str:
        if self.index is None:
            return f"invalid vector file: {self.message}"
        return f"invalid vector file: case {self.index}: {self.message}"


@dataclass(frozen=True, slots=True)
class Case:
    """One validated case: ``expect`` is a bool for a match case, None for an error case."""

    index: int
    cond: str
    expect: bool | None
    error_kind: str | None
    request: Mapping[str, object]
    quirk: bool


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case; ``reason`` says what went wrong when it failed."""

    case: Case
    passed: bool
    reason: str = ""

    def describe(self) -> str:
        """One line: ``case 7: "cond text": expected true, got false``."""
        return f"case {self.case.index}: {json.dumps(self.case.cond, ensure_ascii=False)}: {self.reason}"


def request_problem(request: Mapping[str, object]) -> str | None:
    """What is wrong with a request object (an unknown key, a value of the wrong type), or ``None``."""
    problem = _keys_problem(request, REQUEST_KEYS, "")
    if problem is not None:
        return problem
    encoded = request.get("body_base64")
    if encoded is None:
        return None
    if request.get("body") is not None:
        return "request keys 'body' and 'body_base64': expected one of them, not both"
    try:
        base64.b64decode(str(encoded), validate=True)
    except binascii.Error:
        return "request key 'body_base64': expected base64 (RFC 4648, with padding)"
    return None


def _keys_problem(value: Mapping[str, object], keys: Mapping[str, str], prefix: str) -> str | None:
    for key, item in value.items():
        kind = keys.get(key)
        if kind is None:
            return f"unknown request key {prefix + key!r}: expected one of {', '.join(sorted(keys))}"
        if item is None:
            continue  # null is the key's absence, as in BFE's vectors
        wanted = _JSON_TYPES[kind]
        if not isinstance(item, wanted) or (kind == "integer" and isinstance(item, bool)):
            article = "an" if kind[0] in "aeiou" else "a"
            return f"request key {prefix + key!r}: expected {article} {kind}, got {_json_type(item)}"
        nested = _NESTED_KEYS.get(prefix + key)
        if nested is not None and isinstance(item, dict):
            problem = _keys_problem(item, nested, f"{prefix}{key}.")
            if problem is not None:
                return problem
    return None


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def load_cases(data: object) -> list[Case]:
    """Validate the decoded JSON of a vector file; raise :class:`VectorFileError` if it is malformed."""
    if not isinstance(data, list):
        raise VectorFileError(f"expected a JSON list of cases, got {type(data).__name__}")
    return [_case(index, item) for index, item in enumerate(data)]


def _case(index: int, item: object) -> Case:
    if not isinstance(item, dict):
        raise VectorFileError(f"expected an object, got {type(item).__name__}", index)
    cond = item.get("cond")
    if not isinstance(cond, str):
        raise VectorFileError("'cond' must be a string", index)
    request = item.get("request", {})
    if not isinstance(request, dict):
        raise VectorFileError("'request' must be an object", index)
    problem = request_problem(request)
    if problem is not None:
        raise VectorFileError(problem, index)
    try:
        RequestFacts.from_vector(request)
    except ValueError as exc:
        raise VectorFileError(f"invalid 'request': {exc}", index) from None
    quirk = item.get("quirk", False)
    if not isinstance(quirk, bool):
        raise VectorFileError("'quirk' must be true or false", index)
    if item.get("expect_error", False) is True:
        kind = item.get("error_kind")
        if kind not in ERROR_KINDS:
            accepted = ", ".join(sorted(ERROR_KINDS))
            raise VectorFileError(f"'error_kind' must be one of {accepted}, got {kind!r}", index)
        return Case(index, cond, None, str(kind), request, quirk)
    if item.get("expect_error", False) is not False:
        raise VectorFileError("'expect_error' must be true or false", index)
    expect = item.get("expect")
    if not isinstance(expect, bool):
        raise VectorFileError("a match case needs 'expect': true or false", index)
    return Case(index, cond, expect, None, request, quirk)


def run_case(case: Case, *, now: float = 0.0) -> CaseResult:
    """Compile and evaluate one case; never raises for a bad condition (that is a result)."""
    try:
        condition = compile_condition(case.cond)
    except ConditionError as exc:
        if case.error_kind is None:
            return CaseResult(case, False, f"expected {_word(case.expect)}, got {exc.kind} error: {exc.bfe_message}")
        if exc.kind != case.error_kind:
            return CaseResult(case, False, f"expected {case.error_kind} error, got {exc.kind} error: {exc.bfe_message}")
        return CaseResult(case, True)
    if case.error_kind is not None:
        return CaseResult(case, False, f"expected {case.error_kind} error, got no error")
    got = condition(RequestFacts.from_vector(case.request, now=now))
    if condition.errors:
        return CaseResult(case, False, f"expected {_word(case.expect)}, got an exception inside the condition")
    if got != case.expect:
        return CaseResult(case, False, f"expected {_word(case.expect)}, got {_word(got)}")
    return CaseResult(case, True)


def run_cases(cases: Sequence[Case], *, now: float = 0.0) -> list[CaseResult]:
    """Run every case in order."""
    return [run_case(case, now=now) for case in cases]


def _word(value: bool | None) -> str:
    return "true" if value else "false"
