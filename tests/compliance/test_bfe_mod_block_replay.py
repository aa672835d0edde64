"""Every mod_block scenario of BFE's cases again, through ``stockade replay``'s engine.

``test_bfe_mod_block.py`` checks the block table itself; here each scenario becomes a
configuration (its rule file, its blocklist, its host table) and a stream of replay events,
and goes through the very checks the protecting server makes (:class:`stockade.replay.Replay`
on the ladder): connection decisions, request decisions, the matched rules and the counters
must all match. Reload steps write their file and replay a ``reload`` event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from stockade.config import load_config
from stockade.replay import Replay
from tests.compliance.test_bfe_mod_block import CASES

SCENARIOS = CASES["scenarios"]


def _rules(source: Mapping[str, Any]) -> str | None:
    if "block_rules_text" in source:
        return str(source["block_rules_text"])
    if "block_rules" in source:
        return json.dumps(source["block_rules"])
    return None


def _config(scenario: Mapping[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "block_rules.data").write_text(_rules(scenario) or "", encoding="utf-8", newline="")
    (folder / "ip_blocklist.data").write_text(str(scenario.get("ip_blocklist") or ""), encoding="utf-8", newline="")
    lines = [
        "[store]",
        'url = "memory://"',
        "[block]",
        'rules = "block_rules.data"',
        'ip_blocklist = "ip_blocklist.data"',
    ]
    lines.append("watch = false")
    hosts = scenario.get("hosts", scenario.get("host_table"))
    default = scenario.get("default_product")
    if isinstance(hosts, Mapping) or default is not None:
        lines.append("[block.hosts]")
        lines.extend(f"{json.dumps(host)} = {json.dumps(product)}" for host, product in (hosts or {}).items())
        if default is not None:
            lines.append(f"default_product = {json.dumps(default)}")
    path = folder / "stockade.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _event(step: Mapping[str, Any], at: float, folder: Path) -> dict[str, Any]:
    op = step["op"]
    if op == "connection":
        return {"at": at, "type": "connection", "peer": step.get("client_ip", step.get("remote_ip"))}
    if op == "request":
        request = dict(step.get("request") or {})
        event: dict[str, Any] = {"at": at, "type": "request", "request": request}
        event["peer"] = request.get("client_ip") or "192.0.2.1"
        if "product" in step:
            event["product"] = step["product"]
        return event
    rules = op == "reload_block_rules"
    content = _rules(step) if rules else step.get("ip_blocklist", step.get("content"))
    target = step.get("path") or ("block_rules.data" if rules else "ip_blocklist.data")
    if content is not None:
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        (folder / target).write_text(str(content), encoding="utf-8", newline="")
    reload: dict[str, Any] = {"at": at, "type": "reload", "target": "block_rules" if rules else "ip_blocklist"}
    if step.get("path"):
        reload["path"] = str(folder / target)
    return reload


def _replay(scenario: Mapping[str, Any], steps: list[Mapping[str, Any]], folder: Path) -> list[dict[str, Any]]:
    session = Replay(load_config(_config(scenario, folder)))
    events = [json.dumps(_event(step, 1000.0 + i, folder)) for i, step in enumerate(steps)]

    async def run() -> list[dict[str, Any]]:
        try:
            return [output async for output in session.run(events)]
        finally:
            await session.close()

    return asyncio.run(run())


def _counters(output: Mapping[str, Any], expected: Mapping[str, int]) -> dict[str, int]:
    return {name: output["counters"][f"mod_block_{name}"] for name in expected}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario_through_replay(scenario: Mapping[str, Any], tmp_path: Path) -> None:
    steps = scenario["steps"]
    outputs = _replay(scenario, steps, tmp_path / "all")
    assert len(outputs) == len(steps) + 1
    for index, (step, output) in enumerate(zip(steps, outputs, strict=False)):
        where = f"step {index} {step.get('note', '')}"
        if step["op"] in ("connection", "request"):
            assert output["decision"] == step["expect"], where
        if step["op"] == "request" and "expect_block_rule" in step:
            assert output["rule"] == step["expect_block_rule"], where
        if step["op"].startswith("reload") and "expect" in step:
            assert output["reload"] == ("ok" if step["expect"] in ("ok", "success") else "error"), where
        expected = step.get("expect_metrics")
        if expected:
            # The counters after this step: the replay of the steps up to it.
            upto = _replay(scenario, steps[: index + 1], tmp_path / f"upto{index}")
            assert _counters(upto[-1], expected) == expected, where
    final = scenario.get("expect_metrics")
    if final:
        assert _counters(outputs[-1], final) == final
