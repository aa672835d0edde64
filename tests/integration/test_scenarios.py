"""The reference scenarios of ``mod_security`` (spec ``mod_security.md`` §8.1), over real HTTP.

Each test runs the protecting server on a background thread with a manual clock, sends
real requests, and checks status codes, the challenge, the exact callback events and the
API results. API calls go through a second guard on the same SQLite file, as an
administrator's process would. Where stockade deliberately differs from the reference
(spec ``README.md`` §1), the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade import ManualClock, NoSuchDirectory, NotBlocked, StockadeError
from stockade.engine.views import BlockedUser
from tests.integration.scenario_support import (
    EVENTS_ENV,
    REALM,
    WRONG,
    Scenario,
    Site,
    basic,
    data,
    free_port,
    password,
    running,
)

BLOCK_SECONDS = 60.0  # block_time = 1 (minute)
YEAR = 365 * 24 * 3600.0

AUTH_FAIL = "auth_fail"
USER_BLOCK = "user_block"
USER_UNBLOCK = "user_unblock"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(autouse=True)
def events_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "events.jsonl"
    monkeypatch.setenv(EVENTS_ENV, str(path))
    return path


@pytest.fixture
def scenario(tmp_path: Path, clock: ManualClock) -> Iterator[Scenario]:
    with running(Site.create(tmp_path), clock) as s:
        yield s


def fails(user: str, n: int = 1) -> list[tuple[str, str]]:
    return [(AUTH_FAIL, user)] * n


def blocked_names(s: Scenario, directory: str | None = None) -> list[tuple[str, str]]:
    return [(b.user, b.directory) for b in s.guard.list_blocked_users(directory)]


# -- §2.3 responses that count nothing -------------------------------------------------------------


def test_challenge_without_credentials_and_public_paths_count_nothing(scenario: Scenario) -> None:
    reply = scenario.get("/secure/")
    assert reply.status == 401
    assert reply.header("WWW-Authenticate") == f'Basic realm="{REALM}", charset="UTF-8"'
    assert scenario.get("/", "alice", WRONG).status == 200
    assert scenario.get("/index.html", "nobody", WRONG).status == 200
    assert scenario.steps() == []
    assert scenario.guard.list_blocked_users() == []


# -- S1: the block happens on the max_retries-th failure ----------------------------------------


def test_s1_alice_blocked_on_the_third_failure(scenario: Scenario, clock: ManualClock) -> None:
    for n in (1, 2, 3):
        reply = scenario.wrong("alice")
        assert (reply.status, reply.challenged) == (401, True), n
        assert scenario.steps() == fails("alice") + ([(USER_BLOCK, "alice")] if n == 3 else [])
    block_event = scenario.history[-1]
    assert (block_event["address"], block_event["port"], block_event["directory"]) == (
        "127.0.0.1",
        scenario.port,
        "/secure",
    )
    assert "password" not in data(scenario.history[0])

    for _ in range(2):
        reply = scenario.right("alice")
        assert (reply.status, reply.challenged) == (403, False)
        assert b"You don't have permission to access &#47;secure&#47; on this server." in reply.body
        assert scenario.steps() == []

    assert scenario.guard.list_blocked_users() == [
        BlockedUser("alice", "/secure", "127.0.0.1", scenario.port, clock.now() + BLOCK_SECONDS)
    ]
    assert scenario.right("alice", "/fast").status == 200
    assert scenario.steps() == []


# -- S2: failures while blocked still count and re-block ------------------------------------------


def test_s2_bob_reblocked_while_blocked_and_listed_once(scenario: Scenario, clock: ManualClock) -> None:
    expected = [fails("bob"), fails("bob"), [*fails("bob"), (USER_BLOCK, "bob")], fails("bob")]
    for n, events in enumerate(expected, 1):
        reply = scenario.wrong("bob")
        assert (reply.status, reply.challenged) == (401, True), n
        assert scenario.steps() == events, n
    assert scenario.right("bob").status == 403

    clock.advance(1.1)
    assert scenario.wrong("bob").status == 401
    assert scenario.steps() == fails("bob")
    assert scenario.wrong("bob").status == 401
    assert scenario.steps() == [*fails("bob"), (USER_BLOCK, "bob")]

    # The reference lists bob twice (its Q10); stockade keeps one block, the longer one.
    assert scenario.guard.list_blocked_users() == [
        BlockedUser("bob", "/secure", "127.0.0.1", scenario.port, clock.now() + BLOCK_SECONDS)
    ]
    assert scenario.right("bob").status == 403
    assert scenario.steps() == []


# -- S3: unknown users and users outside require_user are counted too -------------------------------


def test_s3_unknown_user_and_user_outside_require_user_are_blocked(scenario: Scenario) -> None:
    for n in (1, 2, 3, 4):
        reply = scenario.get("/secure/", "mallory", WRONG)
        assert (reply.status, reply.challenged) == (401, True)
        assert scenario.steps() == fails("mallory") + ([(USER_BLOCK, "mallory")] if n == 3 else [])
    for n in (1, 2, 3):
        reply = scenario.right("outsider")  # a valid password, but not in require_user
        assert (reply.status, reply.challenged) == (401, True)
        assert scenario.steps() == fails("outsider") + ([(USER_BLOCK, "outsider")] if n == 3 else [])
    assert blocked_names(scenario) == [("mallory", "/secure"), ("outsider", "/secure")]


# -- S4: the administration API ---------------------------------------------------------------------


def test_s4_manual_block_and_unblock_of_dave(scenario: Scenario, clock: ManualClock) -> None:
    guard = scenario.guard
    assert guard.block_user("dave", "/secure", 60) == [
        BlockedUser("dave", "/secure", "127.0.0.1", scenario.port, clock.now() + 60)
    ]
    assert scenario.steps() == [(USER_BLOCK, "dave")]
    assert scenario.right("dave").status == 403
    assert scenario.steps() == []
    reply = scenario.wrong("dave")
    assert (reply.status, reply.challenged) == (401, True)
    assert scenario.steps() == fails("dave")

    removed = guard.unblock_user("dave", "/secure")
    assert [(b.user, b.directory) for b in removed] == [("dave", "/secure")]
    # The seed documents say an explicit unblock fires no callback (the reference does fire one).
    assert scenario.steps() == []
    unblocks = [e for e in scenario.audit() if e["what"] == USER_UNBLOCK]
    assert [(e["user"], e["directory"], e["by"]) for e in unblocks] == [("dave", "/secure", "api")]

    assert scenario.right("dave").status == 200
    assert scenario.steps() == []
    with pytest.raises(NotBlocked):
        guard.unblock_user("dave", "/secure")
    with pytest.raises(NoSuchDirectory):
        guard.unblock_user("dave", "/nowhere")
    with pytest.raises(NoSuchDirectory):
        guard.block_user("dave", "/nowhere", 60)
    assert issubclass(NotBlocked, StockadeError)
    assert issubclass(NoSuchDirectory, StockadeError)
    assert not issubclass(NotBlocked, NoSuchDirectory)
    assert not issubclass(NoSuchDirectory, NotBlocked)
    assert scenario.steps() == []


def test_s4_unblock_without_directory_removes_every_block(scenario: Scenario) -> None:
    guard = scenario.guard
    guard.block_user("judy", "/secure", 60)
    guard.block_user("judy", "/fast", 60)
    assert scenario.steps() == [(USER_BLOCK, "judy"), (USER_BLOCK, "judy")]
    assert scenario.right("judy", "/secure").status == 403
    assert scenario.right("judy", "/fast").status == 403

    # The reference always answers no_such_directory here (its Q6).
    removed = guard.unblock_user("judy")
    assert sorted(b.directory for b in removed) == ["/fast", "/secure"]
    assert guard.list_blocked_users() == []
    assert scenario.right("judy", "/secure").status == 200
    assert scenario.right("judy", "/fast").status == 200
    assert scenario.steps() == []
    with pytest.raises(NotBlocked):
        guard.unblock_user("judy")


def test_s4_zero_second_block_is_lifted_by_the_next_login(scenario: Scenario) -> None:
    scenario.guard.block_user("kate", "/secure", 0)
    assert scenario.steps() == [(USER_BLOCK, "kate")]
    assert scenario.guard.list_blocked_users() == []
    assert scenario.right("kate").status == 200
    assert scenario.steps() == [(USER_UNBLOCK, "kate")]
    assert scenario.right("kate").status == 200
    assert scenario.steps() == []


def test_s4_infinite_block_lists_without_crashing(scenario: Scenario, clock: ManualClock) -> None:
    scenario.guard.block_user("erin", "/secure", "infinity")
    assert scenario.steps() == [(USER_BLOCK, "erin")]
    assert scenario.right("erin").status == 403
    # The reference crashes its server when listing such a block (its Q12).
    [entry] = scenario.guard.list_blocked_users()
    assert (entry.user, entry.directory, entry.infinite) == ("erin", "/secure", True)
    assert entry.as_dict()["until"] is None
    clock.advance(YEAR)
    assert scenario.right("erin").status == 403
    assert [b.user for b in scenario.guard.list_blocked_users("/secure")] == ["erin"]
    assert scenario.steps() == []


# -- S5: list_auth_users ----------------------------------------------------------------------------


def test_s5_list_auth_users(tmp_path: Path, clock: ManualClock) -> None:
    site = Site.create(tmp_path, directories={"/fast": {"auth_timeout": 2}})
    with running(site, clock) as s:
        assert s.right("alice", "/fast").status == 200
        assert s.right("alice", "/fast").status == 200
        assert s.right("kate", "/secure").status == 200
        assert s.right("dave", "/secure").status == 200
        guard = s.guard

        everyone = [(u.user, u.directory, u.address, u.port) for u in guard.list_auth_users()]
        assert sorted(everyone) == [
            ("alice", "/fast", "127.0.0.1", s.port),
            ("dave", "/secure", "127.0.0.1", s.port),
            ("kate", "/secure", "127.0.0.1", s.port),
        ]
        assert sorted(u.user for u in guard.list_auth_users("/secure")) == ["dave", "kate"]
        assert [u.user for u in guard.list_auth_users("/fast")] == ["alice"]
        assert guard.list_auth_users(port=1) == []  # scoped by listener port

        clock.advance(3)  # past /fast's auth_timeout of 2 s
        assert guard.list_auth_users("/fast") == []
        assert sorted(u.user for u in guard.list_auth_users()) == ["dave", "kate"]
        clock.advance(28)  # past /secure's 30 s
        assert guard.list_auth_users() == []
        assert s.steps() == []


# -- S8 and friends: the sliding window, successes, per-directory counters --------------------------


def test_s8_sliding_window_forgets_old_failures(scenario: Scenario) -> None:
    assert [scenario.wrong("frank").status for _ in range(2)] == [401, 401]
    scenario.clock.advance(61)
    assert scenario.wrong("frank").status == 401
    assert scenario.steps() == fails("frank", 3)
    assert scenario.guard.list_blocked_users() == []
    assert scenario.wrong("frank").status == 401
    assert scenario.wrong("frank").status == 401
    assert scenario.steps() == [*fails("frank", 2), (USER_BLOCK, "frank")]
    assert blocked_names(scenario) == [("frank", "/secure")]


def test_s8_window_boundary_is_strict(scenario: Scenario) -> None:
    """A failure is forgotten only when strictly more than fail_expire_time old (§3.1 step 3)."""
    assert [scenario.wrong("frank").status for _ in range(2)] == [401, 401]
    scenario.clock.advance(60)
    assert scenario.wrong("frank").status == 401
    assert scenario.steps() == [*fails("frank", 3), (USER_BLOCK, "frank")]


def test_success_clears_failures(scenario: Scenario) -> None:
    for _ in range(2):
        assert [scenario.wrong("henry").status for _ in range(2)] == [401, 401]
        assert scenario.right("henry").status == 200
    assert scenario.steps() == fails("henry", 4)
    assert scenario.guard.list_blocked_users() == []


def test_s8_lazy_unblock_after_block_time(scenario: Scenario, clock: ManualClock) -> None:
    for _ in range(3):
        scenario.wrong("alice")
    assert scenario.steps() == [*fails("alice", 3), (USER_BLOCK, "alice")]
    assert scenario.right("alice").status == 403
    clock.advance(BLOCK_SECONDS + 1)
    assert scenario.guard.list_blocked_users() == []
    assert scenario.right("alice").status == 200
    assert scenario.steps() == [(USER_UNBLOCK, "alice")]
    assert scenario.right("alice").status == 200
    assert scenario.steps() == []
    unblocks = [e for e in scenario.history if e["what"] == USER_UNBLOCK]
    assert [(data(e)["user"], e["directory"]) for e in unblocks] == [("alice", "/secure")]


def test_counters_are_per_directory(scenario: Scenario) -> None:
    for directory in ("/secure", "/secure", "/fast", "/fast"):
        assert scenario.wrong("ivan", directory).status == 401
    assert [(e["what"], e["directory"]) for e in scenario.events()] == [
        (AUTH_FAIL, "/secure"),
        (AUTH_FAIL, "/secure"),
        (AUTH_FAIL, "/fast"),
        (AUTH_FAIL, "/fast"),
    ]
    assert scenario.guard.list_blocked_users() == []
    assert scenario.right("ivan", "/secure").status == 200
    assert scenario.right("ivan", "/fast").status == 200


# -- S7: persistence across a restart on the same port ----------------------------------------------


def test_s7_state_survives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    site = Site.create(tmp_path, port=free_port())
    with running(site, clock) as s:
        port = s.port
        s.guard.block_user("erin", "/secure", 600)
        assert s.steps() == [(USER_BLOCK, "erin")]
        assert [s.wrong("leo").status for _ in range(2)] == [401, 401]
        assert s.right("kate").status == 200
        assert s.steps() == fails("leo", 2)

        s.restart()
        assert s.port == port
        assert s.right("erin").status == 403
        assert s.wrong("leo").status == 401
        assert s.steps() == [*fails("leo"), (USER_BLOCK, "leo")]
        assert [u.user for u in s.guard.list_auth_users()] == ["kate"]
        assert sorted((b.user, b.until) for b in s.guard.list_blocked_users()) == [
            ("erin", clock.now() + 600),
            ("leo", clock.now() + BLOCK_SECONDS),
        ]
        s.guard.unblock_user("erin", "/secure")
        assert s.right("erin").status == 200


# -- infinity for every setting ---------------------------------------------------------------------


def test_infinite_settings(tmp_path: Path, clock: ManualClock) -> None:
    site = Site.create(
        tmp_path,
        directories={
            "/secure": {"max_retries": "infinity", "auth_timeout": "infinity"},
            "/fast": {"block_time": "infinity", "fail_expire_time": "infinity"},
        },
    )
    with running(site, clock) as s:
        for _ in range(10):
            reply = s.wrong("ivan")
            assert (reply.status, reply.challenged) == (401, True)
        assert s.steps() == fails("ivan", 10)
        assert s.right("ivan").status == 200

        assert [s.wrong("judy", "/fast").status for _ in range(2)] == [401, 401]
        clock.advance(YEAR)  # an infinite window forgets nothing
        assert s.wrong("judy", "/fast").status == 401
        assert s.steps() == [*fails("judy", 3), (USER_BLOCK, "judy")]
        clock.advance(YEAR)  # an infinite block never ends
        assert s.right("judy", "/fast").status == 403
        [entry] = s.guard.list_blocked_users()
        assert (entry.user, entry.directory, entry.infinite) == ("judy", "/fast", True)
        assert [u.user for u in s.guard.list_auth_users()] == ["ivan"]  # infinite auth_timeout
        assert s.steps() == []


# -- lockout keyed by client IP ---------------------------------------------------------------------


def test_lockout_by_user_and_ip(tmp_path: Path, clock: ManualClock) -> None:
    site = Site.create(tmp_path, directories={"/secure": {"lockout_by": "user_ip"}})
    with running(site, clock) as s:
        for _ in range(3):
            assert s.wrong("alice").status == 401
        events = s.events()
        assert [(e["what"], data(e)["user"], data(e)["client"]) for e in events] == [
            (AUTH_FAIL, "alice", "127.0.0.1"),
            (AUTH_FAIL, "alice", "127.0.0.1"),
            (AUTH_FAIL, "alice", "127.0.0.1"),
            (USER_BLOCK, "alice", "127.0.0.1"),
        ]
        assert s.right("alice").status == 403
        assert s.right("bob").status == 200
        [entry] = s.guard.list_blocked_users("/secure")
        assert (entry.user, entry.client) == ("alice", "127.0.0.1")
        assert entry.as_dict()["client"] == "127.0.0.1"

        s.guard.block_user("dave", "/secure", 60)  # a block by name applies from every address
        assert s.right("dave").status == 403
        assert s.right("alice", "/fast").status == 200  # /fast still locks out by user only


def test_lockout_by_ip(tmp_path: Path, clock: ManualClock) -> None:
    site = Site.create(tmp_path, directories={"/fast": {"lockout_by": "ip"}})
    with running(site, clock) as s:
        s.guard.block_user("erin", "/fast", 60)
        assert s.right("erin", "/fast").status == 403
        assert s.right("frank", "/fast").status == 200
        assert s.steps() == [(USER_BLOCK, "erin")]

        for user in ("alice", "bob", "kate"):  # three different names, one client address
            assert s.wrong(user, "/fast").status == 401
        events = s.events()
        assert [(e["what"], data(e)["user"], data(e)["client"]) for e in events] == [
            (AUTH_FAIL, "alice", "127.0.0.1"),
            (AUTH_FAIL, "bob", "127.0.0.1"),
            (AUTH_FAIL, "kate", "127.0.0.1"),
            (USER_BLOCK, "kate", "127.0.0.1"),
        ]
        assert s.right("frank", "/fast").status == 403
        assert s.right("henry", "/fast").status == 403
        assert s.right("henry", "/secure").status == 200  # /secure locks out by user only
        listed = sorted((b.user, b.client) for b in s.guard.list_blocked_users("/fast"))
        assert listed == [("", "127.0.0.1"), ("erin", "")]


# -- blocked_status = 401: no oracle --------------------------------------------------------------


def test_blocked_status_401_is_byte_identical_to_a_wrong_password(tmp_path: Path, clock: ManualClock) -> None:
    site = Site.create(tmp_path, directories={"/secure": {"blocked_status": 401}})
    with running(site, clock) as s:
        for _ in range(3):
            s.wrong("alice")
        assert s.steps() == [*fails("alice", 3), (USER_BLOCK, "alice")]

        def answer(user: str, secret: str) -> bytes:
            request = (
                f"GET /secure/ HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n"
                f"Authorization: {basic(user, secret)}\r\nConnection: close\r\n\r\n"
            ).encode()
            head, _, body = s.raw(request).partition(b"\r\n\r\n")
            lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
            return b"\r\n".join(lines) + b"\r\n\r\n" + body

        right = answer("alice", password("alice"))
        wrong = answer("alice", WRONG)
        assert right.startswith(b"HTTP/1.1 401 ")
        assert b"www-authenticate:" in right.lower()
        assert right == wrong
        assert answer("bob", WRONG) == wrong  # nor does it differ from anyone else's failure
        assert s.steps() == [*fails("alice"), *fails("bob")]
