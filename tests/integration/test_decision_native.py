"""The native front answers check requests itself, exactly as the Python decision point would.

A site with only a decision listener (no upstream), mod_block rules and a blocklist, bans
with detection, a lockout directory. An allowed request and a banned client are answered in
Rust; everything else (a matched rule, a blocklisted client, a lockout directory, a caller
that may not ask, a check that names no client, a detection hit) reaches the Python decision
point. Each answer is compared with the Python side's own (the front's native ladder
removed) and the metrics count each check request once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stockade.server.native import NativeServer
from stockade.server.testing import ServerThread
from tests.integration.conftest import Site
from tests.integration.proxies import ask
from tests.integration.test_native_ladder_front import metrics
from tests.integration.test_protecting_server import TOKEN, get

RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {"Name": "no_old", "Cond": 'req_path_prefix_in("/old", false)', "Action": {"Cmd": "CLOSE", "Params": []}}
        ],
    },
}


def config(site: Site) -> Path:
    directories = [{"path": "/secure", "auth_user_file": site.htpasswd.name, "max_retries": 3, "block_time": 1}]
    path = site.write_config(directories=directories, audit=False)
    (site.base / "rules.data").write_text(json.dumps(RULES))
    (site.base / "ips.data").write_text("198.51.100.0/24\n")
    path.write_text(
        path.read_text()
        + '\n[decision]\nlisten = "127.0.0.1:0"\nproxies = ["127.0.0.1"]\n'
        + '\n[block]\nrules = "rules.data"\nip_blocklist = "ips.data"\nwatch = false\n'
        + "\n[bans]\nblock_duration = 600\n"
        + f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
    )
    return path


@contextmanager
def serving(path: Path) -> Iterator[tuple[ServerThread, NativeServer]]:
    with ServerThread(path) as running:
        server = running.server
        assert isinstance(server, NativeServer)
        yield running, server


def check(
    running: ServerThread, uri: str, client: str, *, source: str = "127.0.0.1", extra: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Original-URI": uri, "X-Original-Method": "GET", "Host": "example.com", **(extra or {})}
    if client:
        headers["X-Forwarded-For"] = client
    status, found, body = ask(running.decision_port, "/nginx", source=source, headers=headers)
    found.pop("x-stockade-decision-id")
    found.pop("date", None)
    return status, found, body


def native_counts(server: NativeServer) -> tuple[int, int]:
    assert server.front is not None
    return server.front.check_counts()


def decisions(running: ServerThread) -> dict[str, float]:
    return metrics(running, "stockade_decisions_total")


UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CASES = [
    ("/index.html?id=42", "203.0.113.7", "127.0.0.1", None),  # allowed: native
    ("/old/page", "203.0.113.7", "127.0.0.1", None),  # mod_block CLOSE: 403 from Python
    ("/index.html", "198.51.100.4", "127.0.0.1", None),  # a blocklisted client: Python
    ("/secure/x", "203.0.113.7", "127.0.0.1", None),  # a lockout directory: 401 from Python
    ("/index.html", "203.0.113.7", "127.0.0.2", None),  # a caller that may not ask
    ("/index.html", "", "127.0.0.1", None),  # no client named: a bad check
    ("/a?q=1%27%20union%20select%20password%20from%20users--", "203.0.113.8", "127.0.0.1", None),  # detection
    ("/index.html", "203.0.113.9", "127.0.0.1", {"User-Agent": UA}),  # allowed: native
]


def test_check_requests_are_answered_natively_as_the_decision_point_answers(site: Site) -> None:
    with serving(config(site)) as (running, server):
        assert server.front is not None
        native = [check(running, uri, client, source=source, extra=extra) for uri, client, source, extra in CASES]
        assert native_counts(server) == (2, 0)
        assert native[0] == (200, {"x-stockade-client-ip": "203.0.113.7", "content-length": "0"}, b"")
        assert [answer[0] for answer in native] == [200, 403, 403, 401, 403, 400, 200, 200]
        server.front.set_ladder(None)
        python = [check(running, uri, client, source=source, extra=extra) for uri, client, source, extra in CASES]
        assert native == python
        assert native_counts(server) == (2, 0)
        found = decisions(running)
        assert found['stockade_decisions_total{outcome="allowed"}'] == 6  # three a pass, each counted once


def test_a_banned_client_is_answered_natively_with_retry_after(site: Site) -> None:
    with serving(config(site)) as (running, server):
        admin = int(running.admin_url.rsplit(":", 1)[1])
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        body = json.dumps({"ip": "203.0.113.50", "seconds": 60}).encode()
        assert get(admin, "/ips/block", headers, "POST", body)[0] == 200
        native = check(running, "/index.html", "203.0.113.50")
        assert native_counts(server) == (0, 1)
        status, found, _ = native
        assert status == 403
        assert 59 <= int(found["retry-after"]) <= 60
        assert server.front is not None
        server.front.set_ladder(None)
        python = check(running, "/index.html", "203.0.113.50")
        assert python[0] == 403
        assert {**python[1], "retry-after": ""} == {**found, "retry-after": ""}
        assert python[2] == native[2]
        assert decisions(running)['stockade_decisions_total{outcome="banned"}'] == 2


def test_response_rules_leave_check_requests_native(site: Site) -> None:
    # Response rules need the statuses, which a proxy's log brings (the decision never sees a
    # response): they keep the site's own requests on the Python side, not the checks.
    path = config(site)
    text = path.read_text().replace(
        "[bans]\n", '[bans]\nresponse_rules = [{ name = "nf", status = [404], count = 5, window = 60 }]\n', 1
    )
    path.write_text(text)
    with serving(path) as (running, server):
        assert server.front is not None
        assert check(running, "/index.html", "203.0.113.7")[0] == 200
        assert native_counts(server) == (1, 0)
