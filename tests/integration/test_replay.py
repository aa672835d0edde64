"""``stockade replay``: recorded traffic through the same checks, with a simulated clock."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from stockade.config import load_config
from stockade.replay import Replay

REPO = Path(__file__).resolve().parents[2]
BANS = """
[store]
url = "memory://"
[bans]
malicious_req_threshold = 5
window = 600
block_duration = 3600
escalation = { factor = 2, max = 86400 }
ipv6_prefix = 64
allow = ["10.0.0.0/8"]
"""
RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {
                "Name": "no_admin",
                "Cond": 'req_path_prefix_in("/admin", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            }
        ],
        "pn": [
            {"Name": "ok_api", "Cond": 'req_path_prefix_in("/api", false)', "Action": {"Cmd": "ALLOW", "Params": []}},
            {"Name": "no_x", "Cond": 'req_path_prefix_in("/x", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
        ],
    },
}


def replay(base: Path, config: str, events: list[dict[str, Any] | str]) -> list[dict[str, Any]]:
    (base / "stockade.toml").write_text(config)
    session = Replay(load_config(base / "stockade.toml"))
    lines = [event if isinstance(event, str) else json.dumps(event) for event in events]

    async def run() -> list[dict[str, Any]]:
        try:
            return [output async for output in session.run(lines)]
        finally:
            await session.close()

    return asyncio.run(run())


def request(at: float, peer: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"at": at, "type": "request", "peer": peer, "request": {"path": path, **extra}}


PROBES = ["/.env", "/.git/config", "/wp-login.php", "/backup.zip", "/phpmyadmin/"]


def test_four_probes_warn_the_fifth_bans_and_the_ban_ends(tmp_path: Path) -> None:
    ip = "203.0.113.5"
    events = [request(1000 + i, ip, path) for i, path in enumerate(PROBES[:4])]
    events += [request(1004, ip, "/index.html"), request(1005, ip, PROBES[4]), request(1006, ip, "/")]
    events += [request(1005 + 3600, ip, "/")]
    out = replay(tmp_path, BANS, events)
    assert [o["ip_status"] for o in out[:5]] == ["warning 1", "warning 2", "warning 3", "warning 4", "warning 4"]
    assert out[4]["malicious"] is None
    assert [e["what"] for e in out[5]["events"]] == ["malicious_request", "ip_block"]
    assert out[5]["ip_status"] == "blocked 3600"
    assert (out[6]["decision"], out[6]["status"]) == ("denied", 403)
    assert (out[7]["decision"], out[7]["ip_status"]) == ("passed_through", "safe")
    assert [e["what"] for e in out[7]["events"]] == ["ip_unblock"]
    assert out[-1] == {
        "counters": {
            f"mod_block_{name}": 0
            for name in (
                "CONN_TOTAL",
                "CONN_ACCEPT",
                "CONN_REFUSE",
                "REQ_TOTAL",
                "REQ_ACCEPT",
                "REQ_REFUSE",
                "WRONG_COMMAND",
                "REQ_TO_CHECK",
            )
        }
    }


def test_a_repeat_offender_gets_the_escalated_duration(tmp_path: Path) -> None:
    ip = "198.51.100.9"
    first = [request(10 + i, ip, path) for i, path in enumerate(PROBES)]
    second = [request(3700 + i, ip, path) for i, path in enumerate(PROBES)]
    out = replay(tmp_path, BANS, [*first, *second])
    bans = [e["data"]["seconds"] for o in out[:-1] for e in o["events"] if e["what"] == "ip_block"]
    assert bans == [3600.0, 7200.0]


def test_ipv6_addresses_of_one_prefix_share_a_ban(tmp_path: Path) -> None:
    events = [request(10 + i, f"2001:db8:7:7::{i + 1}", path) for i, path in enumerate(PROBES)]
    events.append(request(20, "2001:db8:7:7:ffff::1", "/"))
    events.append(request(21, "2001:db8:7:8::1", "/"))
    out = replay(tmp_path, BANS, events)
    assert out[4]["events"][-1]["data"]["key"] == "2001:db8:7:7::/64"
    assert out[5]["decision"] == "denied"
    assert out[6]["decision"] == "passed_through"


def test_an_allow_listed_ip_is_never_banned(tmp_path: Path) -> None:
    out = replay(tmp_path, BANS, [request(10 + i, "10.2.3.4", PROBES[i % 5]) for i in range(12)])
    assert all(o["ip_status"] == "safe" and not o["events"] for o in out[:-1])


def test_dry_run_bans_nothing_and_reports(tmp_path: Path) -> None:
    out = replay(tmp_path, BANS + "dry_run = true\n", [request(10 + i, "192.0.2.44", PROBES[i % 5]) for i in range(8)])
    blocks = [e for o in out[:-1] for e in o["events"] if e["what"] == "ip_block"]
    assert len(blocks) == 1
    assert blocks[0]["data"]["dry_run"] is True
    assert all(o["decision"] == "passed_through" for o in out[:-1])
    assert out[-2]["ip_status"] == "safe"


def test_mod_block_rules_blocklist_reload_and_counters(tmp_path: Path) -> None:
    (tmp_path / "rules.data").write_text(json.dumps(RULES))
    (tmp_path / "ips.data").write_text("192.0.2.0/24\n")
    (tmp_path / "broken.data").write_text('{"Version": "2"}')
    config = (
        '[store]\nurl = "memory://"\n[block]\nrules = "rules.data"\nip_blocklist = "ips.data"\n'
        '[block.hosts]\n"n.example.org" = "pn"\n'
    )
    out = replay(
        tmp_path,
        config,
        [
            {"at": 1, "type": "connection", "peer": "192.0.2.7"},
            {"at": 2, "type": "connection", "peer": "198.51.100.1"},
            request(3, "198.51.100.1", "/admin/x", host="n.example.org"),
            request(4, "198.51.100.1", "/api/v1", host="n.example.org"),
            request(5, "198.51.100.1", "/x/1", host="N.EXAMPLE.ORG"),
            request(6, "198.51.100.1", "/y", host="n.example.org"),
            request(7, "198.51.100.1", "/x/1", host="other.example"),
            {"at": 8, "type": "request", "peer": "198.51.100.1", "request": {"path": "/x/1"}, "product": "pn"},
            {"at": 9, "type": "reload", "target": "block_rules", "path": str(tmp_path / "broken.data")},
            request(10, "198.51.100.1", "/x/1", host="n.example.org"),
            {"at": 11, "type": "reload", "target": "ip_blocklist"},
        ],
    )
    assert [o["decision"] for o in out[:2]] == ["closed_at_connection", "accepted"]
    assert [(o["decision"], o["rule"]) for o in out[2:8]] == [
        ("closed_at_request", "no_admin"),
        ("allowed", "ok_api"),
        ("closed_at_request", "no_x"),
        ("passed_through", None),
        ("passed_through", None),
        ("closed_at_request", "no_x"),
    ]
    assert out[8]["reload"] == "error"
    assert "no Config" in out[8]["error"]
    assert (out[9]["decision"], out[9]["rule"]) == ("closed_at_request", "no_x")  # the old rules stay
    assert out[10] == {"at": 11, "type": "reload", "reload": "ok"}
    counters = out[-1]["counters"]
    assert (counters["mod_block_CONN_TOTAL"], counters["mod_block_CONN_REFUSE"]) == (2, 1)
    # A request without a product (other.example) meets the global rules only (BFE would refuse it earlier).
    assert (counters["mod_block_REQ_TOTAL"], counters["mod_block_REQ_REFUSE"], counters["mod_block_REQ_ACCEPT"]) == (
        7,
        4,
        2,
    )


def test_lockout_events_in_a_replay(tmp_path: Path) -> None:
    (tmp_path / "users.htpasswd").write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")  # "password"
    config = '[store]\nurl = "memory://"\n[[directory]]\npath = "/secure"\nauth_user_file = "users.htpasswd"\n'
    wrong = {"Authorization": "Basic YWxpY2U6d3Jvbmc="}  # alice:wrong
    right = {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="}  # alice:password
    out = replay(
        tmp_path,
        config,
        [request(10 + i, "192.0.2.1", "/secure/", headers=wrong) for i in range(3)]
        + [request(20, "192.0.2.1", "/secure/", headers=right), request(30, "192.0.2.1", "/public")],
    )
    assert [(o["decision"], o["status"]) for o in out[:5]] == [
        ("denied", 401),
        ("denied", 401),
        ("denied", 401),
        ("denied", 403),
        ("passed_through", None),
    ]
    assert [e["what"] for e in out[2]["events"]] == ["auth_fail", "user_block"]


def test_access_logs_and_bad_lines(tmp_path: Path) -> None:
    log = [
        '203.0.113.8 - - [01/Dec/2026:10:00:00 +0000] "GET /.env HTTP/1.1" 404 12 "-" "curl/8.0"',
        "not an event",
        '{"at": "soon", "type": "request"}',
        '{"at": 1, "type": "teleport"}',
        '203.0.113.8 - - [01/Dec/2026:10:00:01 +0000] "GET /index.html?q=1 HTTP/1.1" 200 512'
        ' "https://ref.example/" "Mozilla/5.0"',
    ]
    out = replay(tmp_path, BANS, log)
    assert (out[0]["type"], out[0]["decision"]) == ("connection", "accepted")
    assert (out[1]["malicious"], out[1]["ip_status"]) == ("env_file", "warning 1")
    assert out[2]["error"].startswith("neither a JSON event")
    assert out[3] == {"line": 3, "error": "invalid at 'soon': expected a number of seconds"}
    assert out[4] == {"line": 4, "error": "invalid type 'teleport': expected connection, request or reload"}
    assert out[6]["malicious"] is None


def test_the_command(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text(BANS)
    (tmp_path / "events.jsonl").write_text(
        "\n".join(json.dumps(request(10 + i, "192.0.2.3", p)) for i, p in enumerate(PROBES))
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stockade",
            "replay",
            "-c",
            str(tmp_path / "stockade.toml"),
            str(tmp_path / "events.jsonl"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 6
    assert lines[4]["ip_status"] == "blocked 3600"
    assert "counters" in lines[-1]
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "stockade",
            "replay",
            "-c",
            str(tmp_path / "stockade.toml"),
            str(tmp_path / "none.jsonl"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert len(missing.stderr.splitlines()) == 1
