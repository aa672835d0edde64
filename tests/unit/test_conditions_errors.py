"""Condition errors: BFE's texts and positions, the caret display, and the checks of ``semant`` (bfe.md §1.3)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from stockade.conditions import compile_condition, registry
from stockade.conditions.errors import (
    ArgCountError,
    ArgTypeError,
    BuildFailure,
    ConditionError,
    ConditionKeywordError,
    ConditionLexerError,
    ConditionSyntaxError,
    PrimitiveBuildError,
    UnknownPrimitiveError,
    UnresolvedVariableError,
)
from stockade.conditions.parser import parse
from stockade.conditions.semant import check, closest_name
from stockade.errors import StockadeError
from tests.vectors import condition_vectors

VECTORS = condition_vectors()
CHECKED_KINDS = {"syntax", "lexer", "keyword", "unresolved_variable", "unknown_primitive", "arg_count", "arg_type"}

# A few of BFE's prototypes (semant.go funcProtos), so the checks are tested apart from the registry.
FAKE = {
    "default_t": (),
    "req_host_in": ("STRING",),
    "req_path_in": ("STRING", "BOOL"),
    "req_query_value_in": ("STRING", "STRING", "BOOL"),
    "req_tag_match": ("STRING", "STRING"),
}


def fake_lookup(name: str) -> SimpleNamespace | None:
    params = FAKE.get(name)
    return None if params is None else SimpleNamespace(params=params)


def fake_check(text: str) -> None:
    check(parse(text), text, lookup=fake_lookup, names=lambda: list(FAKE))


def fake_error(text: str) -> ConditionError:
    with pytest.raises(ConditionError) as caught:
        fake_check(text)
    return caught.value


def compile_error(text: str) -> ConditionError:
    """The error of parse + check against the real registry."""
    with pytest.raises(ConditionError) as caught:
        check(parse(text), text)
    return caught.value


# -- the error classes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (ConditionSyntaxError, "syntax"),
        (ConditionLexerError, "lexer"),
        (ConditionKeywordError, "keyword"),
        (UnresolvedVariableError, "unresolved_variable"),
        (UnknownPrimitiveError, "unknown_primitive"),
        (ArgCountError, "arg_count"),
        (ArgTypeError, "arg_type"),
        (PrimitiveBuildError, "build"),
    ],
)
def test_one_class_per_kind(cls: type[ConditionError], kind: str) -> None:
    error = cls("boom", line=2, col=5)
    assert isinstance(error, StockadeError)
    assert (error.kind, error.message, error.line, error.col, error.source, error.hint) == (
        kind,
        "boom",
        2,
        5,
        None,
        None,
    )


def test_bfe_message_has_the_position_where_bfe_prints_one() -> None:
    assert ConditionSyntaxError("syntax error", line=1, col=13).bfe_message == "1:13 syntax error"
    assert UnknownPrimitiveError("primitive x not found", line=3, col=2).bfe_message == "3:2 primitive x not found"
    # BFE raises these two with a plain fmt.Errorf, after parsing: no "line:col".
    unresolved = UnresolvedVariableError("found unresolved variable a 1", line=1, col=1)
    assert unresolved.bfe_message == "found unresolved variable a 1"
    assert PrimitiveBuildError("compile regexp err x", line=1, col=1).bfe_message == "compile regexp err x"


def test_str_without_source_is_the_bfe_message() -> None:
    assert str(ConditionLexerError("unrecognized token 57361", line=1, col=13)) == "1:13 unrecognized token 57361"


def test_str_shows_the_line_and_a_caret() -> None:
    with pytest.raises(ConditionLexerError) as caught:
        parse("req_host_in('a.com')")
    assert str(caught.value) == "1:13 unrecognized token 57361\nreq_host_in('a.com')\n            ^"


def test_the_caret_is_on_the_right_line_of_a_multiline_condition() -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse('req_host_in("a.com")\r\n  && req_path_in("/x", TRUE)\n  || default_t()')
    assert str(caught.value) == '2:24 syntax error\n  && req_path_in("/x", TRUE)\n                       ^'


def test_the_caret_counts_characters_while_the_column_counts_bytes() -> None:
    with pytest.raises(ConditionLexerError) as caught:
        parse('req_host_in("日本") & x()')
    assert caught.value.col == 23
    assert str(caught.value).splitlines()[2] == " " * 18 + "^"


def test_tabs_before_the_caret_are_kept() -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse("\ta() b()")
    assert str(caught.value).splitlines()[1:] == ["\ta() b()", "\t    ^"]


def test_bytes_sources_are_shown_decoded() -> None:
    with pytest.raises(ConditionLexerError) as caught:
        parse(b"x(\xff)")
    assert str(caught.value) == "1:3 illegal UTF-8 encoding\nx(\ufffd)\n  ^"


def test_the_kinds_bfe_prints_without_a_position_get_one_before_the_caret() -> None:
    text = 'default_t() &&\n  req_host_in("a.com:80")'
    with pytest.raises(PrimitiveBuildError) as caught:
        compile_condition(text)
    assert caught.value.bfe_message == "port should not be included in host(a.com:80)"
    assert str(caught.value).splitlines() == [
        "port should not be included in host(a.com:80) (at 2:3)",
        '  req_host_in("a.com:80")',
        "  ^",
    ]
    with pytest.raises(UnresolvedVariableError) as unresolved:
        compile_condition("default_t() &&\n x")
    assert str(unresolved.value).splitlines()[0] == "found unresolved variable x 17 (at 2:2)"
    # Without the source there is nothing to point at: the BFE text alone.
    assert str(PrimitiveBuildError("compile regexp err x", line=1, col=1)) == "compile regexp err x"


def test_the_hint_comes_last() -> None:
    error = UnknownPrimitiveError(
        "primitive REQ_HOST_IN not found", line=1, col=1, source="REQ_HOST_IN()", hint="did you mean 'req_host_in'?"
    )
    assert str(error) == ("1:1 primitive REQ_HOST_IN not found\nREQ_HOST_IN()\n^\nhint: did you mean 'req_host_in'?")


def test_build_failure_carries_only_a_message() -> None:
    failure = BuildFailure("port should not be included in host(a:80)")
    assert not isinstance(failure, StockadeError)
    assert (str(failure), failure.message) == ("port should not be included in host(a:80)",) * 2


# -- semant: the checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cls", "message"),
    [
        ('nosuch("x")', UnknownPrimitiveError, "1:1 primitive nosuch not found"),
        ("REQ_HOST_IN()", UnknownPrimitiveError, "1:1 primitive REQ_HOST_IN not found"),
        ("default_t() && b()", UnknownPrimitiveError, "1:16 primitive b not found"),
        ('req_path_in("notbool")', ArgCountError, "1:1 primitive args len error, expect 2, got 1"),
        ("default_t(true)", ArgCountError, "1:1 primitive args len error, expect 0, got 1"),
        ("req_host_in()", ArgCountError, "1:1 primitive args len error, expect 1, got 0"),
        ('req_tag_match("a", "b", "c")', ArgCountError, "1:1 primitive args len error, expect 2, got 3"),
        ('req_path_in("/a", "true")', ArgTypeError, "1:1 primitive req_path_in arg 1 expect BOOL, got STRING"),
        ("req_host_in(true)", ArgTypeError, "1:1 primitive req_host_in arg 0 expect STRING, got BOOL"),
        ("req_host_in(80)", ArgTypeError, "1:1 primitive req_host_in arg 0 expect STRING, got INT"),
        ('req_query_value_in("k", false, "v")', ArgTypeError,
         "1:1 primitive req_query_value_in arg 1 expect STRING, got BOOL"),
        ('\n  !req_path_in(`/a`, 1)', ArgTypeError, "2:4 primitive req_path_in arg 1 expect BOOL, got INT"),
        ("a && b", UnresolvedVariableError, "found unresolved variable a 1"),
        ("default_t() || (\n  !x-y)", UnresolvedVariableError, "found unresolved variable x-y 21"),
        ('req_host_in("é") && é', UnresolvedVariableError, "found unresolved variable é 22"),  # Go's Pos: bytes + 1
    ],
)  # fmt: skip
def test_check_reports_bfe_texts(text: str, cls: type[ConditionError], message: str) -> None:
    error = fake_error(text)
    assert type(error) is cls
    assert error.bfe_message == message
    assert error.source == text


def test_raw_strings_are_strings_and_every_kind_fits_its_own_param() -> None:
    fake_check('req_query_value_in(`k`, "v|w", true) && req_path_in("/", false) || !default_t()')


def test_the_first_bad_call_in_source_order_wins() -> None:
    assert fake_error("(req_host_in() || nosuch()) && default_t(1)").message.startswith("primitive args len")
    assert fake_error("!nosuch() && req_host_in()").message == "primitive nosuch not found"
    assert fake_error("req_host_in(1, 2) && nosuch()").message == "primitive args len error, expect 1, got 2"


def test_prototype_errors_come_before_unresolved_variables() -> None:
    """BFE's parser.Parse returns the prototype error before Build looks at the collected names."""
    assert fake_error("x && nosuch()").message == "primitive nosuch not found"
    assert type(fake_error("x && req_host_in()")) is ArgCountError
    assert fake_error("x && req_host_in(`a`) && y").message == "found unresolved variable x 1"


def test_an_unknown_name_gets_the_closest_known_one_as_a_hint() -> None:
    assert fake_error("REQ_HOST_IN()").hint == "did you mean 'req_host_in'?"
    assert fake_error('req_host_inn("a")').hint == "did you mean 'req_host_in'?"
    assert fake_error("default()x").kind == "keyword"
    assert fake_error("defaultt()").hint == "did you mean 'default_t'?"
    assert fake_error("zzz()").hint is None
    assert "hint" not in str(fake_error("zzz()"))


def test_closest_name() -> None:
    assert closest_name("Req_Path_In", ["req_host_in", "req_path_in"]) == "req_path_in"
    assert closest_name("nothing_like_it", ["req_host_in"]) is None
    assert closest_name("a", []) is None


# -- the real registry ------------------------------------------------------------------------


def test_real_registry_hint_for_uppercase_names() -> None:
    error = compile_error('REQ_HOST_IN("a.com")')
    assert type(error) is UnknownPrimitiveError
    assert error.hint == "did you mean 'req_host_in'?"


@pytest.mark.parametrize("name", ["req_cookie_value_regmatch", "req_cip_in", "REQ_HOST_IN"])
def test_names_bfe_does_not_have(name: str) -> None:
    """bfe.md §1.8: these three are "primitive ... not found"."""
    assert compile_error(f'{name}("x")').bfe_message == f"1:1 primitive {name} not found"


def test_every_registered_primitive_passes_its_own_prototype() -> None:
    for name in registry.names():
        spec = registry.get(name)
        assert spec is not None
        args = ", ".join("true" if param == "BOOL" else '"x"' for param in spec.params)
        tree = parse(f"{name}({args})")
        check(tree, name)


# -- BFE's vectors ----------------------------------------------------------------------------

# The exact text BFE prints for the error vectors that have one of the kinds checked here.
BFE_MESSAGES = {
    "": "1:1 syntax error",
    "a && b": "found unresolved variable a 1",
    'unknown_primitive("x")': "1:1 primitive unknown_primitive not found",
    "default()": "1:8 keyword can't be used",
    'req_path_in("notbool")': "1:1 primitive args len error, expect 2, got 1",
    "default_t(true)": "1:1 primitive args len error, expect 0, got 1",
    "req_host_in()": "1:1 primitive args len error, expect 1, got 0",
    'req_query_value_regmatch("k", "x", true)': "1:1 primitive args len error, expect 2, got 3",
    'req_tag_match("a")': "1:1 primitive args len error, expect 2, got 1",
    'req_path_in("/a", TRUE)': "1:19 syntax error",
    'req_host_in("a"': "1:16 syntax error",
    "req_host_in('a.com')": "1:13 unrecognized token 57361",
    'req_host_in("a" "b")': "1:17 syntax error",
}


def vectors() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return cases


def error_vectors() -> list[tuple[str, str]]:
    return [(str(case["cond"]), str(case["error_kind"])) for case in vectors() if case.get("expect_error")]


@pytest.mark.parametrize(("text", "kind"), error_vectors())
def test_error_vectors(text: str, kind: str) -> None:
    if kind not in CHECKED_KINDS:
        # A build error comes later, from the primitive's builder: parse and check must accept it.
        check(parse(text), text)
        return
    error = compile_error(text)
    assert error.kind == kind
    if text in BFE_MESSAGES:
        assert error.bfe_message == BFE_MESSAGES[text]


def test_the_pinned_messages_are_all_vectors() -> None:
    assert set(BFE_MESSAGES) <= {text for text, _ in error_vectors()}


@pytest.mark.parametrize("text", [str(case["cond"]) for case in vectors() if not case.get("expect_error")])
def test_every_valid_vector_passes_the_checks(text: str) -> None:
    check(parse(text), text)
