"""mod_block.conf read as gcfg reads it: names in any case, defaults with warnings, paths, bools, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.errors import BlockConfError
from stockade.rules.bfe_conf import ModuleConf, go_path_join, load_module_conf, parse_module_conf

ROOT = "/usr/local/bfe/conf"


def conf(text: str | bytes, root: str = ROOT) -> ModuleConf:
    return parse_module_conf(text, conf_root=root, file="mod_block.conf")


def issues(text: str | bytes) -> list[str]:
    with pytest.raises(BlockConfError) as caught:
        conf(text)
    return str(caught.value).splitlines()


def test_bfes_own_test_file() -> None:
    # conf_mod_block_test.go, bfe_1.conf: absolute paths and OpenDebug=true.
    settings = conf(
        "[basic]\nProductRulePath = /home/bfe/conf/mod_block/block_rules.data\n"
        "IPBlocklistPath = /home/bfe/conf/mod_block/ip_blocklist.data\n\n[log]\nOpenDebug = true\n"
    )
    assert settings.product_rule_path == "/home/bfe/conf/mod_block/block_rules.data"
    assert settings.ip_blocklist_path == "/home/bfe/conf/mod_block/ip_blocklist.data"
    assert settings.open_debug is True
    assert settings.warnings == ()


def test_only_basic_takes_both_defaults_with_warnings() -> None:
    settings = conf("[basic]\n")
    assert settings.product_rule_path == f"{ROOT}/mod_block/block_rules.data"
    assert settings.ip_blocklist_path == f"{ROOT}/mod_block/ip_blocklist.data"
    assert settings.open_debug is False
    assert settings.warnings == (
        "ModBlock.ProductRulePath not set, use default value",
        "ModBlock.IPBlocklistPath not set, use default value",
    )


def test_an_empty_value_takes_the_default_too() -> None:
    settings = conf('[Basic]\nProductRulePath =\nIPBlocklistPath = ""\n')
    assert settings.product_rule_path.endswith("mod_block/block_rules.data")
    assert len(settings.warnings) == 2


def test_section_and_variable_names_in_any_case() -> None:
    settings = conf("[BASIC]\nproductrulepath = a.data\nIPBLOCKLISTPATH = b.data\n[LoG]\nopendebug = YES\n")
    assert settings.product_rule_path == f"{ROOT}/a.data"
    assert settings.ip_blocklist_path == f"{ROOT}/b.data"
    assert settings.open_debug is True


def test_relative_paths_are_joined_and_cleaned_like_go() -> None:
    settings = conf("[Basic]\nProductRulePath = ./mod_block//x/../rules.data\nIPBlocklistPath = /abs/./kept//as/is\n")
    assert settings.product_rule_path == f"{ROOT}/mod_block/rules.data"
    assert settings.ip_blocklist_path == "/abs/./kept//as/is"
    assert conf("[Basic]\nProductRulePath = ../../up.data\n", root="conf").product_rule_path == "../up.data"


def test_go_path_join() -> None:
    assert go_path_join("a", "b") == "a/b"
    assert go_path_join("", "b") == "b"
    assert go_path_join("", "") == ""
    assert go_path_join("/", "..", "x") == "/x"
    assert go_path_join("a/", "./b/", "c/..") == "a/b"
    assert go_path_join("a", "../..") == ".."
    assert go_path_join("a", "..") == "."
    assert go_path_join("//a", "b") == "/a/b"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("On", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("OFF", False),
        ("0", False),
    ],
)
def test_bool_forms(value: str, expected: bool) -> None:
    assert conf(f"[Log]\nOpenDebug = {value}\n").open_debug is expected


def test_a_bool_alone_on_its_line_is_true() -> None:
    assert conf("[Log]\nOpenDebug\n").open_debug is True
    assert conf("[Log]\nOpenDebug ; a comment\n").open_debug is True


def test_comments_quotes_escapes_and_continuations() -> None:
    text = (
        "; leading comment\n# another\n[Basic] # after a header\n"
        'ProductRulePath = "with ; and # kept" ; a comment\n'
        'IPBlocklistPath = a\\\n  b"\\tc\\"d"   \n'
    )
    settings = conf(text, root="/r")
    assert settings.product_rule_path == "/r/with ; and # kept"
    assert settings.ip_blocklist_path == '/r/a  b\tc"d'


def test_crlf_and_a_byte_order_mark() -> None:
    settings = conf(b"\xef\xbb\xbf[Basic]\r\nProductRulePath = x.data\r\n")
    assert settings.product_rule_path == f"{ROOT}/x.data"


def test_the_last_assignment_wins() -> None:
    assert conf("[Basic]\nProductRulePath = a\nProductRulePath = b\n").product_rule_path == f"{ROOT}/b"


def test_unknown_sections_and_variables_are_errors() -> None:
    assert issues("[Basic]\nFoo = 1\n[Other]\nx = 1\n[Log]\nOpenDebug = maybe\n") == [
        'mod_block.conf:2:1: can\'t store data at section "Basic", variable "Foo"',
        'mod_block.conf:3:1: can\'t store data at section "Other"',
        "mod_block.conf:6:1: failed to parse 'maybe' as bool for OpenDebug",
    ]


def test_the_old_blacklist_name_is_unknown() -> None:
    assert issues("[Basic]\nIPBlacklistPath = x\n") == [
        'mod_block.conf:2:1: can\'t store data at section "Basic", variable "IPBlacklistPath"'
    ]


def test_a_subsection_is_an_error() -> None:
    assert issues('[Basic "x"]\nProductRulePath = a\n') == [
        'mod_block.conf:1:1: can\'t store data at section "Basic", subsection "x"'
    ]


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        ("ProductRulePath = a\n", "mod_block.conf:1:1: expected section header"),
        ("[Basic\n", "mod_block.conf:1:7: expected right bracket"),
        ("[]\n", "mod_block.conf:1:2: expected section name"),
        ("[Basic] x\n", "mod_block.conf:1:9: expected EOL, EOF, or comment"),
        ("[Basic]\nProductRulePath a\n", "mod_block.conf:2:17: expected '='"),
        ("[Basic]\n= a\n", "mod_block.conf:2:1: expected section header or variable declaration"),
        ('[Basic]\nProductRulePath = "open\n', "mod_block.conf:2:19: string not terminated"),
        ('[Basic]\nProductRulePath = "\\q"\n', "mod_block.conf:2:21: unknown escape sequence"),
        ("[Basic]\nProductRulePath = a \\ b\n", "mod_block.conf:2:19: unquoted '\\' must be followed by new line"),
        (
            "[Basic]\nProductRulePath\n",
            "mod_block.conf:2:1: blank value not supported for type string (ProductRulePath needs '= <path>')",
        ),
        ("[Basic]\x00\n", "mod_block.conf:1:0: illegal character NUL"),
    ],
)
def test_syntax_errors(text: str, issue: str) -> None:
    assert issues(text)[0] == issue


def test_bad_utf8_is_an_error() -> None:
    assert issues(b"[Basic]\nProductRulePath = \xff\n") == ["mod_block.conf:2:0: illegal UTF-8 encoding"]


def test_load_finds_the_conf_root_above_the_files_folder(tmp_path: Path) -> None:
    folder = tmp_path / "conf" / "mod_block"
    folder.mkdir(parents=True)
    (folder / "mod_block.conf").write_text("[Basic]\n")
    settings = load_module_conf(str(folder / "mod_block.conf"))
    assert settings.product_rule_path == f"{tmp_path}/conf/mod_block/block_rules.data"
    assert load_module_conf(str(folder / "mod_block.conf"), "/elsewhere").ip_blocklist_path == (
        "/elsewhere/mod_block/ip_blocklist.data"
    )


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BlockConfError) as caught:
        load_module_conf(str(tmp_path / "nope.conf"))
    assert str(caught.value) == f"{tmp_path}/nope.conf: open {tmp_path}/nope.conf: no such file or directory"
