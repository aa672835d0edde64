"""Reloads build aside and swap atomically: a bad file keeps the old table, counters survive, errors are BFE's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from stockade.core.facts import RequestFacts
from stockade.errors import BlocklistError, RuleFileError
from stockade.ipsets import IPSet
from stockade.rules.reload import BlockReloader, ReloadResult
from stockade.rules.watch import watch_files


def rules_text(name: str, cmd: str = "CLOSE", cond: str = "default_t()") -> str:
    rule = {"Name": name, "Cond": cond, "Action": {"Cmd": cmd, "Params": []}}
    return json.dumps({"Version": "1", "Config": {"pn": [rule]}})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "mod_block"
    folder.mkdir()
    rules, blocklist = folder / "block_rules.data", folder / "ip_blocklist.data"
    rules.write_text(rules_text("first"))
    blocklist.write_text("192.0.2.1\n")
    return rules, blocklist


def test_open_loads_both_files(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    assert reloader.table.check_connection("192.0.2.1") == "close"
    assert reloader.table.check_request(RequestFacts(), "pn").rule == "first"


def test_the_blocklist_in_force_is_the_native_set_every_front_reads(files: tuple[Path, Path]) -> None:
    # Loaded natively (the Python loader is the oracle only), and the same object the native
    # ladders are given, with no copy: a reload puts a new native set in force.
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    assert type(reloader.table.blocklist) is IPSet
    files[1].write_text("192.0.2.2\n")
    reloader.reload_ip_blocklist()
    assert type(reloader.table.blocklist) is IPSet
    assert reloader.table.check_connection("::ffff:192.0.2.2") == "close"
    assert reloader.table.check_connection("192.0.2.1") == "accept"


def test_open_raises_on_a_bad_file_blocklist_first(files: tuple[Path, Path]) -> None:
    files[0].write_text("{")
    files[1].write_text("bad\n")
    with pytest.raises(BlocklistError):
        BlockReloader.open(str(files[0]), str(files[1]))
    files[1].write_text("")
    with pytest.raises(RuleFileError):
        BlockReloader.open(str(files[0]), str(files[1]))


def test_from_conf_resolves_the_paths(tmp_path: Path, files: tuple[Path, Path]) -> None:
    (files[0].parent / "mod_block.conf").write_text("[Basic]\n")
    reloader = BlockReloader.from_conf(str(files[0].parent / "mod_block.conf"))
    assert reloader.rules_path == str(files[0])
    assert reloader.blocklist_path == str(files[1])


def test_a_good_reload_swaps_the_rules_and_keeps_the_counters(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    table = reloader.table
    table.check_request(RequestFacts(), "pn")
    old_rules = table.rules
    files[0].write_text(rules_text("second", "ALLOW"))
    result = reloader.reload_rules()
    assert result == ReloadResult("block_rules", str(files[0]))
    assert result.ok
    assert result.message == ""
    assert result.as_dict() == {"reload": "ok", "target": "block_rules", "path": str(files[0])}
    assert table.rules is not old_rules
    assert table.check_request(RequestFacts(), "pn").rule == "second"
    assert table.counters.snapshot()["REQ_TOTAL"] == 2


def test_a_bad_rule_file_keeps_the_old_rules_and_is_reported(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    old_rules = reloader.table.rules
    files[0].write_text(rules_text("broken", cond='req_host_in("a") && req_pth_in("/x", false)'))
    result = reloader.reload_rules()
    assert not result.ok
    assert reloader.table.rules is old_rules
    assert result.message == f"err in ProductRuleConfLoad({files[0]}):1:21 primitive req_pth_in not found"
    assert result.detail == (
        f"{files[0]}: product 'pn', rule 0 (name 'broken'): condition: 1:21 primitive req_pth_in not found\n"
        'req_host_in("a") && req_pth_in("/x", false)\n'
        "                    ^\n"
        "hint: did you mean 'req_path_in'?"
    )
    assert result.as_dict()["reload"] == "error"
    assert reloader.errors == {"block_rules": 1, "ip_blocklist": 0}
    assert reloader.counters() == {"RELOAD_ERROR_PRODUCT_RULE_TABLE": 1, "RELOAD_ERROR_GLOBAL_IP_TABLE": 0}
    assert reloader.last["block_rules"] is result
    assert reloader.table.check_request(RequestFacts(), "pn").rule == "first"


def test_a_bad_blocklist_keeps_the_old_one(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    table = reloader.table
    assert table.check_connection("192.0.2.1") == "close"
    files[1].write_text("192.0.2.2\n192.0.2.5 192.0.2.3\n")
    result = reloader.reload_ip_blocklist()
    assert result.message == (
        f"err in GlobalIPTableLoad({files[1]}):load dict: loadFile(): err, InsertPair failed: "
        "startIPStr 192.0.2.5 > endIPStr 192.0.2.3"
    )
    assert (
        result.detail == f"{files[1]}:2: the range starts after it ends (192.0.2.5 > 192.0.2.3): '192.0.2.5 192.0.2.3'"
    )
    assert table.check_connection("192.0.2.1") == "close"
    assert table.check_connection("192.0.2.2") == "accept"
    assert table.counters.snapshot()["CONN_TOTAL"] == 3
    assert reloader.errors["ip_blocklist"] == 1


def test_a_path_override_reads_another_file_this_once(tmp_path: Path, files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    other = tmp_path / "other.data"
    other.write_text("198.51.100.7\n")
    assert reloader.reload_ip_blocklist(str(other)).path == str(other)
    assert reloader.table.check_connection("198.51.100.7") == "close"
    assert reloader.blocklist_path == str(files[1])
    assert reloader.reload("ip_blocklist").path == str(files[1])
    assert reloader.table.check_connection("198.51.100.7") == "accept"


def test_a_missing_override_file_is_an_error(tmp_path: Path, files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    missing = tmp_path / "missing.data"
    result = reloader.reload_rules(str(missing))
    assert result.message == f"err in ProductRuleConfLoad({missing}):open {missing}: no such file or directory"


def test_reload_all_reloads_both(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    files[0].write_text(rules_text("again"))
    files[1].write_text("nope\n")
    ip, rules = reloader.reload_all()
    assert (ip.target, ip.ok, rules.target, rules.ok) == ("ip_blocklist", False, "block_rules", True)


def test_the_watcher_reports_a_changed_file_once_it_is_watching(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    changes: list[list[str]] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        watching = asyncio.Event()
        seen = asyncio.Event()

        async def on_change(targets: list[str]) -> None:
            changes.append(targets)
            for target in targets:
                reloader.reload(target)  # type: ignore[arg-type]
            seen.set()

        targets = {str(files[0]): "block_rules", str(files[1]): "ip_blocklist"}
        task = asyncio.create_task(watch_files(targets, on_change, ready=watching.set, stop_event=stop, debounce_ms=50))
        await asyncio.wait_for(watching.wait(), timeout=10)
        replacement = files[1].with_suffix(".tmp")
        replacement.write_text("203.0.113.9\n")
        replacement.replace(files[1])  # as deploy tools do: a rename over the file
        await asyncio.wait_for(seen.wait(), timeout=10)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert changes == [["ip_blocklist"]]
    assert reloader.table.check_connection("203.0.113.9") == "close"


def test_failed_reloads_of_a_file_are_counted_per_file(files: tuple[Path, Path]) -> None:
    reloader = BlockReloader.open(str(files[0]), str(files[1]))
    files[0].write_text("{")
    assert not reloader.reload("block_rules").ok
    assert not reloader.reload("block_rules").ok
    assert reloader.counters() == {"RELOAD_ERROR_PRODUCT_RULE_TABLE": 2, "RELOAD_ERROR_GLOBAL_IP_TABLE": 0}
