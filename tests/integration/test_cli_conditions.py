"""``stockade conditions test`` and ``stockade conditions explain``.

Most cases run in-process through click's runner for the exact text; one runs the real
command on the shared BFE vectors in a fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stockade.cli.main import cli
from tests.vectors import condition_vectors

VECTORS = condition_vectors()

CASES = [
    {"cond": 'req_host_in("a.com")', "request": {"host": "a.com"}, "expect": True},
    {"cond": 'req_host_in("a.com")', "request": {"host": "b.com"}, "expect": True},
    {"cond": "a && b", "expect_error": True, "error_kind": "unresolved_variable"},
    {"cond": "req_host_in(", "expect_error": True, "error_kind": "lexer"},
    {"cond": "default_t()", "expect_error": True, "error_kind": "syntax"},
    {"cond": "nope()", "expect": False},
]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_passing_file_prints_only_the_summary(tmp_path: Path) -> None:
    code, out, err = invoke("conditions", "test", str(write(tmp_path, CASES[:1] + CASES[2:3])))
    assert (code, out, err) == (0, "2 passed, 0 failed\n", "")


def test_each_failure_is_one_line_with_its_reason(tmp_path: Path) -> None:
    code, out, _ = invoke("conditions", "test", str(write(tmp_path, CASES)))
    assert code == 1
    assert out.splitlines() == [
        'case 1: "req_host_in(\\"a.com\\")": expected true, got false',
        'case 3: "req_host_in(": expected lexer error, got syntax error: 1:13 syntax error',
        'case 4: "default_t()": expected syntax error, got no error',
        'case 5: "nope()": expected false, got unknown_primitive error: 1:1 primitive nope not found',
        "2 passed, 4 failed",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[", "invalid JSON"),
        ('{"cond": "x"}', "expected a JSON list of cases, got dict"),
        ('[{"cond": 1, "expect": true}]', "case 0: 'cond' must be a string"),
        ('[{"cond": "default_t()"}]', "case 0: a match case needs 'expect': true or false"),
        ('[{"cond": "x", "expect_error": true, "error_kind": "oops"}]', "case 0: 'error_kind' must be one of"),
        ('[{"cond": "x", "expect": true, "request": []}]', "case 0: 'request' must be an object"),
        (
            '[{"cond": "default_t()", "expect": true}, {"cond": "x", "expect": true, "request": {"pth": "/a"}}]',
            "invalid vector file: case 1: unknown request key 'pth': expected one of body, body_base64, client_ip,"
            " context, cookies, headers, host, host_tag, method, path, product, proto, query, remote_ip, response,"
            " secure, session_proto, tags, tls, trusted, uri, vip\n",
        ),
        (
            '[{"cond": "x", "expect": true, "request": {"tls": {"SNI": "a.com"}}}]',
            "case 0: unknown request key 'tls.SNI': expected one of client_auth, client_ca, sni\n",
        ),
        (
            '[{"cond": "x", "expect": true, "request": {"headers": ["Host: a"]}}]',
            "case 0: request key 'headers': expected an object, got an array\n",
        ),
        (
            '[{"cond": "x", "expect": true, "request": {"response": {"code": "404"}}}]',
            "case 0: request key 'response.code': expected an integer, got a string\n",
        ),
        (
            '[{"cond": "x", "expect": true, "request": {"secure": 1}}]',
            "case 0: request key 'secure': expected a bool, got a number\n",
        ),
    ],
)
def test_an_invalid_file_exits_2_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cases.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = invoke("conditions", "test", str(path))
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.splitlines()) == 1


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke("conditions", "test", str(tmp_path / "missing.json"))
    assert code == 2
    assert err.startswith("cannot read ")
    assert len(err.splitlines()) == 1
    (tmp_path / "bad.json").write_bytes(b"\xff[]")
    code, _, err = invoke("conditions", "test", str(tmp_path / "bad.json"))
    assert code == 2
    assert "not UTF-8" in err


def test_time_primitives_use_now_when_no_debug_header(tmp_path: Path) -> None:
    case = {"cond": 'bfe_time_range("20300101000000Z", "20300101000010Z")', "request": {}, "expect": True}
    path = write(tmp_path, [case])
    assert invoke("conditions", "test", "--now", "1893456005", str(path))[0] == 0  # 2030-01-01 00:00:05Z
    assert invoke("conditions", "test", "--now", "1893456011", str(path))[0] == 1


def test_explain_prints_the_real_precedence() -> None:
    code, out, _ = invoke("conditions", "explain", "default_t() && default_t() || !default_t()")
    assert (code, out) == (0, "(default_t() && (default_t() || !default_t()))\n")


def test_explain_shows_the_error_with_a_caret() -> None:
    code, out, err = invoke("conditions", "explain", 'default_t() && req_host_inn("a")')
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "1:16 primitive req_host_inn not found"
    assert lines[1:3] == ['default_t() && req_host_inn("a")', " " * 15 + "^"]
    assert "req_host_in" in lines[3]


@pytest.mark.skipif(not VECTORS.exists(), reason="the shared vectors are not on this machine")
def test_the_command_passes_every_bfe_vector() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stockade", "conditions", "test", str(VECTORS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    cases = len(json.loads(VECTORS.read_text(encoding="utf-8")))
    assert result.stdout.splitlines()[-1] == f"{cases} passed, 0 failed", result.stdout
    assert result.returncode == 0
