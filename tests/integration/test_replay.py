"""``stockade replay``: recorded traffic through the same checks, with a simulated clock."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stockade.cli import replay as replay_command
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


def test_a_configuration_without_a_site_listener_replays(tmp_path: Path) -> None:
    # `listen = []` (a decision endpoint only, or none): the lockout is replayed as the
    # decision endpoint keeps it, not refused with a traceback.
    (tmp_path / "users.htpasswd").write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")  # "password"
    config = (
        '[server]\nlisten = []\n[store]\nurl = "memory://"\n'
        '[[directory]]\npath = "/secure"\nauth_user_file = "users.htpasswd"\n'
    )
    wrong = {"Authorization": "Basic YWxpY2U6d3Jvbmc="}  # alice:wrong
    out = replay(tmp_path, config, [request(10, "192.0.2.1", "/secure/", headers=wrong), request(11, "192.0.2.1", "/")])
    assert [(o["decision"], o["status"]) for o in out[:2]] == [("denied", 401), ("passed_through", None)]
    assert [e["what"] for e in out[0]["events"]] == ["auth_fail"]


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


# -- callbacks, what each line names, streaming and progress --------------------------------------


def stockade_replay(
    base: Path, *args: str, stdin: str | None = None, stderr: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``stockade replay -c base/stockade.toml ARGS`` in a fresh process; callbacks record to base/events.jsonl."""
    return subprocess.run(
        [sys.executable, "-m", "stockade", "replay", "-c", str(base / "stockade.toml"), *args],
        input=stdin,
        capture_output=stderr is None,
        stdout=subprocess.PIPE if stderr is not None else None,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "STOCKADE_TEST_EVENTS": str(base / "events.jsonl")},
        timeout=60,
        check=False,
    )


WITH_CALLBACK = BANS + 'callback = "tests.integration.callbacks:record"\n'


def test_a_backtest_calls_no_callback_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text(WITH_CALLBACK)
    (tmp_path / "events.log").write_text(
        "\n".join(json.dumps(request(10 + i, "192.0.2.3", p)) for i, p in enumerate(PROBES))
    )
    result = stockade_replay(tmp_path, str(tmp_path / "events.log"))
    assert result.returncode == 0, result.stderr
    events = [e["what"] for line in result.stdout.splitlines()[:-1] for e in json.loads(line)["events"]]
    assert events == ["malicious_request"] * 5 + ["ip_block"]
    assert not (tmp_path / "events.jsonl").exists()
    asked = stockade_replay(tmp_path, str(tmp_path / "events.log"), "--callbacks")
    assert asked.returncode == 0, asked.stderr
    called = [json.loads(line)["what"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert called == ["malicious_request"] * 5 + ["ip_block"]
    # Without --callbacks a callback's module is not even imported.
    (tmp_path / "stockade.toml").write_text(BANS + 'callback = "no_such_module_anywhere:record"\n')
    assert stockade_replay(tmp_path, str(tmp_path / "events.log")).returncode == 0
    missing = stockade_replay(tmp_path, str(tmp_path / "events.log"), "--callbacks")
    assert missing.returncode == 2
    assert "cannot import module 'no_such_module_anywhere'" in missing.stderr


def test_the_replay_api_calls_no_callback_unless_asked(tmp_path: Path) -> None:
    calls: list[str] = []
    (tmp_path / "stockade.toml").write_text(WITH_CALLBACK)
    config = load_config(tmp_path / "stockade.toml", callbacks={"tests.integration.callbacks:record": _collect(calls)})

    async def run(session: Replay) -> None:
        try:
            async for _ in session.run([json.dumps(request(10 + i, "192.0.2.3", p)) for i, p in enumerate(PROBES)]):
                pass
        finally:
            await session.close()

    asyncio.run(run(Replay(config)))
    assert calls == []
    asyncio.run(run(Replay(config, callbacks=True)))
    assert calls == ["malicious_request"] * 5 + ["ip_block"]


def _collect(calls: list[str]) -> Any:
    def record(what: str, *_: object) -> None:
        calls.append(what)

    return record


def test_dry_run_ip_blocks_reach_the_output_of_the_command(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text(WITH_CALLBACK + "dry_run = true\n")
    log = [
        f'192.0.2.44 - - [01/Dec/2026:10:00:0{i} +0000] "GET {path} HTTP/1.1" 404 12 "-" "curl/8.0"'
        for i, path in enumerate(PROBES)
    ]
    result = stockade_replay(tmp_path, "-", stdin="\n".join(log) + "\n")
    assert result.returncode == 0, result.stderr
    blocks = [
        e
        for line in result.stdout.splitlines()[:-1]
        for e in json.loads(line).get("events", ())
        if e["what"] == "ip_block"
    ]
    assert [(b["data"]["ip"], b["data"]["dry_run"]) for b in blocks] == [("192.0.2.44", True)]
    assert not (tmp_path / "events.jsonl").exists()


def test_each_line_names_the_client_and_the_path(tmp_path: Path) -> None:
    out = replay(
        tmp_path,
        BANS,
        [
            {"at": 1, "type": "connection", "peer": "::ffff:192.0.2.9"},
            request(2, "192.0.2.9", "/a/b"),
            '203.0.113.8 - - [01/Dec/2026:10:00:00 +0000] "GET /x%20y?q=1 HTTP/1.1" 200 12 "-" "curl/8.0"',
        ],
    )
    assert [(o["type"], o["ip"], o.get("path")) for o in out[:-1]] == [
        ("connection", "192.0.2.9", None),
        ("request", "192.0.2.9", "/a/b"),
        ("connection", "203.0.113.8", None),
        ("request", "203.0.113.8", "/x y"),
    ]


def test_a_request_with_an_unknown_key_is_a_bad_line(tmp_path: Path) -> None:
    out = replay(tmp_path, BANS, [{"at": 1, "type": "request", "peer": "192.0.2.9", "request": {"pth": "/a"}}])
    assert out[0]["line"] == 1
    expected = "invalid request: unknown request key 'pth': expected one of body, body_base64, client_ip,"
    assert out[0]["error"].startswith(expected)


def test_the_replay_streams_its_input_and_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Output is written while the input is still being read: nothing waits for the whole file."""
    (tmp_path / "stockade.toml").write_text(BANS)
    written = io.StringIO()
    monkeypatch.setattr(sys, "stdout", written)
    total = 5000
    first_output_at: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(total):
            if written.getvalue() and not first_output_at:
                first_output_at.append(i)
            if i % 2:
                yield json.dumps({"at": i, "type": "connection", "peer": f"192.0.2.{i % 250}"}).encode() + b"\n"
            else:  # through the fast path
                moment = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1_800_000_000 + i))
                yield f'192.0.2.{i % 250} - - [{moment}] "GET /a HTTP/1.1" 200 1 "-" "x"\n'.encode()

    session = Replay(load_config(tmp_path / "stockade.toml"))
    asyncio.run(replay_command._run(session, chunks(), replay_command.Progress(None, io.StringIO(), asked=False)))
    assert first_output_at
    assert first_output_at[0] < total
    assert len(written.getvalue().splitlines()) == total + total // 2 + 1


PROGRESS = re.compile(r"replay: (?:(\d+)% of [\d.]+ (?:bytes|kB|MB), )?([\d,]+) lines, [\d,]+ lines/s")


def test_progress_on_stderr_only_when_asked_or_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text(BANS)
    events = "\n".join(json.dumps({"at": i, "type": "connection", "peer": "192.0.2.1"}) for i in range(300)) + "\n"
    (tmp_path / "events.jsonl").write_text(events)
    quiet = stockade_replay(tmp_path, str(tmp_path / "events.jsonl"))
    assert (quiet.returncode, quiet.stderr) == (0, "")  # stderr is a pipe here
    shown = stockade_replay(tmp_path, str(tmp_path / "events.jsonl"), "--progress")
    assert shown.returncode == 0
    reports = shown.stderr.splitlines()
    assert all(PROGRESS.fullmatch(line) for line in reports)
    last = PROGRESS.fullmatch(reports[-1])
    assert last is not None
    assert (last[1], last[2]) == ("100", "300")
    piped = stockade_replay(tmp_path, "-", "--progress", stdin=events)
    last = PROGRESS.fullmatch(piped.stderr.splitlines()[-1])
    assert last is not None
    assert (last[1], last[2]) == (None, "300")  # no size, no percentage
    assert len(piped.stdout.splitlines()) == 301
    # On a terminal: a short replay stays quiet; --progress rewrites one line in place.
    for args, expected in (((), ""), (("--progress",), "\r")):
        leader, follower = pty.openpty()
        try:
            result = stockade_replay(tmp_path, str(tmp_path / "events.jsonl"), *args, stderr=follower)
            os.close(follower)
            follower = -1
            seen = _drain(leader)
        finally:
            os.close(leader)
            if follower >= 0:
                os.close(follower)
        assert result.returncode == 0
        assert seen.startswith(expected)
        if expected:
            assert PROGRESS.fullmatch(seen.strip("\r\n"))


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def _posted(at: int, peer: str, content_type: str, **body: str) -> dict[str, Any]:
    request = {"method": "POST", "path": "/submit", "headers": {"Content-Type": content_type}, **body}
    return {"at": at, "type": "request", "peer": peer, "request": request}


def test_request_events_carry_headers_and_a_body_that_detection_reads(tmp_path: Path) -> None:
    multipart = (
        b'--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n\r\n\xff\xd8\xff\xe0\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="cmd"\r\n\r\n;cat /etc/passwd\r\n--XyZ--\r\n'
    )
    events: list[dict[str, Any] | str] = [
        _posted(1, "192.0.2.1", "application/x-www-form-urlencoded", body="q=1' UNION ALL SELECT password,2 FROM u--"),
        _posted(2, "192.0.2.2", "application/json", body='{"name": "<script>alert(document.cookie)</script>"}'),
        _posted(3, "192.0.2.3", "multipart/form-data; boundary=XyZ", body_base64=base64.b64encode(multipart).decode()),
        _posted(4, "192.0.2.4", "application/x-www-form-urlencoded", body="q=hello+world"),
        {"at": 5, "type": "request", "peer": "192.0.2.5", "request": {"headers": {"User-Agent": "sqlmap/1.7"}}},
    ]
    out = replay(tmp_path, BANS, events)
    # (Which rules fire is the rule pack's business: here, only whether the body and headers were read.)
    assert [o["malicious"] is not None for o in out[:-1]] == [True, True, True, False, True]


def test_a_body_is_text_or_base64_not_both(tmp_path: Path) -> None:
    both = _posted(1, "192.0.2.1", "text/plain", body="a", body_base64="YQ==")
    bad = _posted(2, "192.0.2.1", "text/plain", body_base64="not base64!")
    out = replay(tmp_path, BANS, [both, bad])
    assert out[0]["error"] == "invalid request: request keys 'body' and 'body_base64': expected one of them, not both"
    assert out[1]["error"] == "invalid request: request key 'body_base64': expected base64 (RFC 4648, with padding)"


def test_a_path_only_an_attack_sends_is_refused_and_counts(tmp_path: Path) -> None:
    ip = "203.0.113.50"
    events = [request(1000 + i, ip, "/static/../../../etc/passwd") for i in range(5)]
    events.append(request(1006, "203.0.113.51", "/a\\b"))  # malformed (a backslash), not hostile
    out = replay(tmp_path, BANS, events)
    assert [(o["status"], o["malicious"]) for o in out[:5]] == [(400, "refused_path")] * 5
    assert [o["ip_status"] for o in out[:5]] == ["warning 1", "warning 2", "warning 3", "warning 4", "blocked 3600"]
    assert [e["what"] for e in out[4]["events"]] == ["malicious_request", "ip_block"]
    assert out[0]["events"][0]["data"]["rule"] == "refused_path"
    assert (out[5]["status"], out[5]["malicious"], out[5]["ip_status"]) == (400, None, "safe")


def test_a_dot_segment_beside_a_backslash_or_a_null_byte_counts_as_an_attack(tmp_path: Path) -> None:
    # Refused for a backslash, an escaped slash or a control character: hostile only with a
    # ".." beside it (a traversal for a backend that splits or decodes further) or a null byte.
    paths = [
        "/static/..\\..\\windows\\win.ini",
        "/a%2f..%2f..%2fetc%2fpasswd",
        "/etc/php.ini%00",
        "/a/../../etc/passwd%09",
    ]
    events = [request(1000 + i, "203.0.113.60", "", uri=path) for i, path in enumerate(paths)]
    events.append(request(1010, "203.0.113.61", "", uri="/presentations/vim/%094"))  # a stray tab, from a real log
    out = replay(tmp_path, BANS, events)
    assert [(o["status"], o["malicious"]) for o in out[:4]] == [(400, "refused_path")] * 4
    assert (out[4]["status"], out[4]["malicious"], out[4]["ip_status"]) == (400, None, "safe")
