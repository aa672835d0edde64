"""The scanner of the condition language: BFE's lexical rules and error texts (bfe.md §1.1)."""

from __future__ import annotations

import pytest

from stockade.conditions.errors import ConditionError, ConditionKeywordError, ConditionLexerError
from stockade.conditions.lexer import KEYWORDS, Tok, Token, tokenize
from stockade.conditions.parser import parse


def kinds(text: str | bytes) -> list[Tok]:
    return [token.kind for token in tokenize(text)]


def texts(text: str | bytes) -> list[str]:
    return [token.text for token in tokenize(text)][:-1]


def error_of(text: str | bytes) -> ConditionError:
    """The error parse() raises for ``text`` (the parser drives the scanner)."""
    with pytest.raises(ConditionError) as caught:
        parse(text)
    return caught.value


def lexer_error(text: str | bytes) -> str:
    error = error_of(text)
    assert isinstance(error, ConditionLexerError), error.bfe_message
    return error.bfe_message


def test_token_numbers_are_goyaccs() -> None:
    """BFE prints these numbers in "unrecognized token N"; goyacc numbers cond.y's %token list from 57346."""
    assert [int(kind) for kind in Tok][1:] == list(range(57346, 57362))
    assert (Tok.FLOAT, Tok.IMAG, Tok.ILLEGAL) == (57358, 57359, 57361)


# -- whitespace and comments ------------------------------------------------------------------


def test_whitespace_and_newlines_separate_tokens_anywhere() -> None:
    assert kinds(" \ta()\r\n&&\n\n  b ( ) ") == [
        Tok.IDENT,
        Tok.LPAREN,
        Tok.RPAREN,
        Tok.LAND,
        Tok.IDENT,
        Tok.LPAREN,
        Tok.RPAREN,
        Tok.EOF,
    ]


def test_line_comments_are_skipped() -> None:
    assert texts("a() // the first\n&& b() // last, no newline") == ["a", "(", ")", "&&", "b", "(", ")"]
    assert texts("// only a comment") == []


def test_a_single_slash_is_illegal() -> None:
    assert kinds("a / b")[1] is Tok.ILLEGAL
    assert lexer_error("a() / b()") == "1:5 unrecognized token 57361"


# -- identifiers, keywords, booleans ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("a-b", "a-b"),
        ("-x", "-x"),
        ("_private", "_private"),
        ("req_host_in", "req_host_in"),
        ("a1-2", "a1-2"),
        ("héllo", "héllo"),
        ("日本", "日本"),
        ("x٣", "x٣"),  # a Unicode digit continues a name
    ],
)
def test_identifiers(text: str, name: str) -> None:
    tokens = tokenize(text)
    assert [(t.kind, t.text) for t in tokens] == [(Tok.IDENT, name), (Tok.EOF, "")]


def test_a_name_stops_at_a_non_letter() -> None:
    assert texts("a.b") == ["a", ".", "b"]
    assert kinds("a.b")[1] is Tok.ILLEGAL


@pytest.mark.parametrize("keyword", sorted(KEYWORDS))
def test_go_keywords_are_rejected_where_the_name_ends(keyword: str) -> None:
    error = error_of(f"{keyword}()")
    assert isinstance(error, ConditionKeywordError)
    assert error.kind == "keyword"
    assert error.bfe_message == f"1:{len(keyword) + 1} keyword can't be used"


def test_there_are_25_keywords_and_longer_names_are_fine() -> None:
    assert len(KEYWORDS) == 25
    assert texts("default_t defaults gopher if-x") == ["default_t", "defaults", "gopher", "if-x"]


def test_keyword_error_in_the_middle() -> None:
    assert error_of("a() && func").bfe_message == "1:12 keyword can't be used"


def test_only_lowercase_true_and_false_are_bools() -> None:
    assert [(t.kind, t.text) for t in tokenize("true false")][:2] == [(Tok.BOOL, "true"), (Tok.BOOL, "false")]
    assert kinds("TRUE True FALSE")[:3] == [Tok.IDENT, Tok.IDENT, Tok.IDENT]


# -- strings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        r"\a\b\f\n\r\t\v",
        r"\.",
        r"\\",
        r"\"",
        r"\101\000\377",
        r"\x41\xfF",
        r"\u00e9\uFFFF",
        r"\U0001F600\U0010FFFF",
        "plain é 日本",
        "",
    ],
)
def test_string_escapes_are_validated_not_decoded(body: str) -> None:
    token = tokenize(f'"{body}"')[0]
    assert (token.kind, token.text, token.quote) == (Tok.STRING, body, '"')


def test_string_value_keeps_backslashes() -> None:
    assert tokenize(r'"/a\.b"')[0].text == "/a\\.b"
    assert len(tokenize(r'"a\\b"')[0].text) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (r'x("\d")', "1:5 unknown escape sequence"),
        (r'req_path_regmatch("\d")', "1:21 unknown escape sequence"),
        (r"x('\'')", "1:3 unrecognized token 57361"),
        (r'x("\x4")', "1:7 illegal character U+0022 '\"' in escape sequence"),
        (r'x("\xg0")', "1:6 illegal character U+0067 'g' in escape sequence"),
        ('x("\\x4\n")', "1:7 illegal character U+000A in escape sequence"),
        (r'x("\400")', "1:5 escape sequence is invalid Unicode code point"),
        (r'x("\uD800")', "1:5 escape sequence is invalid Unicode code point"),
        (r'x("\U00110000")', "1:5 escape sequence is invalid Unicode code point"),
        ('x("\\', "1:5 escape sequence not terminated"),
        ('x("\\x', "1:6 escape sequence not terminated"),
        ('x("\\\n")', "1:5 unknown escape sequence"),
        ('req_host_in("a', "1:13 string literal not terminated"),
        ('x("a\nb")', "1:3 string literal not terminated"),
        ("x(`abc", "1:3 raw string literal not terminated"),
    ],
)
def test_string_errors(text: str, message: str) -> None:
    assert lexer_error(text) == message


def test_raw_strings_have_no_escapes_span_lines_and_lose_cr() -> None:
    token = tokenize("`^\\d+\\.x$`")[0]
    assert (token.kind, token.text, token.quote) == (Tok.STRING, "^\\d+\\.x$", "`")
    assert tokenize("`a\r\nb\rc`")[0].text == "a\nbc"
    assert tokenize('`say "hi"`')[0].text == 'say "hi"'


# -- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["123", "0", "017", "0x1F", "0XaB"])
def test_integers_are_int_tokens(text: str) -> None:
    first = tokenize(text)[0]
    assert (first.kind, first.text) == (Tok.INT, text)


def test_a_number_ends_where_digits_end() -> None:
    assert [(t.kind, t.text) for t in tokenize("12ab")][:2] == [(Tok.INT, "12"), (Tok.IDENT, "ab")]


@pytest.mark.parametrize(
    ("literal", "number"),
    [("8.5", 57358), ("1e3", 57358), ("1.", 57358), ("0.5e-2", 57358), ("09.5", 57358), ("2i", 57359), ("0i", 57359)],
)
def test_float_and_imaginary_are_unrecognized(literal: str, number: int) -> None:
    assert lexer_error(f"x({literal})") == f"1:3 unrecognized token {number}"


def test_illegal_hex_and_octal() -> None:
    assert lexer_error("x(0x)") == "1:3 illegal hexadecimal number"
    assert lexer_error("x(09)") == "1:3 illegal octal number"


# -- operators and punctuation ----------------------------------------------------------------


def test_operators() -> None:
    assert kinds("&& || ! ( ) , ;") == [
        Tok.LAND,
        Tok.LOR,
        Tok.NOT,
        Tok.LPAREN,
        Tok.RPAREN,
        Tok.COMMA,
        Tok.SEMICOLON,
        Tok.EOF,
    ]
    assert texts("a&&b||!c") == ["a", "&&", "b", "||", "!", "c"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a() & b()", "1:5 unrecognized token 57361"),
        ("a() | b()", "1:5 unrecognized token 57361"),
        ("a() &", "1:5 unrecognized token 57361"),
        ("req_host_in('a.com')", "1:13 unrecognized token 57361"),
        ("a() == b()", "1:5 unrecognized token 57361"),
        ("a(.5)", "1:3 unrecognized token 57361"),
        ("a() #", "1:5 unrecognized token 57361"),
    ],
)
def test_illegal_characters_are_unrecognized_tokens(text: str, message: str) -> None:
    assert lexer_error(text) == message


# -- encoding ---------------------------------------------------------------------------------


def test_a_byte_order_mark_is_ignored_at_the_start_only() -> None:
    assert texts("\ufeffa()") == ["a", "(", ")"]
    assert tokenize("\ufeffa()")[0].start == 3  # offsets and columns count bytes
    assert lexer_error("a()\ufeff") == "1:4 illegal byte order mark"
    assert lexer_error('a("\ufeff")') == "1:4 illegal byte order mark"


def test_nul_is_an_error_everywhere() -> None:
    assert lexer_error("\x00") == "1:1 illegal character NUL"
    assert lexer_error('a("x\x00y")') == "1:5 illegal character NUL"
    assert lexer_error("a() // \x00") == "1:8 illegal character NUL"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a(\xff)", "1:3 illegal UTF-8 encoding"),
        (b'a("\xc3")', "1:4 illegal UTF-8 encoding"),
        (b'a("\xed\xa0\x80")', "1:4 illegal UTF-8 encoding"),  # an encoded surrogate
        (b'a("\xc0\xaf")', "1:4 illegal UTF-8 encoding"),  # overlong
        (b"a() // \xfe", "1:8 illegal UTF-8 encoding"),
    ],
)
def test_invalid_utf8_is_an_error(data: bytes, message: str) -> None:
    assert lexer_error(data) == message


def test_bytes_and_str_scan_alike() -> None:
    source = 'req_host_in("日本.jp") && !x(`a`)'
    assert tokenize(source.encode()) == tokenize(source)


def test_a_lone_surrogate_in_a_str_is_invalid_utf8() -> None:
    assert lexer_error('a("\ud800")') == "1:4 illegal UTF-8 encoding"


# -- positions --------------------------------------------------------------------------------


def test_positions_count_lines_and_bytes() -> None:
    assert lexer_error("a() &&\n  b() &") == "2:7 unrecognized token 57361"
    assert lexer_error('x("é") &') == "1:9 unrecognized token 57361"  # é is two bytes


def test_a_newline_at_the_very_end_starts_no_line() -> None:
    """Go's token.File ignores a line start at the end of the file, so EOF stays on the last line."""
    error = error_of("a(\n")
    assert error.bfe_message == "1:4 syntax error"
    assert error_of("a(\n\n").bfe_message == "2:2 syntax error"


def test_tokens_record_their_byte_span() -> None:
    token = tokenize('  x("é")')[2]
    assert token == Token(Tok.STRING, "é", 4, 8, '"')


# -- which error wins -------------------------------------------------------------------------


def test_the_scanner_reads_one_character_ahead_like_bfe() -> None:
    """BFE reports the NUL (read while finishing ``b``) before the syntax error at ``b``."""
    assert lexer_error("a b\x00") == "1:4 illegal character NUL"


def test_tokens_after_a_syntax_error_are_never_scanned() -> None:
    assert error_of('a b "\\d"').bfe_message == "1:3 syntax error"
