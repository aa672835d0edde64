"""The compiler: generated functions, BFE precedence, compile-time checks, errors, hints, docs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.conditions import (
    ArgCountError,
    ArgTypeError,
    ConditionError,
    PrimitiveBuildError,
    UnknownPrimitiveError,
    compile_condition,
    explain,
    registry,
)
from stockade.conditions.registry import Matcher, PrimitiveSpec
from stockade.core.facts import RequestFacts
from tests.vectors import condition_vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS = condition_vectors()
T, F = "default_t()", "!default_t()"


def facts(**request: object) -> RequestFacts:
    return RequestFacts.from_vector(request)


# -- evaluation --------------------------------------------------------------------------


def test_a_condition_is_a_callable_that_returns_a_bool() -> None:
    condition = compile_condition('req_host_in("a.com|b.com") && req_method_in("GET")')
    assert callable(condition)
    assert condition(facts(host="B.com:8080")) is True
    assert condition(facts(host="c.com")) is False
    assert condition.text == 'req_host_in("a.com|b.com") && req_method_in("GET")'
    assert condition.strategy == "source"
    assert condition.source is not None
    assert "def evaluate(r):" in condition.source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{T} || {F} && {F}", False),  # (T || F) && F: || binds tighter than &&
        (f"{F} && {F} || {T}", False),  # F && (F || T)
        (f"{T} || ({F} && {F})", True),
        (f"{F} || {T} && {T}", True),
        (f"!{T} || {T}", True),  # ! binds tighter than ||
        (f"!({T} || {T})", False),
        (f"!!!{T}", False),
        (f"!!!!{T}", True),
        (f"{T} && {T} && {T} && {F}", False),
        (f"{F} || {F} || {F} || {T}", True),
        (f"({T} && ({T} && {F})) || {T}", True),
    ],
)
def test_bfe_precedence_and_negation(text: str, expected: bool) -> None:
    for strategy in ("source", "closures"):
        assert compile_condition(text, strategy=strategy)(facts()) is expected, (strategy, text)


def test_long_chains_and_deep_nesting_compile_and_evaluate() -> None:
    chain = " && ".join([T] * 3000)
    assert compile_condition(chain)(facts()) is True
    assert compile_condition(chain + f" && {F}")(facts()) is False
    assert compile_condition("!" * 1001 + T)(facts()) is False
    # Alternating operators nested 2000 deep: more than Python's parser takes in one function,
    # so the generated code moves deep parts into helper functions.
    deep = T
    for level in range(2000):
        deep = f"({F} || {deep})" if level % 2 else f"({T} && {deep})"
    condition = compile_condition(deep)
    assert condition.strategy == "source"
    assert condition.source is not None
    assert condition.source.count("def ") > 1
    assert condition(facts()) is True
    assert condition.errors == 0


def _register(monkeypatch: pytest.MonkeyPatch, name: str, matcher: Matcher) -> None:
    monkeypatch.setitem(registry.REGISTRY, name, PrimitiveSpec(name, (), "For a test.", lambda: matcher))


def test_templates_are_inlined_with_bound_constants_and_others_called(monkeypatch: pytest.MonkeyPatch) -> None:
    def is_get(facts: RequestFacts) -> bool:
        return facts.method == "GET"

    _register(monkeypatch, "inline_t", Matcher(test=is_get, expr="{r}.method in {c0}", consts=(frozenset({"GET"}),)))
    _register(monkeypatch, "called_t", Matcher(test=is_get))
    _register(monkeypatch, "broken_t", Matcher(test=is_get, expr="{r}.method in {c1}", consts=("GET",)))
    inline = compile_condition("inline_t()")
    assert inline.source is not None
    assert "(r.method in _c1_0)" in inline.source
    for text in ("called_t()", "broken_t()"):  # no template, or one naming a missing constant
        called = compile_condition(text)
        assert called.source is not None
        assert "_t1(r)" in called.source
    for text in ("inline_t()", "called_t()", "broken_t()"):
        condition = compile_condition(text)
        assert condition(facts(method="GET")) is True
        assert condition(facts(method="POST")) is False


def test_a_condition_never_raises_and_counts_what_it_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(facts: RequestFacts) -> bool:
        raise RuntimeError("boom")

    _register(monkeypatch, "boom_t", Matcher(test=explode))
    for strategy in ("source", "closures"):
        condition = compile_condition("boom_t() || default_t()", strategy=strategy)
        assert condition(facts()) is False
        assert condition(facts()) is False
        assert condition.errors == 2
        negated = compile_condition("!boom_t()", strategy=strategy)
        assert negated(facts()) is False


def test_a_wrong_argument_is_not_an_exception_either() -> None:
    condition = compile_condition('req_host_in("a.com")')
    assert condition(object()) is False  # type: ignore[arg-type]
    assert condition.errors == 1


def _vector_cases() -> list[dict[str, object]]:
    return [case for case in json.loads(VECTORS.read_text(encoding="utf-8")) if not case.get("expect_error")]


@pytest.mark.skipif(not VECTORS.exists(), reason="the shared vectors are not on this machine")
def test_generated_and_closures_agree_on_every_vector_and_never_swallow() -> None:
    """Inlined templates (source) and the matchers' test functions (closures) decide alike."""
    for case in _vector_cases():
        request = case.get("request", {})
        assert isinstance(request, dict)
        text = str(case["cond"])
        generated = compile_condition(text)
        closures = compile_condition(text, strategy="closures")
        got = generated(RequestFacts.from_vector(request))
        assert got is closures(RequestFacts.from_vector(request)), text
        assert got is case["expect"] or case.get("quirk"), text
        assert generated.errors == closures.errors == 0, text


# -- compile-time errors -----------------------------------------------------------------


def test_a_build_failure_points_at_the_call_with_a_caret() -> None:
    text = "default_t() &&\n  req_path_regmatch(`(`)"
    with pytest.raises(PrimitiveBuildError) as caught:
        compile_condition(text)
    error = caught.value
    assert error.kind == "build"
    assert (error.line, error.col) == (2, 3)
    assert str(error).splitlines()[1:3] == ["  req_path_regmatch(`(`)", "  ^"]


def test_arity_and_types_are_checked_when_compiling() -> None:
    with pytest.raises(ArgCountError) as count:
        compile_condition('req_path_in("/a")')
    assert count.value.message == "primitive args len error, expect 2, got 1"
    with pytest.raises(ArgTypeError):
        compile_condition('req_path_in("/a", "false")')


def test_an_unknown_primitive_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownPrimitiveError) as caught:
        compile_condition('req_host_inn("a.com")')
    assert "req_host_in" in str(caught.value)
    assert caught.value.hint is not None


def test_every_error_is_a_condition_error_with_a_bfe_message() -> None:
    for text in ["", "a && b", "req_host_in('a')", "default()", 'req_cip_range("1.1.1", "1.1.1.0")']:
        with pytest.raises(ConditionError) as caught:
            compile_condition(text)
        assert caught.value.bfe_message
        assert str(caught.value).startswith(caught.value.bfe_message)


# -- hints -------------------------------------------------------------------------------


def test_hints_come_from_the_top_level_conjuncts() -> None:
    both = compile_condition('req_host_in("A.com|b.com") && req_path_prefix_in("/x|/y", false) && req_method_in("GET")')
    assert both.hints == {
        "host": frozenset({"a.com", "b.com"}),
        "path_prefix": ("/x", "/y"),
        "method": frozenset({"GET"}),
    }
    narrowed = compile_condition('req_host_in("a.com|b.com") && req_host_in("b.com|c.com")')
    assert narrowed.hints == {"host": frozenset({"b.com"})}
    united = compile_condition('req_host_in("a.com") || req_host_in("b.com") && default_t()')
    assert united.hints == {"host": frozenset({"a.com", "b.com"})}  # (a || b) && T


@pytest.mark.parametrize(
    "text",
    [
        '!req_host_in("a.com")',
        'req_host_in("a.com") || default_t()',
        'req_path_prefix_in("/x|", false)',  # the empty prefix admits every path
        "default_t()",
    ],
)
def test_conditions_that_cannot_be_indexed_have_no_hints(text: str) -> None:
    assert compile_condition(text).hints == {}


# -- explain -----------------------------------------------------------------------------


def test_explain_parenthesises_the_real_precedence() -> None:
    text = 'req_host_in("a.com") && req_method_in("GET") || req_path_in("/x", false)'
    assert explain(text) == '(req_host_in("a.com") && (req_method_in("GET") || req_path_in("/x", false)))'
    with pytest.raises(ConditionError):
        explain("req_host_in(")


# -- generated docs ----------------------------------------------------------------------


def _doc_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_conditions_doc", ROOT / "scripts" / "gen_conditions_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_primitive_table_in_the_docs_is_current() -> None:
    generator = _doc_generator()
    assert generator.main(["--check"]) == 0, "run: python scripts/gen_conditions_doc.py"
    doc = (ROOT / "docs" / "conditions.md").read_text(encoding="utf-8")
    for name in registry.names():
        assert f"| `{name}` |" in doc


def test_compiled_conditions_return_bools_on_every_vector() -> None:
    # The generated function returns its expression as is: every template must be a bool.
    for case in json.loads(VECTORS.read_text()):
        if case.get("expect_error"):
            continue
        facts = RequestFacts.from_vector(case.get("request", {}), now=1_800_000_000.0)
        for strategy in ("source", "closures"):
            result = compile_condition(case["cond"], strategy=strategy)(facts)
            assert type(result) is bool, (case["cond"], strategy, result)


# -- robustness: any arguments -------------------------------------------------------------

ARGUMENT_TEXT = st.text(st.sampled_from(list("aZ09 |:-.+*?()[]\\^$/=;%é\u212a")), max_size=12)
FUZZ_FACTS = [
    facts(),
    facts(
        host="a.com:1",
        path="/é",
        query="a=%ff&b",
        headers={"X-Bfe-Debug-Time": "20190101000000Z", "Cookie": "a=1", "User-Agent": "x"},
        client_ip="1.2.3.4",
        vip="::1",
        secure=True,
        tls={"sni": "x", "client_auth": True, "client_ca": "c"},
        body='{"a": [1]}',
        response={"code": 200},
    ),
]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(registry.names()), data=st.data())
def test_any_arguments_fail_at_compile_time_or_never_at_run_time(name: str, data: st.DataObject) -> None:
    """Every argument is validated when the condition compiles; a compiled condition never raises."""
    spec = registry.REGISTRY[name]

    def literal(kind: str) -> str:
        if kind == "BOOL":
            return "true" if data.draw(st.booleans()) else "false"
        return "`" + data.draw(ARGUMENT_TEXT) + "`"

    call = f"{name}({', '.join(literal(kind) for kind in spec.params)})"
    try:
        condition = compile_condition(f"{call} || !{call}")
    except PrimitiveBuildError:
        return
    for request in FUZZ_FACTS:
        assert condition(request) is True  # a primitive is a bool, never an error
    assert condition.errors == 0
