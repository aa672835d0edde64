"""The order of checks reads only what each stage needs: the full facts only when mod_block runs."""

from __future__ import annotations

import json

from stockade import Guard, GuardSettings, ManualClock
from stockade.core.facts import RequestFacts
from stockade.engine._sync.ladder import Incoming, Ladder
from stockade.engine.settings import BanSettings
from stockade.rules import BlockTable, HostTable
from stockade.rules.reload import BlockReloader
from stockade.rules.rule_file import parse_rule_file
from stockade.stores import MemoryStore

T0 = 1_800_000_000.0
RULES = {
    "Version": "1",
    "Config": {
        "web": [{"Name": "bad", "Cond": 'req_path_prefix_in("/bad", false)', "Action": {"Cmd": "CLOSE", "Params": []}}]
    },
}


class Builder:
    """make_facts that counts its calls."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.calls = 0

    def __call__(self) -> RequestFacts:
        self.calls += 1
        return RequestFacts(path=self.path, uri=self.path, client_ip="192.0.2.1", host="example.org")


def ladder(*, block: bool) -> Ladder:
    guard = Guard(GuardSettings(bans=BanSettings()), MemoryStore(), clock=ManualClock(T0))
    if not block:
        return Ladder(guard)
    table = BlockTable(parse_rule_file(json.dumps(RULES)))
    return Ladder(guard, block=BlockReloader(table, "rules", "blocklist"), hosts=HostTable({}, "web"))


def lazy(path: str) -> tuple[Incoming, Builder]:
    build = Builder(path)
    return Incoming(make_facts=build, path=path, client="192.0.2.1"), build


def test_without_mod_block_the_facts_are_never_built() -> None:
    request, build = lazy("/index.html")
    assert ladder(block=False).decide(request).action == "pass"
    request, build_probe = lazy("/.env")
    assert ladder(block=False).decide(request).malicious == "env_file"  # detection reads the parts
    assert build.calls == build_probe.calls == 0


def test_mod_block_builds_them_once_and_only_for_a_rule_that_reads_them() -> None:
    checks = ladder(block=True)
    request, build = lazy("/bad/x")
    assert checks.decide(request).action == "close"
    assert build.calls == 0  # the rule reads only the path, which the request has
    request, build = lazy("/good")
    assert checks.decide(request).action == "pass"
    assert request.facts is request.facts
    assert build.calls == 1
    rules = json.loads(json.dumps(RULES))
    rules["Config"]["web"][0]["Cond"] = 'req_cip_range("192.0.2.0", "192.0.2.9")'
    assert checks.block is not None
    checks.block.table.rules = parse_rule_file(json.dumps(rules))
    request, build = lazy("/any")
    assert checks.decide(request).action == "close"
    assert build.calls == 1


def test_the_parts_of_given_facts_and_the_derived_ones() -> None:
    facts = RequestFacts(method="POST", path="/a", query="x=1", uri="/a?x=1", client_ip="192.0.2.9")
    request = Incoming(facts)
    assert (request.path, request.client, request.method, request.uri, request.query) == (
        "/a", "192.0.2.9", "POST", "/a?x=1", "x=1"
    )  # fmt: skip
    assert request.line == "POST /a?x=1 HTTP/1.1"
    headers = [(b"host", b"h"), (b"authorization", b"Basic a"), (b"authorization", b"Basic b")]
    lazy_request = Incoming(make_facts=Builder("/"), headers=headers)
    assert lazy_request.authorization == [b"Basic a", b"Basic b"]
    assert lazy_request.line == "GET / HTTP/1.1"
