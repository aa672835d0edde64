"""The native ladder against the Python one: for any settings, bans and request, the native
outcome is the Python verdict or "Python decides", never another decision."""

from __future__ import annotations

import contextlib
import math
import re

from hypothesis import event, given, settings
from hypothesis import strategies as st

from stockade import Guard, GuardSettings, ManualClock
from stockade.core.detection import Detector
from stockade.core.facts import RequestFacts
from stockade.engine._sync.guard import Guard as SyncGuard
from stockade.engine._sync.ladder import Incoming, Ladder, Refusal
from stockade.engine.settings import BanSettings, DirectorySettings
from stockade.netaddr import NetworkSet
from stockade.server.native_ladder import ban_view_of, ladder_of, twin
from stockade.stores import MemoryStore

T0 = 1_800_000_000.0
CLIENTS = ["", "192.0.2.1", "192.0.2.9", "198.51.100.7", "10.1.2.3", "2001:db8::1", "2001:db8::2:1", "2001:db9::7"]
TARGETS = ["192.0.2.1", "198.51.100.7", "10.0.0.0/8", "192.0.2.0/28", "2001:db8::1", "2001:db8::/48", "2001:db8::/64"]
PATHS = [
    "/",
    "/index.html",
    "/admin",
    "/admin/x",
    "/administrator",
    "/health",
    "/health/live",
    "/static/a.css",
    "/.env",
]
DETECTOR, NO_DETECTION = Detector(), Detector([])
CHALLENGE = Refusal(401, ((b"www-authenticate", b'Basic realm="x"'),), b"")


class Challenge:
    """A lockout gate that asks for the password of every request."""

    def check(self, guard: SyncGuard, request: Incoming) -> Refusal:
        return CHALLENGE


ban_settings: st.SearchStrategy[dict[str, object]] = st.builds(
    dict,
    enabled=st.sampled_from([True, True, False]),
    ipv6_prefix=st.sampled_from([48, 64, 128]),
    allow=st.lists(st.sampled_from(CLIENTS[1:]), max_size=2),
    ignore_paths=st.lists(st.sampled_from(["/health", "/static", "/"]), max_size=2),
    patterns=st.sampled_from([False, False, True]),
    detect=st.sampled_from([False, False, True]),
    directories=st.lists(st.sampled_from(["/admin", "/"]), max_size=2, unique=True),
)
bans = st.lists(st.tuples(st.sampled_from(TARGETS), st.sampled_from([5.0, 60.0, math.inf])), max_size=4)
unbans = st.lists(st.sampled_from(TARGETS), max_size=2)
requests = st.lists(
    st.tuples(st.sampled_from(CLIENTS), st.sampled_from(PATHS), st.floats(0, 90)), min_size=1, max_size=12
)


def build(options: dict[str, object]) -> tuple[Ladder, ManualClock]:
    clock = ManualClock(T0)
    allow = options["allow"]
    paths = options["ignore_paths"]
    directories = options["directories"]
    assert isinstance(allow, list)
    assert isinstance(paths, list)
    assert isinstance(directories, list)
    ban = BanSettings(
        enabled=bool(options["enabled"]),
        ipv6_prefix=int(str(options["ipv6_prefix"])),
        allow=NetworkSet.from_strings(allow),
        ignore_paths=tuple(paths),
        ignore_patterns=(re.compile(r"^/static/"),) if options["patterns"] else (),
        detector=DETECTOR if options["detect"] else NO_DETECTION,
    )
    dirs = tuple(DirectorySettings(path) for path in directories)
    guard = Guard(GuardSettings(directories=dirs, bans=ban), MemoryStore(), clock=clock)
    return Ladder(guard, gates={d: Challenge() for d in directories}), clock


@settings(max_examples=150, deadline=None)
@given(ban_settings, bans, unbans, requests)
def test_the_native_outcome_is_the_python_verdict_or_python(
    options: dict[str, object],
    banned: list[tuple[str, float]],
    lifted: list[str],
    asked: list[tuple[str, str, float]],
) -> None:
    ladder, clock = build(options)
    for target, seconds in banned:
        ladder.guard.bans.block_ip_address(target, seconds, force=True)
    for target in lifted:
        with contextlib.suppress(Exception):
            ladder.guard.bans.unblock_ip_address(target)
    view = ban_view_of(ladder.guard.bans.store)
    assert view is not None
    native = twin(ladder, view)
    for client, path, later in sorted(asked, key=lambda item: item[2]):
        clock.set(T0 + later)
        outcome = native.decide(client or None, path, clock.now())  # first: Python may count a strike
        event(str(outcome[0]))
        verdict = ladder.decide(Incoming(RequestFacts(path=path, uri=path, client_ip=client, host="example.org")))
        if outcome[0] == "python":
            continue
        if outcome[0] == "banned":
            assert (verdict.action, verdict.stage) == ("refuse", "ban"), (client, path, outcome, verdict)
            assert verdict.banned is not None
            assert (verdict.banned.until, verdict.banned.retry_after) == outcome[1:]
            continue
        assert outcome == ("pass",)
        assert verdict.action == "pass", (client, path, verdict)
        assert verdict.malicious is None


def test_a_ban_in_force_is_refused_natively_with_the_python_answer() -> None:
    ladder, clock = build(
        {
            "enabled": True,
            "ipv6_prefix": 64,
            "allow": [],
            "ignore_paths": [],
            "patterns": False,
            "detect": False,
            "directories": ["/admin"],
        }
    )
    ladder.guard.bans.block_ip_address("2001:db8::/64", 30)
    view = ban_view_of(ladder.guard.bans.store)
    assert view is not None
    native = twin(ladder, view)
    assert native.decide("2001:db8::1:2", "/", clock.now()) == ("banned", T0 + 30, 30)
    assert native.decide("2001:db9::1", "/", clock.now()) == ("pass",)
    assert native.decide("2001:db9::1", "/admin/x", clock.now()) == ("python", "lockout")
    assert native.decide("not an address", "/", clock.now()) == ("python", "ban_unknown")
    # A test clock: the front, which reads the system's, gets no native ladder.
    assert ladder_of(ladder) is None
