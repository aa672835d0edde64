"""``stockade replay``'s native fast path writes exactly what the Python replay writes.

Each case replays one generated log twice on fresh sessions: through :meth:`Replay.run`
(every line in Python, the oracle) and through :meth:`Replay.stream` (the fast path, with
the input cut in pieces of odd sizes), and compares the output byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from stockade.config import load_config
from stockade.replay import Replay

RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {"Name": "no_x", "Cond": 'req_path_prefix_in("/x", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
            {"Name": "ok_api", "Cond": 'req_path_prefix_in("/api", false)', "Action": {"Cmd": "ALLOW", "Params": []}},
            {
                "Name": "bad_agent",
                "Cond": 'req_header_value_in("User-Agent", "evil/1.0", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            },
        ],
    },
}
CONFIG = """
[server]
listen = []
[store]
url = "memory://"
[[directory]]
path = "/admin"
auth_user_file = "users.htpasswd"
max_retries = 3
[block]
rules = "rules.data"
ip_blocklist = "ips.data"
watch = false
[bans]
malicious_req_threshold = 3
window = 40
block_duration = 90
escalation = { factor = 2, max = 1000 }
allow = ["10.9.0.0/16"]
"""
RESPONSE_RULES = 'response_rules = [{ name = "not_found_flood", status = [404, 410], count = 4, window = 30 }]\n'

CLIENTS = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "203.0.113.9", "10.9.1.1", "192.0.2.77", "2001:db8::5"]
ODD_CLIENTS = ["::ffff:198.51.100.1", "010.1.1.1", "not-an-ip", "198.51.100.256"]
PAGES = ["/", "/shop/", "/shop/item/{n}", "/search?q=shoes+{n}", "/a/./b/../c", "/x%20y", "/caf%C3%A9", "/a//b"]
PROBES = ["/.env", "/wp-login.php", "/.git/config", "/index.php?id=1%27%20union%20select%201,2--", "/a/../../etc"]
OTHERS = ["/x/1", "/api/v1", "/admin/", "/admin/x", "/a#frag", "/%2e%2e/x", "/a%00b", "/p?q=%C3%A9&r=<script>"]
AGENTS = ["Mozilla/5.0", "curl/8.0", "evil/1.0", "", "sqlmap/1.7"]


def log_time(moment: int, zone: str = "+0000") -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S ", time.gmtime(moment)) + zone


def generated_log(seed: int, lines: int) -> str:
    rng = random.Random(seed)
    moment = 1_800_000_000
    out = []
    for _ in range(lines):
        moment += rng.choice([0, 0, 1, 1, 2, 5, -3, 70, 200])
        roll = rng.random()
        client = rng.choice(ODD_CLIENTS) if roll < 0.03 else rng.choice(CLIENTS)
        kind = rng.random()
        if kind < 0.12:
            target = rng.choice(PROBES)
        elif kind < 0.22:
            target = rng.choice(OTHERS)
        else:
            target = rng.choice(PAGES).format(n=rng.randrange(50))
        status = rng.choice([200, 200, 200, 304, 404, 410])
        zone = rng.choice(["+0000", "+0000", "-0700", "+0530"])
        proto = rng.choice([" HTTP/1.1", " HTTP/1.1", " HTTP/1.0", "", " HTTP/2.0"])
        agent = rng.choice(AGENTS)
        line = f'{client} - - [{log_time(moment, zone)}] "GET {target}{proto}" {status} 512 "-" "{agent}"'
        odd = rng.random()
        if odd < 0.02:
            line = "not an event"
        elif odd < 0.04:
            line = json.dumps({"at": moment, "type": "request", "peer": client, "request": {"path": target}})
        elif odd < 0.05:
            line = json.dumps({"at": moment, "type": "connection", "peer": client})
        elif odd < 0.06:
            line = rng.choice(["", "   ", "# a comment", "\t"])
        elif odd < 0.07:
            bad_time = rng.choice(["31/Feb/2027:00:00:00 +0000", "1/Jan/2027:00:00:00 +0000"])
            line = line.replace(log_time(moment, zone), bad_time)
        elif odd < 0.08:
            line = line.replace("Mozilla", "Mözilla")
        elif odd < 0.085:
            line = " " + line + " \r"
        elif odd < 0.09:
            line = json.dumps({"at": moment, "type": "reload", "target": "ip_blocklist"})
        out.append(line)
    return "\n".join(out) + rng.choice(["", "\n"])


def setup(base: Path, extra: str = "") -> Path:
    (base / "rules.data").write_text(json.dumps(RULES))
    (base / "ips.data").write_text("192.0.2.0/24\n")
    (base / "users.htpasswd").write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    (base / "stockade.toml").write_text(CONFIG + extra)
    return base / "stockade.toml"


def oracle(config: Path, text: str, store_url: str | None = None) -> str:
    session = Replay(load_config(config), store_url)

    async def run() -> str:
        try:
            lines = text.encode().split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            return "".join(
                [
                    json.dumps(o, separators=(", ", ": ")) + "\n"
                    async for o in session.run(line.decode("utf-8", "replace") for line in lines)
                ]
            )
        finally:
            await session.close()

    return asyncio.run(run())


def fast(config: Path, text: str, seed: int) -> tuple[str, int]:
    """The fast path's output, and how many lines it replayed (not the driver)."""
    session = Replay(load_config(config))
    assert session.fast_path() is not None
    in_python = 0
    replay_line = session._line

    async def counted(number: int, line: str) -> list[dict[str, object]]:
        nonlocal in_python
        in_python += 1
        return await replay_line(number, line)

    session._line = counted  # type: ignore[method-assign]
    data = text.encode()
    rng = random.Random(seed)
    pieces, at = [], 0
    while at < len(data):
        size = rng.choice([1, 7, 100, 4096, 1 << 20])
        pieces.append(data[at : at + size])
        at += size

    async def run() -> str:
        try:
            return "".join([piece async for piece in session.stream(pieces)])
        finally:
            await session.close()

    return asyncio.run(run()), text.count("\n") + 1 - in_python


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("extra", ["", RESPONSE_RULES], ids=["plain", "response_rules"])
def test_the_fast_path_writes_what_the_python_replay_writes(tmp_path: Path, seed: int, extra: str) -> None:
    config = setup(tmp_path, extra)
    text = generated_log(seed, 1500)
    expected = oracle(config, text)
    got, native_lines = fast(config, text, seed)
    assert got == expected
    # The fast path took a fair share of the lines (else this test would compare Python with itself).
    assert native_lines > 100
    outputs = [json.loads(line) for line in expected.splitlines()]
    whats = {event["what"] for output in outputs for event in output.get("events", ())}
    assert {"malicious_request", "ip_block", "ip_unblock", "block_rule"} <= whats
    decisions = {(output.get("decision"), output.get("status")) for output in outputs}
    assert {("denied", 401), ("denied", 403), ("denied", 400), ("closed_at_connection", None)} <= decisions
    assert any("error" in output for output in outputs)


def test_a_replay_on_a_named_store_streams_the_same_in_python(tmp_path: Path) -> None:
    config = setup(tmp_path)
    text = generated_log(11, 300)
    session = Replay(load_config(config), "memory://")
    assert session.fast_path() is None  # a named store may hold bans already: every line in Python

    async def run() -> str:
        try:
            return "".join([piece async for piece in session.stream([text.encode()])])
        finally:
            await session.close()

    assert asyncio.run(run()) == oracle(config, text, "memory://")


def test_rules_that_read_the_response_replay_in_python(tmp_path: Path) -> None:
    # A log line's status is a response that mod_block's res_* primitives read: only the
    # Python replay gives it to them.
    config = setup(tmp_path)
    rules = json.loads((tmp_path / "rules.data").read_text())
    rules["Config"]["global"].append(
        {"Name": "no_404", "Cond": 'res_code_in("404")', "Action": {"Cmd": "CLOSE", "Params": []}}
    )
    (tmp_path / "rules.data").write_text(json.dumps(rules))
    text = generated_log(3, 400)
    session = Replay(load_config(config))
    assert session.fast_path() is None

    async def run() -> str:
        try:
            return "".join([piece async for piece in session.stream([text.encode()])])
        finally:
            await session.close()

    got = asyncio.run(run())
    assert got == oracle(config, text)
    assert '"rule": "no_404"' in got
