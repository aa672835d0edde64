"""The console over real HTTP (no browser): sign-in, who may ask, CSRF, actions, bad input, reloads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from stockade.server.testing import ServerThread
from tests.integration.console_support import (
    ACTIONS,
    GET_PAGES,
    TOKEN,
    Browserless,
    config_text,
    hidden,
    request,
    write_site,
)

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(write_site(tmp_path)) as server:
        yield server


def admin_port(server: ServerThread) -> int:
    return int(server.admin_url.rstrip("/").rsplit(":", 1)[1])


def audit_calls(server: ServerThread) -> list[dict[str, object]]:
    server.flush_events()
    path = server.config.audit_json
    assert path is not None
    lines = path.read_text().splitlines() if path.exists() else []
    return [record for record in map(json.loads, lines) if record["what"] == "admin_call"]


@pytest.fixture
def console(running: ServerThread) -> Browserless:
    client = Browserless(admin_port(running))
    assert client.sign_in().status == 303
    return client


def test_signing_in_sets_a_strict_http_only_session_cookie(running: ServerThread) -> None:
    client = Browserless(admin_port(running))
    first = client.get("/ui/")
    assert first.status == 303
    assert first.header("Location") == "/ui/login?next=%2F"
    page = client.get("/ui/login")
    assert page.status == 200
    assert 'for="token"' in page.body  # the field has its label
    nonce = hidden(page.body, "csrf")
    wrong = client.post("/ui/login", {"csrf": nonce, "next": "/bans", "token": TOKEN + "x"})
    assert wrong.status == 401
    assert "not the admin token" in wrong.body
    assert "stockade_console" not in client.jar
    forged = Browserless(client.port).post("/ui/login", {"csrf": nonce, "token": TOKEN})  # no login cookie
    assert forged.status == 403
    good = client.post("/ui/login", {"csrf": nonce, "next": "/bans", "token": TOKEN})
    assert good.status == 303
    assert good.header("Location") == "/ui/bans"
    [cookie] = [c for c in good.cookies() if c.startswith("stockade_console=")]
    attributes = [part.strip() for part in cookie.split(";")]
    assert {"HttpOnly", "SameSite=Strict", "Path=/ui/"} <= set(attributes)
    assert "Secure" not in attributes  # the admin listener speaks plain HTTP here
    overview = client.get("/ui/")
    assert overview.status == 200
    assert "<h1>Overview</h1>" in overview.body
    assert "default-src 'none'" in (overview.header("Content-Security-Policy") or "")


def test_signing_in_never_sends_the_browser_to_another_site(running: ServerThread) -> None:
    client = Browserless(admin_port(running))
    page = client.get("/ui/login?next=//evil.example/")
    assert hidden(page.body, "next") == "/"
    answer = client.post(
        "/ui/login", {"csrf": hidden(page.body, "csrf"), "next": "https://evil.example/", "token": TOKEN}
    )
    assert answer.header("Location") == "/ui/"


@pytest.mark.parametrize("path", [*GET_PAGES, "/no-such-page"])
def test_no_page_without_the_token(running: ServerThread, path: str) -> None:
    port = admin_port(running)
    for headers in ({}, {"Cookie": "stockade_console=1800000000.forged.mac"}):
        answer = request(port, "GET", "/ui" + path, headers=headers)
        assert answer.status == 303, (path, headers)
        assert (answer.header("Location") or "").startswith("/ui/login")
        assert "Overview" not in answer.body
    wrong = request(port, "GET", "/ui" + path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status == 401


def test_only_the_login_page_and_its_assets_answer_without_the_token(running: ServerThread) -> None:
    port = admin_port(running)
    assert request(port, "GET", "/ui/login").status == 200
    assert request(port, "GET", "/ui/static/console.css").status == 200
    assert request(port, "GET", "/ui/static/console.js").status == 200
    assert request(port, "GET", "/ui/static/../app.py").status in (303, 404)
    assert request(port, "GET", "/ui/static/nothing").status == 404


@pytest.mark.parametrize("path", GET_PAGES)
def test_every_page_answers_a_session_and_the_bearer_token(console: Browserless, path: str) -> None:
    assert console.get("/ui" + path).status == 200
    assert request(console.port, "GET", "/ui" + path, headers=BEARER).status == 200


def test_a_wrong_bearer_token_is_refused_even_with_a_good_cookie(console: Browserless) -> None:
    assert console.get("/ui/", {"Authorization": "Bearer nope"}).status == 401


@pytest.mark.parametrize("path", list(ACTIONS))
def test_every_action_is_refused_without_a_session_or_with_a_wrong_csrf_token(
    running: ServerThread, console: Browserless, path: str
) -> None:
    fields = ACTIONS[path]
    token = console.csrf()
    other = Browserless(console.port)
    other.sign_in()
    attempts = [
        (Browserless(console.port), {**fields, "csrf": token}, {}, 401),  # no session cookie
        (console, dict(fields), {}, 403),  # no CSRF token
        (console, {**fields, "csrf": ""}, {}, 403),
        (console, {**fields, "csrf": token[:-2] + "xx"}, {}, 403),
        (console, {**fields, "csrf": other.csrf()}, {}, 403),  # another session's token
        (console, {**fields, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}, 403),
        (console, dict(fields), {"X-CSRF-Token": "forged"}, 403),
    ]
    for client, body, headers, status in attempts:
        answer = client.post("/ui" + path, body, headers)
        assert answer.status == status, (path, body, headers, answer.body)
    assert audit_calls(running) == []  # nothing reached the API
    guard = running.guard
    assert running.app.metrics.reloads.last is None
    assert console.get("/ui/").status == 200  # the session still works (logout did not run)
    assert "192.0.2.99" not in console.get("/ui/bans").body
    assert guard is running.guard


def test_actions_with_a_session_go_through_the_api_and_are_audited(running: ServerThread, console: Browserless) -> None:
    token = console.csrf()
    banned = console.post("/ui/bans/ban", {"ip": "192.0.2.99", "duration": "10m", "csrf": token})
    assert banned.status == 303
    assert banned.header("Location") == "/ui/bans?done=banned&subject=192.0.2.99"
    page = console.get(banned.header("Location") or "")
    assert "Banned 192.0.2.99." in page.body
    assert 'data-ip="192.0.2.99"' in page.body
    assert console.post("/ui/bans/unban", {"ip": "192.0.2.99", "csrf": token}).status == 303
    assert 'data-ip="192.0.2.99"' not in console.get("/ui/bans").body
    blocked = console.post("/ui/lockouts/block", {"user": "bob", "dir": "/secure", "duration": "1h", "csrf": token})
    assert blocked.status == 303
    assert 'data-user="bob"' in console.get("/ui/lockouts").body
    assert console.post("/ui/lockouts/unblock", {"user": "bob", "dir": "/secure", "csrf": token}).status == 303
    assert 'data-user="bob"' not in console.get("/ui/lockouts").body
    calls = [(c["by"], c["action"], c["status"]) for c in audit_calls(running)]
    assert calls == [
        ("console", "block_ip", 200),
        ("console", "unblock_ip", 200),
        ("console", "block_user", 200),
        ("console", "unblock_user", 200),
    ]


def test_scripts_with_the_bearer_token_need_no_csrf_token(running: ServerThread) -> None:
    port = admin_port(running)
    body = b"ip=198.51.100.0%2F24&duration=forever"
    answer = request(
        port, "POST", "/ui/bans/ban", body, {**BEARER, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status == 303
    assert [(c["by"], c["args"]) for c in audit_calls(running)] == [
        ("admin", {"ip": "198.51.100.0/24", "force": False, "seconds": "infinity"})
    ]


def test_the_public_listener_never_serves_the_console(running: ServerThread) -> None:
    for path in ("/ui/", "/ui/login", "/ui/static/console.css", "/ui/bans"):
        answer = request(running.port, "GET", path)
        assert answer.status == 404, path
        assert "stockade console" not in answer.body
    answer = request(running.port, "POST", "/ui/login", b"token=" + TOKEN.encode())
    assert answer.status in (404, 405)


@pytest.mark.parametrize(
    ("method", "path", "fields", "status", "words"),
    [
        ("POST", "/ui/bans/ban", {"ip": "not-an-ip"}, 400, "not-an-ip"),
        (
            "POST",
            "/ui/bans/ban",
            {"ip": "192.0.2.1", "duration": "ten"},
            400,
            "duration: &#39;ten&#39; is not a duration",
        ),
        ("POST", "/ui/bans/ban", {"ip": "198.51.100.7/24"}, 400, "host bits"),
        ("POST", "/ui/bans/unban", {"ip": "192.0.2.200"}, 404, "not banned"),
        ("POST", "/ui/lockouts/block", {"user": "bob", "dir": "/nowhere"}, 404, "not a protected directory"),
        ("POST", "/ui/lockouts/unblock", {"user": "nobody", "dir": "/secure"}, 404, "not blocked"),
        ("GET", "/ui/bans?strikes=-1", {}, 400, "strikes"),
        ("GET", "/ui/bans?state=x", {}, 400, "state"),
        ("GET", "/ui/bans/history?ip=nowhere", {}, 400, "not an IP address"),
        ("GET", "/ui/lockouts?dir=/nowhere", {}, 400, "dir"),
        ("GET", "/ui/rules?condition=req_path_in(", {}, 400, "^"),
        ("GET", "/ui/rules?target=http://x/", {}, 400, "expected a path"),
        ("GET", "/ui/rules?method=BREW&target=/", {}, 400, "method"),
        ("GET", "/ui/?range=week", {}, 400, "range"),
        ("GET", "/ui/audit?q=%ff", {}, 400, "UTF-8"),
    ],
)
def test_bad_input_answers_a_page_with_the_reason(
    console: Browserless, method: str, path: str, fields: dict[str, str], status: int, words: str
) -> None:
    answer = console.post(path, {**fields, "csrf": console.csrf()}) if method == "POST" else console.get(path)
    assert answer.status == status, answer.body
    assert words in answer.body


def test_a_huge_or_foreign_form_is_refused(console: Browserless) -> None:
    token = console.csrf()
    huge = console.post("/ui/bans/ban", {"ip": "x" * 70_000, "csrf": token})
    assert huge.status == 413
    other = request(console.port, "POST", "/ui/reload", b"{}", {"Content-Type": "application/json", **BEARER})
    assert other.status == 415


def test_logging_out_ends_the_session(console: Browserless) -> None:
    cookie = console.jar["stockade_console"]
    answer = console.post("/ui/logout", {"csrf": console.csrf()})
    assert answer.status == 303
    assert answer.header("Location") == "/ui/login?done=logged_out"
    assert "stockade_console" not in console.jar
    again = request(console.port, "GET", "/ui/", headers={"Cookie": f"stockade_console={cookie}"})
    assert again.status == 303  # the copied cookie no longer works in this process


def test_a_failed_reload_shows_its_errors_one_a_line(running: ServerThread, console: Browserless) -> None:
    config = running.config.path
    good = config.read_text()
    before = console.get("/ui/reload").body
    digest = re.search(r"<code>([0-9a-f]{64})</code>", before)
    assert digest is not None
    config.write_text(
        good.replace("max_retries = 3", 'max_retries = "x"').replace("block_duration = 600", "block_duration = -1")
    )
    failed = console.post("/ui/reload", {"csrf": console.csrf()})
    assert failed.status == 409
    errors = re.findall(r"<li><code>([^<]*)</code></li>", failed.body.split('id="reload-errors"')[1].split("</ul>")[0])
    assert len(errors) == 2
    assert all(line.startswith(f"{config}: ") for line in errors)
    assert any("directory[0].max_retries" in line for line in errors)
    assert any("bans.block_duration" in line for line in errors)
    assert "failed" in console.get("/ui/").body
    config.write_text(good.replace("block_duration = 600", "block_duration = 900"))
    done = console.post("/ui/reload", {"csrf": console.csrf()})
    assert done.status == 303
    after = console.get(done.header("Location") or "").body
    assert "Reloaded the configuration." in after
    assert digest[1] not in after  # the digest follows the configuration in force
    assert config_text() in good  # the test changed only what it said


def test_the_rules_page_counts_hits(running: ServerThread, console: Browserless) -> None:
    def hits(rule: str) -> str:
        found = re.search(rf'<tr data-rule="{rule}">.*?<td class="num hits">(\d+)</td>', console.get("/ui/rules").body)
        assert found is not None
        return found[1]

    assert hits("no_evil") == "0"
    with pytest.raises(Exception):
        request(running.port, "GET", "/evil/x", source="127.0.0.3")
    assert request(running.port, "GET", "/status", source="127.0.0.3").status == 200
    assert hits("no_evil") == "1"
    assert hits("allow_status") == "1"
    assert request(running.port, "GET", "/.env", source="127.0.0.3").status == 404
    body = console.get("/ui/rules").body
    assert re.search(
        r'data-category="sensitive_files"><th scope="row">sensitive_files</th><td class="num">1</td>', body
    )
    overview = console.get("/ui/").body  # the minute in progress is in the charts at once
    assert "closed · mod_block no_evil" in overview
    assert "allowed · mod_block allow_status" in overview
    assert "allowed · detection sensitive_files" in overview
    history = console.get("/ui/bans/history?ip=127.0.0.3").body
    assert '<code class="path">/.env</code>' in history


def test_the_detection_tryout_explains_rules_parts_and_score(console: Browserless) -> None:
    target = quote("/search?q=1' or '1'='1", safe="")
    form = quote("comment=<script>alert(1)</script>", safe="")
    body = console.get(f"/ui/rules?method=POST&target={target}&body={form}").body
    assert "<strong>malicious</strong>" in body
    assert re.search(r"score \d+ \(threshold 5\)", body)
    tried = body[body.index('id="detect-hits"') :]
    assert re.search(
        r'<tr data-rule="sqli_tokens"><td><code>sqli_tokens</code></td><td>sql_injection</td>'
        r'<td class="num">\+5</td><td>args</td>',
        tried,
    )
    assert 'data-rule="xss_html"' in tried
    clean = console.get("/ui/rules?target=" + quote("/shop/search?q=hiking boots", safe="")).body
    assert "<strong>clean</strong>" in clean
    assert "no rule fires" in clean


def test_head_answers_like_get_without_a_body(console: Browserless) -> None:
    answer = request(
        console.port, "HEAD", "/ui/bans", headers={"Cookie": f"stockade_console={console.jar['stockade_console']}"}
    )
    assert answer.status == 200
    assert answer.body == ""
    assert int(answer.header("Content-Length") or 0) > 0
