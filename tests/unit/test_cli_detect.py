"""``stockade detect explain`` and ``stockade detect rules``."""

from __future__ import annotations

from click.testing import CliRunner

from stockade.cli.main import cli


def test_explain_names_the_rules_the_part_and_the_score() -> None:
    result = CliRunner().invoke(cli, ["detect", "explain", "/search?q=1' or '1'='1"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("malicious: score ")
    assert any("sqli_tokens" in line and "args" in line and "1' or '1'='1" in line for line in lines)


def test_explain_reads_a_body_and_headers() -> None:
    result = CliRunner().invoke(cli, ["detect", "explain", "/login", "--body", "user=admin'--&pass=x"])
    assert result.output.startswith("malicious")
    result = CliRunner().invoke(cli, ["detect", "explain", "/", "--header", "User-Agent: () { :; }; /bin/id"])
    assert "shellshock" in result.output
    result = CliRunner().invoke(cli, ["detect", "explain", "/", "--header", "no colon"])
    assert result.exit_code != 0


def test_explain_a_clean_request_and_list_the_rules() -> None:
    result = CliRunner().invoke(cli, ["detect", "explain", "/wp-content/themes/x/style.css?ver=2"])
    assert result.output == "clean: score 0 (threshold 5)\n"
    listed = CliRunner().invoke(cli, ["detect", "rules"]).output
    assert "sqli_tokens" in listed
    assert "script_extensions" not in listed
