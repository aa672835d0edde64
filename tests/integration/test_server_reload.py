"""Reloads of a real ``stockade serve`` process: the mod_block watcher across SIGHUP and the API, and their log.

Every wait is for a log line of the server (the event that the reload happened), never a
sleep: the log is what an operator reads, so these tests also hold that it says what
changed, or each error at its place in the rule file.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from tests.integration.conftest import Site
from tests.integration.serve_process import ServeProcess

pytestmark = pytest.mark.slow


TOKEN = "a-token-of-sixteen-or-more"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR) stockade[\w.]*\[\d+\]: ")


def rule(name: str, prefix: str) -> dict[str, object]:
    return {"Name": name, "Cond": f'req_path_prefix_in("{prefix}", false)', "Action": {"Cmd": "CLOSE", "Params": []}}


def write_rules(path: Path, *prefixes: str, cond: str | None = None) -> None:
    rules = [rule(f"r{i}", prefix) for i, prefix in enumerate(prefixes)]
    if cond is not None:
        rules.append({"Name": "broken", "Cond": cond, "Action": {"Cmd": "CLOSE", "Params": []}})
    # Written aside and renamed over the file, as deploy tools do: the watcher sees one change.
    aside = path.with_suffix(".tmp")
    aside.write_text(json.dumps({"Version": "1", "Config": {"global": rules}}, indent=1))
    aside.replace(path)


def block_config(site: Site, *, workers: int = 1, log: str = "") -> Path:
    (site.base / "mod_block").mkdir()
    write_rules(site.base / "mod_block" / "rules.data", "/one")
    (site.base / "mod_block" / "ips.data").write_text("192.0.2.1\n")
    config = site.write_config(workers=workers)
    config.write_text(
        config.read_text()
        + '\n[block]\nrules = "mod_block/rules.data"\nip_blocklist = "mod_block/ips.data"\nwatch = true\n'
        + '[block.hosts]\ndefault_product = "web"\n'
        + f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
        + log
    )
    return config


def test_the_watcher_applies_edits_after_every_reload(site: Site) -> None:
    rules = site.base / "mod_block" / "rules.data"
    with ServeProcess(block_config(site), token=TOKEN) as server:
        server.wait_for_log(r"watching .*rules\.data.* for changes")
        assert server.request("/one") == 0
        assert server.request("/two") == 404  # served (no such file), not closed

        mark = server.mark()
        write_rules(rules, "/one", "/two")
        server.wait_for_log(rf"reloaded {re.escape(str(rules))} \(watch\): files {re.escape(str(rules))}$", after=mark)
        assert server.request("/two") == 0

        # A real SIGHUP: the configuration is reloaded, and the watcher goes on with the new site.
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_for_log(r"reloaded .*stockade\.toml \(signal\): nothing changed$", after=mark)
        mark = server.mark()
        write_rules(rules, "/one", "/two", "/three")
        server.wait_for_log(r"reloaded .*rules\.data \(watch\)", after=mark)
        assert server.request("/three") == 0

        # A broken edit after the reload is counted in the site in force, its error at its place in the file.
        mark = server.mark()
        write_rules(rules, "/one", cond='req_path_prefix_in("/x", false) && req_pth_in("/y", false)')
        (error,) = server.wait_for_log(r"reload error: (.*)$", after=mark)
        text = rules.read_text().splitlines()
        line = next(i for i, content in enumerate(text, 1) if "req_pth_in" in content)
        column = text[line - 1].index("req_pth_in") + 1
        assert error[1] == (
            f"{rules}:{line}:{column}: product 'global', rule 1 (name 'broken'): primitive req_pth_in not found"
            " (hint: did you mean 'req_path_in'?)"
        )
        assert server.metric("mod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE") == 1
        assert server.metric("stockade_reload_errors_total") == 1
        assert server.request("/three") == 0  # the rules in force stayed

        # The same after a reload through the API; the failed count carries over the reload.
        status, answer = server.admin("POST", "/reload")
        assert status == 409
        assert answer["errors"] == [error[1]]
        assert server.metric("mod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE") == 2
        mark = server.mark()
        write_rules(rules, "/four")
        server.wait_for_log(r"reloaded .*rules\.data \(watch\)", after=mark)
        assert (server.request("/three"), server.request("/four")) == (404, 0)
        assert server.metric("mod_block_RELOAD_ERROR_PRODUCT_RULE_TABLE") == 2
        assert server.stop() == 0

    # Every line of the log has its time, level and logger; the reloads are in the audit log too.
    assert all(TEXT_LINE.match(line) for line in server.lines), server.lines
    audit = [json.loads(line) for line in (site.base / "audit.jsonl").read_text().splitlines()]
    assert [(a["trigger"], a["outcome"]) for a in audit if a["what"] == "reload"] == [
        ("watch", "ok"),
        ("signal", "ok"),
        ("watch", "ok"),
        ("watch", "error"),
        ("api", "error"),
        ("watch", "ok"),
    ]


def test_json_log_lines_and_the_log_level(site: Site) -> None:
    config = block_config(site, log='\n[log]\nformat = "json"\nlevel = "warning"\n')
    with ServeProcess(config, "--log-level", "info", token=TOKEN) as server:
        server.wait_for_log(r'"message": "watching ')  # the command line wins over [log]
        config.write_text(config.read_text().replace("max_retries = 3", "max_retries = 4"))
        mark = server.mark()
        server.signal(signal.SIGHUP)
        (line,) = server.wait_for_log(r'"event": "reload"', after=mark)
        record = json.loads(line.string)
        assert {key: record[key] for key in ("level", "logger", "trigger", "changed")} == {
            "level": "info",
            "logger": "stockade.server",
            "trigger": "signal",
            "changed": {"sections": ["directory"], "files": [str(config)]},
        }
        assert record["pid"] == server.pid  # one worker: the process serves alone
        assert record["message"] == f"reloaded {config} (signal): sections [directory]; files {config}"
    assert all(json.loads(line)["time"].endswith("Z") for line in server.lines)
