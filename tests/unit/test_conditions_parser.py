"""The parser and the printer: BFE's grammar, its real precedence, its syntax errors (bfe.md §1.2-1.3)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.conditions.errors import ConditionError, ConditionLexerError, ConditionSyntaxError
from stockade.conditions.lexer import KEYWORDS
from stockade.conditions.parser import parse
from stockade.conditions.printer import to_source
from stockade.conditions.semant import check
from stockade.conditions.syntax import Binary, Call, Ident, Literal, Node, Not, Span, same_shape
from tests.vectors import condition_vectors

VECTORS = condition_vectors()
NOWHERE = Span(0, 0, 0, 0)


def call(name: str, *args: Literal) -> Call:
    return Call(name, args, NOWHERE)


def string(value: str, quote: str = '"') -> Literal:
    return Literal("STRING", value, NOWHERE, quote)


def boolean(value: bool) -> Literal:
    return Literal("BOOL", value, NOWHERE)


def both(op: str, left: Node, right: Node) -> Binary:
    return Binary(op, left, right, NOWHERE)  # type: ignore[arg-type]


A, B, C, D = call("a"), call("b"), call("c"), call("d")


def syntax_error(text: str) -> str:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse(text)
    assert caught.value.kind == "syntax"
    return caught.value.bfe_message


# -- precedence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a() && b() || c()", both("&&", A, both("||", B, C))),
        ("a() || b() && c()", both("&&", both("||", A, B), C)),
        ("a() && b() && c()", both("&&", both("&&", A, B), C)),
        ("a() || b() || c()", both("||", both("||", A, B), C)),
        ("a() || b() && c() || d()", both("&&", both("||", A, B), both("||", C, D))),
        ("(a() && b()) || c()", both("||", both("&&", A, B), C)),
        ("!a() && b()", both("&&", Not(A, NOWHERE), B)),
        ("!a() || b()", both("||", Not(A, NOWHERE), B)),
        ("!(a() || b())", Not(both("||", A, B), NOWHERE)),
        ("!!a()", Not(Not(A, NOWHERE), NOWHERE)),
        ("a() && !b() || c()", both("&&", A, both("||", Not(B, NOWHERE), C))),
        ("((a()))", A),
    ],
)
def test_bfe_precedence_or_binds_tighter_than_and(text: str, tree: Node) -> None:
    assert parse(text) == tree


def test_the_documented_counter_example() -> None:
    """bfe.md §1.2: ``d || !d && !d`` groups as ``(d || !d) && !d``, which is false."""
    tree = parse("default_t() || !default_t() && !default_t()")
    assert to_source(tree) == "((default_t() || !default_t()) && !default_t())"


# -- calls and literals -----------------------------------------------------------------------


def test_calls_take_literal_arguments() -> None:
    tree = parse('f("s", `r`, true, false, 42, 0x10, 010)')
    assert tree == call(
        "f",
        string("s"),
        string("r", "`"),
        boolean(True),
        boolean(False),
        Literal("INT", 42, NOWHERE),
        Literal("INT", 16, NOWHERE),
        Literal("INT", 8, NOWHERE),
    )


def test_an_empty_argument_list_and_a_bare_name() -> None:
    assert parse("default_t()") == call("default_t")
    assert parse("x") == Ident("x", NOWHERE)
    assert parse("a && b") == both("&&", Ident("a", NOWHERE), Ident("b", NOWHERE))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1:1 syntax error"),
        ("   \n  ", "2:3 syntax error"),
        ("a(\n", "1:4 syntax error"),  # a newline at the very end starts no line
        ("// nothing", "1:11 syntax error"),
        ('req_host_in("a", )', "1:18 syntax error"),  # no trailing comma
        ('req_host_in("a" "b")', "1:17 syntax error"),
        ('req_host_in("a"', "1:16 syntax error"),
        ('req_path_in("/a", TRUE)', "1:19 syntax error"),  # TRUE is a name, not a BOOL
        ("f(g())", "1:3 syntax error"),
        ("f(,)", "1:3 syntax error"),
        ("a() b()", "1:5 syntax error"),
        ("a();", "1:4 syntax error"),
        (";", "1:1 syntax error"),
        ("a() &&", "1:7 syntax error"),
        ("&& a()", "1:1 syntax error"),
        ("!", "1:2 syntax error"),
        ("(a()", "1:5 syntax error"),
        ("a())", "1:4 syntax error"),
        ("()", "1:2 syntax error"),
        ('"x"', "1:1 syntax error"),
        ("true", "1:1 syntax error"),
        ("a() &&\n  || b()", "2:3 syntax error"),
    ],
)
def test_syntax_errors_point_at_the_first_bad_token(text: str, message: str) -> None:
    assert syntax_error(text) == message


def test_unrecognized_tokens_are_lexer_errors() -> None:
    with pytest.raises(ConditionLexerError) as caught:
        parse("a(1.5)")
    assert caught.value.bfe_message == "1:3 unrecognized token 57358"


def test_first_error_wins() -> None:
    assert syntax_error('a) "\\d"') == "1:2 syntax error"


def test_nesting_has_no_depth_limit() -> None:
    """BFE's yacc stack grows as needed; the parser, the printer and same_shape are iterative."""
    depth = 5000
    tree = parse("(" * depth + "a()" + ")" * depth)
    assert tree == A
    tree = parse("!(" * depth + "a()" + ")" * depth)
    assert to_source(tree) == "!" * depth + "a()"
    assert same_shape(parse(to_source(tree)), tree)
    assert syntax_error("(" * depth + "a()" + ")" * (depth - 1)) == f"1:{2 * depth + 3} syntax error"


def test_long_chains_are_loops_not_recursion() -> None:
    text = " || ".join(f"f{i}()" for i in range(5000))
    tree = parse(text)
    assert same_shape(tree, parse(to_source(tree)))
    assert to_source(tree).startswith("(" * 4999 + "f0() || f1())")


# -- spans ------------------------------------------------------------------------------------


def test_spans_are_bfe_positions() -> None:
    tree = parse('a() &&\n  !req_host_in("é", true)')
    assert isinstance(tree, Binary)
    assert tree.span == Span(0, 33, 1, 1)
    negation = tree.right
    assert isinstance(negation, Not)
    assert negation.span == Span(9, 33, 2, 3)
    host = negation.operand
    assert isinstance(host, Call)
    assert host.span == Span(10, 33, 2, 4)
    assert host.args[0].span == Span(22, 26, 2, 16)  # columns count bytes: é is two


def test_spans_take_no_part_in_equality() -> None:
    assert parse("a()||b()") == parse("  a()\n||\n b() // same")
    assert same_shape(parse("a() && b()"), parse("(a())&&(b())"))
    assert not same_shape(parse("a() && b()"), parse("a() || b()"))
    assert not same_shape(parse('a("x")'), parse("a(`x`)"))  # the quoting is part of the literal


# -- printer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("a() && (b() || c())", "(a() && (b() || c()))"),
        ("a() && b() || c()", "(a() && (b() || c()))"),
        ("!a() && !(b() || c())", "(!a() && !(b() || c()))"),
        ("x", "x"),
        ('f("a\\.b", `c\\d`, true, false, 7)', 'f("a\\.b", `c\\d`, true, false, 7)'),
        ('f("say \\"hi\\"")', 'f("say \\"hi\\"")'),
        ("f(0x1F)", "f(31)"),
        ("f(`two\nlines`)", "f(`two\nlines`)"),
        ('a-b("x",false)  ||  !c', '(a-b("x", false) || !c)'),
    ],
)
def test_to_source_makes_the_grouping_explicit(text: str, printed: str) -> None:
    assert to_source(parse(text)) == printed
    assert parse(printed) == parse(text)


# -- every valid BFE vector parses ------------------------------------------------------------


def vector_conditions() -> list[str]:
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))
    return [case["cond"] for case in cases if not case.get("expect_error")]


@pytest.mark.parametrize("text", vector_conditions())
def test_every_valid_vector_parses_and_round_trips(text: str) -> None:
    tree = parse(text)
    assert same_shape(parse(to_source(tree)), tree)


# -- properties -------------------------------------------------------------------------------

NAMES = st.from_regex(r"[a-zA-Z_-][a-zA-Z0-9_-]{0,8}", fullmatch=True).filter(
    lambda name: name not in KEYWORDS and name not in ("true", "false")
)
ESCAPES = st.sampled_from(["\\n", "\\\\", '\\"', "\\.", "\\x41", "\\101", "\\u00e9", "\\U0001F600"])
PLAIN = st.text(st.characters(exclude_categories=["Cs", "Cc"], exclude_characters='"\\\ufeff'), max_size=5)
STRING_BODY = st.lists(st.one_of(PLAIN, ESCAPES), max_size=4).map("".join)
RAW_BODY = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="`\r\x00\ufeff"), max_size=8)
LITERALS = st.one_of(
    STRING_BODY.map(string),
    RAW_BODY.map(lambda body: string(body, "`")),
    st.booleans().map(boolean),
    st.integers(min_value=0, max_value=10**12).map(lambda n: Literal("INT", n, NOWHERE)),
)
LEAVES = st.one_of(
    st.builds(lambda name, args: Call(name, tuple(args), NOWHERE), NAMES, st.lists(LITERALS, max_size=3)),
    NAMES.map(lambda name: Ident(name, NOWHERE)),
)
TREES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        inner.map(lambda operand: Not(operand, NOWHERE)),
        st.builds(both, st.sampled_from(["&&", "||"]), inner, inner),
    ),
    max_leaves=12,
)


@settings(deadline=None)
@given(TREES)
def test_printed_trees_parse_back_to_the_same_shape(tree: Node) -> None:
    assert same_shape(parse(to_source(tree)), tree)


@settings(deadline=None)
@given(st.binary(max_size=40))
def test_random_bytes_raise_only_condition_errors(data: bytes) -> None:
    with contextlib.suppress(ConditionError):
        check(parse(data))


TOKEN_ALPHABET = st.sampled_from(
    [
        "a", "b()", "f(", "x-y", "default_t()", "req_host_in(", "req_path_in(",
        "é", "default", "TRUE", "true", "1", "017", "0x", "09", "1.5", "2i",
        '"s"', '"\\d"', '"\\x4"', '"', "`r`", "`", "(", ")", ",", "!", "&&", "||", "&", "|", ";", "/",
        "//c\n", "'", " ", "\n", "\t", "\x00", "\ufeff", "\ud800", "\u00a0",
    ]
)  # fmt: skip


@settings(deadline=None)
@given(st.lists(TOKEN_ALPHABET, max_size=16).map("".join))
def test_random_token_soup_raises_only_condition_errors(text: str) -> None:
    try:
        tree = parse(text)
    except ConditionError:
        return
    assert same_shape(parse(to_source(tree)), tree)
    with contextlib.suppress(ConditionError):
        check(tree, text)
