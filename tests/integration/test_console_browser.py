"""The console in a real browser (headless Chromium driven by Playwright) against a real ``stockade serve``.

One browser and one server process for the module; each test uses its own
client addresses (127.0.0.x) and users, so the tests do not depend on one another's order.
A screenshot of every page is saved under ``.artifacts/console/`` of the repository (the
run prints where). Without Chromium the tests are skipped on a developer's machine with the
reason, and fail under CI (``CI`` set), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.console_support import PASSWORDS, SCREENSHOTS, TOKEN, request, write_site

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts" / "console"
CHROMIUM = os.environ.get("STOCKADE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401, PLC0415
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed ({CHROMIUM} not found; apt-get install chromium)"
    return None


if (_reason := _missing()) is not None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {_reason}", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@dataclass
class Served:
    config: Path
    port: int
    admin: int

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.admin}/ui"


def _port(line: str, prefix: str) -> int:
    assert line.startswith(prefix), line
    return int(line.strip().rstrip("/").rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``stockade serve`` as its own process, one worker; stopped with SIGINT at the end."""
    base = tmp_path_factory.mktemp("console-site")
    config = write_site(base)
    command = [str(Path(sys.executable).with_name("stockade")), "serve", "-c", str(config), "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with (base / "stderr.log").open("w") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env, start_new_session=True
        )
        try:
            assert process.stdout is not None
            port = _port(process.stdout.readline(), "stockade: listening on http://127.0.0.1:")
            admin = _port(process.stdout.readline(), "stockade: admin API on http://127.0.0.1:")
            yield Served(config, port, admin)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser for every test here (this module is the only one with a browser).

    Module-scoped rather than session-scoped: Playwright's synchronous API runs an event loop
    in this thread while it is open, and the tests after these call ``asyncio.run``.
    """
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    signed_in = context.new_page()
    sign_in(signed_in, served)
    yield signed_in
    context.close()


def sign_in(page: Page, served: Served) -> None:
    page.goto(served.ui + "/")
    expect(page).to_have_url(served.ui + "/login?next=%2F")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()


def shot(page: Page, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.append(path)


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls a screen reader could not name."""
    found: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
            .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !(el.tagName === 'BUTTON' && el.textContent.trim()))
            .map(el => el.outerHTML)"""
    )
    return found


# -- the tests ---------------------------------------------------------------------------------


def test_sign_in_with_the_keyboard_and_visit_every_page(browser: Browser, served: Served) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(served.ui + "/bans")
    shot(page, "01-login")
    assert unlabelled_controls(page) == []
    page.keyboard.type(TOKEN)  # the token field has the focus
    page.keyboard.press("Enter")
    expect(page).to_have_url(served.ui + "/bans")
    request(served.port, "GET", "/", source="127.0.0.20")
    request(served.port, "GET", "/.git/config", source="127.0.0.20")
    pages = {
        "02-overview": "/",
        "03-overview-day": "/?range=day",
        "10-audit": "/audit",
        "11-reload": "/reload",
    }
    for name, path in pages.items():
        page.goto(served.ui + path)
        expect(page.locator("main h1")).to_be_visible()
        assert unlabelled_controls(page) == [], path
        shot(page, name)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    context.close()


def test_a_probing_client_shows_up_banned_within_two_seconds_and_is_unbanned_from_the_page(
    page: Page, served: Served
) -> None:
    client = "127.0.0.5"
    page.goto(served.ui + "/bans")
    row = page.locator(f'tr[data-ip="{client}"]')
    expect(row).to_have_count(0)
    for probe in ("/.env", "/wp-login.php", "/.git/HEAD"):
        request(served.port, "GET", probe, source=client)
    expect(row).to_be_visible(timeout=2000)  # the page polls; no reload
    expect(row).to_contain_text("banned")
    assert request(served.port, "GET", "/", source=client).status == 403
    shot(page, "04-bans")
    page.get_by_role("link", name=f"History of {client}").click()
    expect(page.get_by_role("heading", name=f"History of {client}")).to_be_visible()
    expect(page.locator("#history tbody tr")).to_have_count(4)  # three strikes and the ban
    expect(page.locator("#history")).to_contain_text("/wp-login.php")
    expect(page.locator("#history")).to_contain_text("wordpress_probe")
    shot(page, "05-history")
    page.goto(served.ui + f"/bans?q={client}")
    page.get_by_role("button", name=f"Unban {client}").click()
    expect(page.get_by_role("status")).to_have_text(f"Lifted the ban of {client}.")
    expect(row).to_have_count(0)
    assert request(served.port, "GET", "/", source=client).status == 200


def test_a_ban_by_hand_with_a_duration_and_the_filters(page: Page, served: Served) -> None:
    page.goto(served.ui + "/bans")
    page.get_by_label("Address or network", exact=True).fill("203.0.113.0/24")
    page.get_by_label("Duration", exact=True).fill("2h")
    page.get_by_role("button", name="Ban", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Banned 203.0.113.0/24.")
    row = page.locator('tr[data-ip="203.0.113.0/24"]')
    expect(row).to_contain_text("by hand")
    expect(row).to_contain_text("2 h")
    page.get_by_label("IP or network", exact=True).fill("203.0.113.77")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#bans-list tbody tr")).to_have_count(1)
    page.get_by_label("Time left").select_option("lt10m")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#bans-list tbody tr")).to_have_count(0)


def test_a_user_is_blocked_and_unblocked_from_the_page(page: Page, served: Served) -> None:
    auth = {"Authorization": "Basic " + _basic("alice", PASSWORDS["alice"])}
    assert request(served.port, "GET", "/secure/", headers=auth).status == 200  # a recent success
    page.goto(served.ui + "/lockouts")
    expect(page.locator("#lockouts")).to_contain_text("alice")  # listed among the recent successes
    page.get_by_label("User", exact=True).fill("alice")
    page.get_by_label("Directory", exact=True).select_option("/secure")
    page.get_by_label("Duration", exact=True).fill("1h")
    page.get_by_role("button", name="Block", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Blocked alice in /secure.")
    row = page.locator('tr[data-user="alice"]')
    expect(row).to_contain_text("1 h")
    expect(row.locator("time")).to_have_attribute("datetime", _iso_pattern())
    assert request(served.port, "GET", "/secure/", headers=auth).status == 403
    shot(page, "06-lockouts")
    page.get_by_role("button", name="Unblock alice in /secure").click()
    expect(page.get_by_role("status")).to_have_text("Unblocked alice in /secure.")
    expect(row).to_have_count(0)
    assert request(served.port, "GET", "/secure/", headers=auth).status == 200


def test_a_rule_hit_counter_moves_and_the_tryouts_answer(page: Page, served: Served) -> None:
    page.goto(served.ui + "/rules")
    hits = page.locator('tr[data-rule="no_evil"] td.hits')
    before = int(hits.inner_text())
    with contextlib.suppress(OSError, ConnectionError):  # CLOSE: the connection drops without an answer
        request(served.port, "GET", "/evil/page", source="127.0.0.6")
    expect(hits).to_have_text(str(before + 1))  # live, without a reload
    page.get_by_label("Condition", exact=True).fill(
        'req_path_in("/a", false) && req_method_in("GET") || req_method_in("POST")'
    )
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#explain-output")).to_have_text(
        '(req_path_in("/a", false) && (req_method_in("GET") || req_method_in("POST")))'
    )
    page.get_by_label("Path and query").fill("/backup.sql")
    page.get_by_role("button", name="Try").click()
    expect(page.locator("#detect-output")).to_contain_text("triggers dump_file")
    expect(page.locator("#detect-output")).to_contain_text(re.compile(r"score \d+ \(threshold 5\)"))
    row = page.locator('#detect-hits tr[data-rule="dump_file"]')
    expect(row).to_contain_text("sensitive_files")
    expect(row).to_contain_text("+5")
    expect(row).to_contain_text("path")
    page.get_by_label("Path and query").fill("/comments")
    page.get_by_label("Form body (optional)").fill("text=<svg/onload=alert(1)>")
    page.get_by_role("button", name="Try").click()
    expect(page.locator('#detect-hits tr[data-rule="xss_html"]')).to_contain_text("args")
    shot(page, "07-rules")


def test_a_failed_reload_shows_its_errors_one_a_line(page: Page, served: Served) -> None:
    good = served.config.read_text()
    try:
        served.config.write_text(
            good.replace("max_retries = 3", "max_retries = -3").replace("threshold = 3", "threshold = 0")
        )
        page.goto(served.ui + "/reload")
        page.get_by_role("button", name="Reload now").click()
        errors = page.locator("#reload-errors li")
        expect(errors).to_have_count(2)
        expect(errors.nth(0)).to_contain_text(str(served.config))
        shot(page, "08-reload-failed")
        page.goto(served.ui + "/")
        expect(page.locator("#overview-state")).to_contain_text("failed")
    finally:
        served.config.write_text(good)
    page.goto(served.ui + "/reload")
    page.get_by_role("button", name="Reload now").click()
    expect(page.get_by_role("status")).to_have_text("Reloaded the configuration.")


def test_the_audit_page_streams_new_lines(page: Page, served: Served) -> None:
    page.goto(served.ui + "/audit?what=admin_call")
    lines = page.locator("#audit .stream li")
    before = lines.count()
    body = b'{"ip": "192.0.2.123", "seconds": 60}'
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    assert request(served.admin, "POST", "/ips/block", body, headers).status == 200
    expect(lines).to_have_count(before + 1)
    expect(lines.first).to_contain_text("192.0.2.123")
    shot(page, "09-audit")


def test_lists_and_forms_work_without_javascript(browser: Browser, served: Served) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, served)
    page.goto(served.ui + "/bans")
    expect(page.locator("#live")).to_be_hidden()  # nothing to switch without the script
    page.get_by_label("Address or network", exact=True).fill("192.0.2.44")
    page.get_by_role("button", name="Ban", exact=True).click()
    expect(page.locator('tr[data-ip="192.0.2.44"]')).to_be_visible()
    page.get_by_label("State").select_option("banned")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(served.ui + "/bans?q=&state=banned&reason=&remaining=any&strikes=&level=")
    page.get_by_role("button", name="Unban 192.0.2.44").click()
    expect(page.locator('tr[data-ip="192.0.2.44"]')).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(served.ui + "/bans")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()


def test_readable_on_a_phone(browser: Browser, served: Served) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    sign_in(page, served)
    for name, path in (("12-phone-overview", "/"), ("13-phone-bans", "/bans"), ("14-phone-lockouts", "/lockouts")):
        page.goto(served.ui + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        shot(page, name)
    context.close()


def _basic(user: str, password: str) -> str:
    import base64  # noqa: PLC0415

    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _iso_pattern() -> Any:
    import re  # noqa: PLC0415

    return re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
