"""Responses the decision never sees: the proxy's access log, followed across real rotations, bans.

The first test runs nginx in front of an upstream that answers 404, stockade deciding for
nginx and following nginx's own access log. The log is rotated the two ways logrotate does
it while requests go on: renamed (then ``nginx -s reopen``), and copied then truncated.
The response rule must count every 404 exactly once: a line read twice would ban too
early, a line lost too late. The second runs the log-only mode, as fail2ban does:
``stockade watch-log`` bans from a log into a SQLite file, and the decision endpoint of a
separate ``stockade serve`` enforces the ban.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

from stockade.clock import ManualClock
from stockade.server.testing import ServerThread
from tests.integration.proxies import WAIT, Caddy, Nginx, Upstream, ask, free_port, wait_for_text
from tests.integration.serve_process import ServeProcess
from tests.integration.test_decision_proxies import caddy_site, nginx_site, stockade_config

RESPONSE_RULE = """
[bans]
malicious_req_threshold = 1
block_duration = 600
response_rules = [{ name = "not_found_flood", status = [404], count = 5, window = 60 }]
"""


def config_with_logs(base: Path, log: Path) -> Path:
    path = stockade_config(base)
    text = path.read_text().replace("[bans]\nmalicious_req_threshold = 3\nblock_duration = 600\n", RESPONSE_RULE)
    path.write_text(text + f'\n[logs]\nfiles = ["{log}"]\n')
    return path


def test_a_ban_from_the_access_log_is_enforced_across_rotations(tmp_path: Path) -> None:
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    log = nginx_dir / "access.log"
    clock = ManualClock(1_800_000_000.0)
    with Upstream() as upstream, ServerThread(config_with_logs(tmp_path, log), clock=clock) as stockade:
        watcher = stockade.app.log_watcher
        assert watcher is not None
        port = free_port()
        with Nginx(nginx_dir, nginx_site(port, stockade.decision_port, upstream.port)) as nginx:
            lines = 0

            def request(path: str, *, wait: bool = True) -> int:
                nonlocal lines
                status = ask(port, path)[0]
                lines += 1
                if wait:
                    assert watcher.wait_for_lines(lines, WAIT), f"{watcher.lines_read} lines read, not {lines}"
                return status

            assert request("/missing/1") == 404
            assert request("/missing/2") == 404
            # logrotate's default: rename, then the proxy reopens its log (a new file).
            os.rename(log, nginx_dir / "access.log.1")
            assert request("/missing/3", wait=False) == 404  # still written to the renamed file
            nginx.reopen()
            assert request("/missing/4") == 404
            # copytruncate: a copy, then the same file emptied; one line may be unread when it happens.
            assert request("/missing/5", wait=False) == 404
            os.rename(nginx_dir / "access.log.1", nginx_dir / "access.log.2")
            shutil.copyfile(log, nginx_dir / "access.log.1")
            os.truncate(log, 0)
            assert request("/hello") == 200  # five 404s so far: not more than the rule's count
            assert request("/missing/6") == 404  # the sixth: the rule strikes, the client is banned
            status, headers, _ = ask(port, "/hello")
            assert status == 403
            assert headers["retry-after"] == "600"
            assert ask(port, "/hello", source="127.0.0.3")[0] == 200
            assert watcher.counts.get("unparsed", 0) == 0


def test_watch_log_needs_a_log(tmp_path: Path) -> None:
    config = stockade_config(tmp_path)
    stockade = str(Path(sys.executable).with_name("stockade"))
    command = [stockade, "watch-log", "-c", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT, check=False)
    assert (done.returncode, done.stderr) == (2, "error: no log to follow: give FILES or a [logs] section\n")


def test_watch_log_bans_and_a_separate_decision_endpoint_enforces(tmp_path: Path) -> None:
    config = stockade_config(tmp_path, extra='\n[audit]\njson = "audit.jsonl"\n')
    text = config.read_text().replace('url = "memory://"', 'url = "sqlite:///state.db"')
    config.write_text(text.replace("[bans]\nmalicious_req_threshold = 3\nblock_duration = 600\n", RESPONSE_RULE))
    log = tmp_path / "access.log"
    log.touch()
    stockade = str(Path(sys.executable).with_name("stockade"))
    with ServeProcess(config) as serve:
        watching = subprocess.Popen(
            [stockade, "watch-log", "-c", str(config), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert watching.stdout is not None
            assert watching.stdout.readline().strip() == f"stockade: following {log} (combined)"
            check = {"X-Original-URI": "/", "X-Original-Method": "GET", "X-Forwarded-For": "203.0.113.7"}
            assert ask(serve.decision_port, "/nginx", source="127.0.0.1", headers=check)[0] == 200
            with log.open("a") as out:
                for i in range(6):
                    out.write(f'203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /nope/{i} HTTP/1.1" 404 9 "-" "x"\n')
            wait_for_text(tmp_path / "audit.jsonl", '"ip_block"')
            # The serving process catches up with the file every few milliseconds, on its own loop.
            deadline = time.monotonic() + WAIT
            while (answer := ask(serve.decision_port, "/nginx", source="127.0.0.1", headers=check))[0] == 200:
                assert time.monotonic() < deadline, "the ban watch-log wrote never reached the decision endpoint"
                time.sleep(0.01)
            status, headers, _ = answer
            assert (status, headers["retry-after"]) == (403, "600")
        finally:
            watching.terminate()
            assert watching.wait(WAIT) == 0
            if watching.stdout is not None:
                watching.stdout.close()


def documented_caddy_fields() -> str:
    """The ``[logs.fields]`` table docs/decision.md gives for Caddy's JSON access log, as TOML."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "decision.md").read_text()
    block = text.split("Caddy's JSON access log:", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    fields = tomllib.loads(textwrap.dedent(block))["logs"]["fields"]
    assert fields["status"] == "status"
    return "[logs.fields]\n" + "".join(f"{name} = {json.dumps(key)}\n" for name, key in fields.items())


def test_caddy_json_access_log_with_the_documented_field_map(tmp_path: Path) -> None:
    """Caddy's own JSON access log, read through the field map of docs/decision.md, bans a 404 flood."""
    caddy_dir = tmp_path / "caddy"
    caddy_dir.mkdir()
    log = caddy_dir / "access.log"
    log.touch()
    path = config_with_logs(tmp_path, log)
    path.write_text(path.read_text() + 'format = "json"\n\n' + documented_caddy_fields())
    clock = ManualClock(1_800_000_000.0)
    with Upstream() as upstream, ServerThread(path, clock=clock) as stockade:
        watcher = stockade.app.log_watcher
        assert watcher is not None
        port = free_port()
        site = caddy_site(port, stockade.decision_port, upstream.port).replace(
            "\treverse_proxy", f"\tlog {{\n\t\toutput file {log}\n\t\tformat json\n\t}}\n\treverse_proxy"
        )
        with Caddy(caddy_dir, site):
            for i in range(1, 7):
                assert ask(port, f"/missing/{i}")[0] == 404
                assert watcher.wait_for_lines(i, WAIT), f"{watcher.lines_read} lines read, not {i}"
            status, headers, _ = ask(port, "/hello")
            assert status == 403
            assert headers["retry-after"] == "600"
            assert ask(port, "/hello", source="127.0.0.3")[0] == 200
            assert watcher.counts.get("unparsed", 0) == 0
