"""BFE's block_rules.data: decoding as Go does, every validation message, condition errors with their caret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.errors import RuleFileError
from stockade.rules.rule_file import load_rule_file, parse_rule_file

CLOSE = {"Cmd": "CLOSE", "Params": []}
PN0 = "Config:ProductRules:pn, blockRule:0, "
INTO = "json: cannot unmarshal "


def rule(name: object = "r", cond: object = "default_t()", action: object = CLOSE) -> dict[str, object]:
    return {"Name": name, "Cond": cond, "Action": action}


def doc(config: object, version: object = "1") -> str:
    return json.dumps({"Version": version, "Config": config})


def error_of(text: str | bytes) -> RuleFileError:
    with pytest.raises(RuleFileError) as caught:
        parse_rule_file(text, file="rules.data")
    return caught.value


def test_a_valid_file() -> None:
    rules = parse_rule_file(
        doc({"global": [rule("g", action={"Cmd": "ALLOW", "Params": []})], "pn": [rule()], "pt": []})
    )
    assert rules.version == "1"
    assert list(rules.products) == ["global", "pn", "pt"]
    assert [(r.name, r.command) for r in rules.products["global"].rules] == [("g", "ALLOW")]
    assert rules.products["pt"].rules == ()
    assert len(rules) == 2


def test_an_empty_config_is_valid() -> None:
    assert parse_rule_file('{"Version": "", "Config": {}}').products == {}


def test_keys_match_in_any_ascii_case_and_unknown_keys_are_ignored() -> None:
    text = (
        '{"vErSiOn": "7", "CONFIG": {"pn": [{"COND": "default_t()", "name": "a", '
        '"AcTiOn": {"cmd": "CLOSE", "PARAMS": []}, "extra": [1, {"x": null}]}]}, "other": 1}'
    )
    rules = parse_rule_file(text)
    assert rules.version == "7"
    assert rules.products["pn"].rules[0].name == "a"


def test_a_key_that_is_not_ascii_matches_no_field() -> None:
    assert error_of('{"Version": "1", "Conf\u0131g": {}}').bfe_message == "no Config"


def test_product_names_are_exact() -> None:
    rules = parse_rule_file(doc({"PN": [rule()], "pn": []}))
    assert list(rules.products) == ["PN", "pn"]


def test_a_later_key_wins_null_included() -> None:
    assert error_of('{"Version": "1", "version": null, "Config": {}}').bfe_message == "no Version"
    rules = parse_rule_file('{"Version": "1", "Config": {"pn": null, "pn": []}}')
    assert rules.products["pn"].rules == ()
    text = (
        '{"Version": "1", "Config": {"pn": [{"cond": "x(", "Cond": "default_t()", "name": "r", '
        '"action": {"cmd": "CLOSE", "params": []}}]}}'
    )
    assert parse_rule_file(text).products["pn"].rules[0].condition.text == "default_t()"


def test_only_the_first_json_value_is_read() -> None:
    rules = parse_rule_file(doc({"pn": []}) + "\n} trailing garbage {[")
    assert list(rules.products) == ["pn"]
    assert parse_rule_file(' \r\n\t{"Version": "1", "Config": {}}{"Version": 2}').version == "1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "EOF"),
        ("  \n\t ", "EOF"),
        ("invalid product rule content", "invalid JSON: Expecting value (line 1, column 1)"),
        (
            '{"Version": "1", "Config": {},}',
            "invalid JSON: Expecting property name enclosed in double quotes (line 1, column 31)",
        ),
        ('{"Version": NaN}', "invalid JSON: invalid character 'N' looking for beginning of value"),
        ("\ufeff{}", "invalid JSON: Expecting value (line 1, column 1)"),
        ('{"Version": "1"', "invalid JSON: Expecting ',' delimiter (line 1, column 16)"),
    ],
)
def test_malformed_json(text: str, message: str) -> None:
    assert error_of(text).bfe_message == message


@pytest.mark.parametrize("text", ["", "  \n\t "])
def test_an_empty_file_says_it_is_empty_and_what_it_should_hold(text: str) -> None:
    error = error_of(text)
    assert error.bfe_message == "EOF"  # BFE's word, for the reload API
    assert str(error) == (
        "rules.data: the file is empty (BFE: EOF): expected a JSON object with the rules of each product, like"
        ' {"Version": "1", "Config": {"global": []}}'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], INTO + "array into the top level of type productRuleConfFile"),
        ('"x"', INTO + "string into the top level of type productRuleConfFile"),
        ({"Version": 1234, "Config": {}}, INTO + "number into Version of type string"),
        ({"Version": "1", "Config": []}, INTO + "array into Config of type ProductRulesFile"),
        (
            {"Version": "1", "Config": {"pn": {}}},
            INTO + "object into Config['pn'] of type blockRuleFileList",
        ),
        (
            {"Version": "1", "Config": {"pn": ["r"]}},
            INTO + "string into Config['pn'][0] of type blockRuleFile",
        ),
        (
            {"Version": "1", "Config": {"pn": [rule(cond=1)]}},
            INTO + "number into Config['pn'][0].Cond of type string",
        ),
        (
            {"Version": "1", "Config": {"pn": [rule(name=True)]}},
            INTO + "bool into Config['pn'][0].Name of type string",
        ),
        (
            {"Version": "1", "Config": {"pn": [rule(action=[])]}},
            INTO + "array into Config['pn'][0].Action of type ActionFile",
        ),
        (
            {"Version": "1", "Config": {"pn": [rule(action={"Cmd": 1, "Params": []})]}},
            INTO + "number into Config['pn'][0].Action.Cmd of type string",
        ),
        (
            {"Version": "1", "Config": {"pn": [rule(action={"Cmd": "CLOSE", "Params": {}})]}},
            INTO + "object into Config['pn'][0].Action.Params of type []string",
        ),
        (
            {"Version": "1", "Config": {"pn": [rule(action={"Cmd": "CLOSE", "Params": [1]})]}},
            INTO + "number into Config['pn'][0].Action.Params[0] of type string",
        ),
    ],
)
def test_a_wrong_json_type_is_a_decode_error(value: object, message: str) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    assert error_of(text).bfe_message == message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"pn": None}, "Config:no blockRuleList for product:pn"),
        ({"pn": [{"Name": "r", "Action": CLOSE}]}, PN0 + "no Cond"),
        ({"pn": [rule(cond=None)]}, PN0 + "no Cond"),
        ({"pn": [None]}, PN0 + "no Cond"),
        ({"pn": [rule(), rule(name=None)]}, "Config:ProductRules:pn, blockRule:1, no Name"),
        ({"pn": [rule(action=None)]}, PN0 + "no Action"),
        ({"pn": [rule(action={"Params": []})]}, PN0 + "Action:no Cmd"),
        (
            {"pn": [rule(action={"Cmd": "close", "Params": []})]},
            PN0 + "Action:invalid cmd:close",
        ),
        ({"pn": [rule(action={"Cmd": "", "Params": []})]}, PN0 + "Action:invalid cmd:"),
        ({"pn": [rule(action={"Cmd": "CLOSE"})]}, PN0 + "Action:no Params"),
        (
            {"pn": [rule(action={"Cmd": "ALLOW", "Params": None})]},
            PN0 + "Action:no Params",
        ),
        (
            {"pn": [rule(action={"Cmd": "CLOSE", "Params": ["a", None]})]},
            PN0 + "Action:num of params:[ok:0, now:2]",
        ),
        ({"g": [rule("x"), rule("y"), rule("x")]}, "Config:ProductRules:g, blockRule:2, two rules have same name[x]!"),
        ({"g": [rule(""), rule("")]}, "Config:ProductRules:g, blockRule:1, two rules have same name[]!"),
    ],
)
def test_every_validation_message(config: object, message: str) -> None:
    error = error_of(doc(config))
    assert error.bfe_message == message
    assert str(error) == f"rules.data:{error.line}:{error.column}: {message}"
    assert error.problems() == [str(error)]


def test_version_and_config_are_checked_first() -> None:
    assert error_of('{"Config": {"pn": [null]}}').bfe_message == "no Version"
    assert error_of('{"Version": null, "Config": null}').bfe_message == "no Version"
    assert error_of('{"Version": "1"}').bfe_message == "no Config"
    assert error_of("null").bfe_message == "no Version"


def test_a_rules_own_problem_comes_before_a_duplicate_name() -> None:
    message = error_of(doc({"pn": [rule("x"), rule("x", action=None)]})).bfe_message
    assert message == "Config:ProductRules:pn, blockRule:1, no Action"


def test_the_same_name_in_two_products_and_an_empty_name_are_fine() -> None:
    rules = parse_rule_file(doc({"a": [rule("x"), rule("")], "b": [rule("x")]}))
    assert [r.name for r in rules.products["a"].rules] == ["x", ""]


def test_every_product_is_checked_before_any_condition_compiles() -> None:
    message = error_of(doc({"a": [rule(cond="oops(")], "b": [rule(action=None)]})).bfe_message
    assert message == "Config:ProductRules:b, blockRule:0, no Action"


def test_a_condition_error_is_bfes_text_with_the_product_rule_and_caret() -> None:
    error = error_of(doc({"pn": [rule("ok"), rule("bad", cond='req_host_in("a") &&\n  req_pth_in("/x", false)')]}))
    assert error.bfe_message == "2:3 primitive req_pth_in not found"
    assert (error.product, error.rule, error.name) == ("pn", 1, "bad")
    assert str(error) == (
        "rules.data: product 'pn', rule 1 (name 'bad'): condition: 2:3 primitive req_pth_in not found\n"
        '  req_pth_in("/x", false)\n'
        "  ^\n"
        "hint: did you mean 'req_path_in'?"
    )


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        ("", "1:1 syntax error"),
        ('req_path_in("/a", "false")', "1:1 primitive req_path_in arg 1 expect BOOL, got STRING"),
        ('req_cip_range("10.0.0.9", "10.0.0.1")', "startIP[10.0.0.9] must <= endIP[10.0.0.1]"),
        ('REQ_HOST_IN("a")', "1:1 primitive REQ_HOST_IN not found"),
    ],
)
def test_condition_errors_are_reported_unwrapped(cond: str, message: str) -> None:
    assert error_of(doc({"pn": [rule(cond=cond)]})).bfe_message == message


def test_a_lone_surrogate_escape_becomes_the_replacement_character() -> None:
    rules = parse_rule_file('{"Version": "\\ud800", "Config": {"p\\udc00": []}}')
    assert rules.version == "\ufffd"
    assert list(rules.products) == ["p\ufffd"]


def test_bytes_that_are_not_utf8_become_the_replacement_character() -> None:
    rules = parse_rule_file(b'{"Version": "v\xff", "Config": {}}')
    assert rules.version == "v\ufffd"


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "block_rules.data"
    path.write_text(doc({"pn": [rule()]}))
    assert list(load_rule_file(str(path)).products) == ["pn"]
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(str(tmp_path / "missing.data"))
    assert caught.value.bfe_message == f"open {tmp_path / 'missing.data'}: no such file or directory"


def test_a_json_error_names_its_line(tmp_path: Path) -> None:
    error = error_of('{\n  "Version": "1",\n  "Config": {\n    "pn": [\n      {"Action": {}},\n    ]\n  }\n}')
    assert (error.line, error.column) == (6, 5)
    assert str(error).startswith("rules.data:6:5: invalid JSON: ")


def test_a_rule_error_names_the_rules_place_in_the_file() -> None:
    text = (
        '{"Version": "1",\n "Config": {\n  "pn": [\n'
        '   {"Name": "a", "Action": {"Cmd": "CLOSE", "Params": []}}\n  ],\n  "pt": null}}'
    )
    error = error_of(text)
    assert (error.line, error.column) == (4, 4)
    assert error.problems() == ["rules.data:4:4: Config:ProductRules:pn, blockRule:0, no Cond"]
    error = error_of(text.replace('"Name": "a", ', '"Name": "a", "Cond": "default_t()", '))
    assert error.problems() == ["rules.data:6:9: Config:no blockRuleList for product:pt"]


def test_a_condition_error_names_its_place_in_the_file_not_in_the_condition() -> None:
    # JSON escapes and non-ASCII characters before the mistake: the column counts the file's
    # characters, whatever the condition decodes to.
    text = (
        '{"Version": "1", "Config": {"pn": [\n'
        '  {"Name": "ok", "Cond": "default_t()", "Action": {"Cmd": "CLOSE", "Params": []}},\n'
        '  {"Name": "b\u00e9", "Cond": "req_host_in(\\"\\u00e9\u00e9\\") &&\\n  req_pth_in(\\"/x\\", false)",'
        ' "Action": {"Cmd": "CLOSE", "Params": []}}]}}'
    )
    error = error_of(text)
    assert error.bfe_message == "2:3 primitive req_pth_in not found"
    assert (error.line, error.column) == (3, 58)
    assert text.splitlines()[2][57:].startswith("req_pth_in")
    assert error.problems() == [
        "rules.data:3:58: product 'pn', rule 1 (name 'b\u00e9'): primitive req_pth_in not found"
        " (hint: did you mean 'req_path_in'?)"
    ]


def test_a_condition_in_duplicate_keys_is_found_where_go_reads_it() -> None:
    # Go keeps the last "Cond" (in any case) and the last of two products of one name.
    text = (
        '{"Version": "1", "Config": {"pn": [], "pn": [{"cond": "default_t()", "Name": "x",'
        ' "COND": "x() || oops()", "Action": {"Cmd": "CLOSE", "Params": []}}]}}'
    )
    error = error_of(text)
    assert error.line == 1
    assert text[(error.column or 0) - 1 :].startswith('x() || oops()", "Action"')
