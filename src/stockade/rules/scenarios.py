"""Replay mod_block scenarios (the format of BFE's ``bfe_mod_block.json``) and report every mismatch.

A scenario gives the content of ``block_rules.data`` (``block_rules``, an object, or
``block_rules_text``, raw) and of ``ip_blocklist.data`` (``ip_blocklist``), then steps:

- ``connection`` (``client_ip``): the blocklist check; ``expect`` is ``closed_at_connection``
  or ``accepted``;
- ``request`` (``request`` in the condition vectors' schema, ``product`` as the host table
  resolved it; without ``product``, the scenario's ``hosts`` table and ``default_product``
  name it): ``expect`` is ``closed_at_request``, ``allowed`` or ``passed_through``, with
  ``expect_block_rule`` and ``expect_err_code`` (``BLOCK`` for a close);
- ``reload_block_rules`` / ``reload_ip_blocklist``: new content (the same keys as the
  scenario's) is written to the configured file, or to ``path`` when given, and reloaded
  as BFE's reload endpoint does; ``expect`` (``ok``/``error``) or ``expect_error`` says how
  it should end, and ``expect_error_contains`` a part of BFE's answer.

``expect_metrics`` (after a step, and at the end) are compared counter by counter. The
files are written under a directory the caller provides; time is ``now``, injected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stockade.core.facts import RequestFacts
from stockade.errors import BlockFileError, BlocklistError, RuleFileError
from stockade.ipsets import parse_blocklist
from stockade.rules.block import BlockTable
from stockade.rules.hosts import HostTable
from stockade.rules.reload import BlockReloader, ReloadResult
from stockade.rules.rule_file import parse_rule_file

__all__ = ["ScenarioResult", "check_invalid_blocklist", "check_invalid_rules", "run_scenario"]

_REQUEST_OUTCOMES = {"close": "closed_at_request", "allow": "allowed", "pass": "passed_through"}
_CONNECTION_OUTCOMES = {"close": "closed_at_connection", "accept": "accepted"}
_OK_WORDS = ("ok", "success", "reload", "load", "updat", "swap", "appl")
_ERROR_WORDS = ("error", "fail", "reject", "kept", "keep", "invalid", "old")


@dataclass(slots=True)
class ScenarioResult:
    """The mismatches of one scenario (empty when it passed), each naming the step."""

    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _rules_text(source: Mapping[str, object]) -> str | None:
    if "block_rules_text" in source:
        return str(source["block_rules_text"])
    if "block_rules" in source:
        return json.dumps(source["block_rules"])
    return None


def _blocklist_text(source: Mapping[str, object]) -> str | None:
    value = source.get("ip_blocklist")
    return None if value is None else str(value)


def run_scenario(scenario: Mapping[str, object], workdir: Path, *, now: float = 0.0) -> ScenarioResult:
    """Replay one scenario with its files under ``workdir``; never raises for a mismatch (that is a result)."""
    result = ScenarioResult(str(scenario.get("name", "?")))
    folder = workdir / "mod_block"
    folder.mkdir(parents=True, exist_ok=True)
    rules_path, blocklist_path = folder / "block_rules.data", folder / "ip_blocklist.data"
    rules_path.write_text(_rules_text(scenario) or "", encoding="utf-8", newline="")
    blocklist_path.write_text(_blocklist_text(scenario) or "", encoding="utf-8", newline="")
    try:
        reloader = BlockReloader.open(str(rules_path), str(blocklist_path))
    except BlockFileError as exc:
        result.failures.append(f"initial load failed: {exc}")
        return result
    hosts = _hosts(scenario)
    steps = scenario.get("steps", [])
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        where = f"step {index} ({step.get('op')}{': ' + str(step['note']) if step.get('note') else ''})"
        failures = _step(step, reloader, hosts, workdir, now)
        result.failures.extend(f"{where}: {failure}" for failure in failures)
        result.failures.extend(f"{where}: {failure}" for failure in _metrics(step, reloader.table))
    result.failures.extend(f"end: {failure}" for failure in _metrics(scenario, reloader.table))
    return result


def _hosts(scenario: Mapping[str, object]) -> HostTable | None:
    table = scenario.get("hosts", scenario.get("host_table"))
    default = scenario.get("default_product")
    if not isinstance(table, Mapping) and default is None:
        return None
    return HostTable(table if isinstance(table, Mapping) else {}, default if isinstance(default, str) else None)


def _step(
    step: Mapping[str, object], reloader: BlockReloader, hosts: HostTable | None, workdir: Path, now: float
) -> list[str]:
    op = step.get("op")
    table = reloader.table
    if op == "connection":
        peer = step.get("client_ip", step.get("remote_ip", step.get("peer", "")))
        got = _CONNECTION_OUTCOMES[table.check_connection(str(peer))]
        return _expect(step, "expect", got)
    if op == "request":
        request = step.get("request", {})
        request = request if isinstance(request, Mapping) else {}
        facts = RequestFacts.from_vector(request, now=now)
        if "product" in step:
            product = step["product"]
        elif "product" in request:
            product = request["product"]
        else:
            product = hosts.product(facts.host) if hosts is not None else None
        decision = table.check_request(facts, None if product is None else str(product))
        failures = _expect(step, "expect", _REQUEST_OUTCOMES[decision.action])
        failures += _expect(step, "expect_block_rule", decision.rule)
        failures += _expect(step, "expect_err_code", "BLOCK" if decision.action == "close" else None)
        return failures
    if op in ("reload_block_rules", "reload_ip_blocklist"):
        return _reload(step, reloader, workdir)
    return [f"unknown op {op!r}"]


def _reload(step: Mapping[str, object], reloader: BlockReloader, workdir: Path) -> list[str]:
    rules = step.get("op") == "reload_block_rules"
    content = _rules_text(step) if rules else _blocklist_text(step)
    if content is None:
        content = None if step.get("content") is None else str(step["content"])
    override = step.get("path")
    target = Path(reloader.rules_path if rules else reloader.blocklist_path)
    if isinstance(override, str) and override:
        target = Path(override) if Path(override).is_absolute() else workdir / override
    if content is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8", newline="")
    path = str(target) if isinstance(override, str) and override else None
    outcome: ReloadResult = reloader.reload_rules(path) if rules else reloader.reload_ip_blocklist(path)
    failures: list[str] = []
    wanted = _wanted_reload(step)
    if wanted is not None and wanted != outcome.ok:
        got = "ok" if outcome.ok else f"error: {outcome.message}"
        failures.append(f"reload: expected {'ok' if wanted else 'an error'}, got {got}")
    contains = step.get("expect_error_contains")
    if isinstance(contains, str) and contains not in outcome.message:
        failures.append(f"reload: expected the error to contain {contains!r}, got {outcome.message!r}")
    return failures


def _wanted_reload(step: Mapping[str, object]) -> bool | None:
    """True if the step expects the reload to succeed, False if to fail, None if it does not say."""
    flag = step.get("expect_error")
    if isinstance(flag, bool):
        return not flag
    if isinstance(flag, str) and flag:  # an error text or a paraphrase of it
        return False
    for key in ("expect", "expect_reload"):
        value = step.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            words = value.lower()
            if any(word in words for word in _ERROR_WORDS):
                return False
            if any(word in words for word in _OK_WORDS):
                return True
    return None


def _expect(step: Mapping[str, object], key: str, got: object) -> list[str]:
    if key not in step or step[key] == got:
        return []
    return [f"{key}: expected {step[key]!r}, got {got!r}"]


def _metrics(source: Mapping[str, object], table: BlockTable) -> list[str]:
    wanted = source.get("expect_metrics")
    if not isinstance(wanted, Mapping):
        return []
    counters = table.counters.snapshot()
    return [
        f"{name}: expected {value}, got {counters.get(str(name))}"
        for name, value in wanted.items()
        if counters.get(str(name)) != value
    ]


def check_invalid_rules(case: Mapping[str, object]) -> RuleFileError | None:
    """The error BFE's loader would raise for an ``invalid_block_rules`` case, or None if it loads (a failure)."""
    try:
        parse_rule_file(_rules_text(case) or "")
    except RuleFileError as exc:
        return exc
    return None


def check_invalid_blocklist(case: Mapping[str, object]) -> BlocklistError | None:
    """The error for an ``invalid_ip_blocklists`` case, or None if it loads (a failure)."""
    try:
        parse_blocklist(_blocklist_text(case) or "")
    except BlocklistError as exc:
        return exc
    return None
