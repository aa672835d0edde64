"""The gate: a request whose values hold no anchor skips the rules, and the gate never hides a
value a rule fires on, whatever its encoding."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.detection import Engine, Request, parse_pack
from stockade.errors import ConfigError
from stockade.oracle.detection.engine import Engine as OracleEngine
from stockade.oracle.detection.gate import Anchors, compile_gate

ENGINE = Engine()
OPEN = Engine()
OPEN.gated = False


def test_anchors_sort_into_characters_sequences_and_words() -> None:
    found = Anchors.of(["<", "union", "rO0AB", "..", "SESS_", "java"])
    assert found.chars == frozenset({"<"})
    assert set(found.words) == {"union", "java"}
    assert set(found.sequences) == {"ro0ab", "..", "sess_"}


def test_words_need_no_letter_around_them_and_sequences_match_encoded() -> None:
    gate = compile_gate(Anchors.of(["or", "://", "<"]), "&=+", separator="&")
    assert gate.find(b"q=information") < 0
    assert gate.find(b"q=1+or+2") >= 0
    assert gate.find(b"url=https%3A%2F%2Fexample.com") >= 0
    assert gate.find(b"when=10%3A30") < 0  # ":" alone is no anchor
    assert gate.find(b"q=%3Cb") >= 0
    assert gate.find(b"q=%253Cb") >= 0  # double encoding
    assert gate.find(b"q=%75nion") >= 0  # an encoded letter: only evasion does that
    assert gate.find(b"email=jo%40example.org&q=caf%C3%A9") < 0
    assert gate.find(b"a=1=1") < 0  # "=" is no anchor of this gate
    assert compile_gate(Anchors.of(["="]), "&=+", separator="&").find(b"a=1=1") >= 0


def test_a_clean_request_is_not_parsed() -> None:
    clean = Request(path="/shop/search", raw_path="/shop/search", query="q=hiking+boots&size=42&page=2&sort=price")
    tables = OracleEngine()._tables()
    assert tables.gates is not None
    assert tables.gates.query.find(clean.query.encode()) < 0
    assert not ENGINE.inspect(clean).hits


def test_a_rule_without_anchors_turns_the_gate_off() -> None:
    pack = parse_pack('[[rule]]\nid = "mine"\ntargets = ["args"]\npattern = "hello"\n', "mine.toml")
    engine = Engine(pack=pack)
    assert OracleEngine(pack=pack)._tables().gates is None
    assert engine.inspect(Request(path="/", raw_path="/", query="q=hello")).malicious


def test_a_sequence_holding_a_structural_character_still_opens_the_gate() -> None:
    gate = compile_gate(Anchors.of(["=php"]), "&=+", separator="&")
    assert gate.find(b"a=x=php") >= 0
    assert gate.find(b"a=x%3Dphp") >= 0
    pack = parse_pack('[[rule]]\nid = "mine"\ntargets = ["args"]\npattern = "=php"\nanchors = ["=php"]\n', "mine.toml")
    engine = Engine(pack=pack)
    assert OracleEngine(pack=engine.rules)._tables().gates is not None
    assert engine.inspect(Request(path="/", raw_path="/", query="a=x=php")).malicious
    assert engine.inspect(Request(path="/", raw_path="/", query="a=x%3Dphp")).malicious
    assert engine.inspect(Request(path="/", raw_path="/", query="a=php")).malicious  # args reads name=value whole
    assert not engine.inspect(Request(path="/", raw_path="/", query="a=perl")).malicious


def test_anchor_sets_are_named_and_checked() -> None:
    pack = parse_pack('[[rule]]\nid = "mine"\ntargets = ["args"]\npattern = "<x"\nanchors = ["set:xss"]\n', "mine.toml")
    assert "javascript" in pack[0].anchors
    with pytest.raises(ConfigError, match="unknown anchor set"):
        parse_pack('[[rule]]\nid = "mine"\ntargets = ["args"]\npattern = "x"\nanchors = ["set:nope"]\n', "mine.toml")
    with pytest.raises(ConfigError, match="without spaces"):
        parse_pack('[[rule]]\nid = "mine"\ntargets = ["args"]\npattern = "x"\nanchors = ["a b"]\n', "mine.toml")


PIECES = [
    "'",
    '"',
    "<",
    ">",
    "(",
    ")",
    ";",
    "|",
    "&",
    "$",
    "{",
    "}",
    "`",
    "\\",
    "..",
    "/",
    "=",
    "%",
    "#",
    "--",
    "/*",
    " or ",
    " union select ",
    "1=1",
    "etc/passwd",
    "${jndi:",
    "<script>",
    "onerror=",
    "javascript:",
    "whoami",
    "sleep(5)",
    "../",
    "%2e%2e/",
    "\n",
    "\x00",
    "169.254.169.254",
    "localhost",
    "http://",
    "cat ",
    "{{7*7}}",
    "<!ENTITY",
    "__proto__[x]",
    "java.lang.Runtime",
    "rO0AB",
    "php://filter",
    "a",
    "b",
    "1",
    " ",
    "é",
    "東",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), st.sampled_from(["query", "form", "json", "cookie"]))
def test_the_gate_agrees_with_reading_everything(pieces: list[str], place: str) -> None:
    value = "".join(pieces)
    encoded = quote(value, safe="/:")
    if place == "query":
        request = Request(path="/p", raw_path="/p", query=f"a=1&q={encoded}")
    elif place == "form":
        request = Request(
            method="POST",
            path="/p",
            raw_path="/p",
            headers=(("Content-Type", "application/x-www-form-urlencoded"),),
            content_type="application/x-www-form-urlencoded",
            body=f"q={encoded}&b=2".encode(),
        )
    elif place == "json":
        import json  # noqa: PLC0415

        body = json.dumps({"q": value, "n": 1}).encode()
        request = Request(
            method="POST",
            path="/p",
            raw_path="/p",
            headers=(("Content-Type", "application/json"),),
            content_type="application/json",
            body=body,
        )
    else:
        request = Request(path="/p", raw_path="/p", headers=(("Cookie", f"sid=1; q={encoded}"),))
    gated = {hit.rule.id for hit in ENGINE.inspect(request).hits}
    everything = {hit.rule.id for hit in OPEN.inspect(request).hits}
    assert gated == everything
