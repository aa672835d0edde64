"""The decision endpoint's answers, from the configuration a server builds (a real guard, a memory store)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from stockade.clock import ManualClock
from stockade.config import load_config
from stockade.decision import Answer, DecisionPoint
from stockade.decision.point import BodyReader
from stockade.metrics import Metrics
from stockade.server.site import Stores, build_site

PROXY = "192.0.2.10"
CDN = "198.51.100.5"
CLIENT = "203.0.113.7"
RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {"Name": "old", "Cond": 'req_path_prefix_in("/old", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
            {
                "Name": "shop_admin",
                "Cond": 'req_host_in("shop.example.com") && req_path_prefix_in("/admin", false)',
                "Action": {"Cmd": "CLOSE", "Params": []},
            },
        ]
    },
}


def write_config(base: Path) -> Path:
    sha1 = base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
    (base / "users.htpasswd").write_text(f"alice:{{SHA}}{sha1}\n")
    (base / "rules.data").write_text(json.dumps(RULES))
    (base / "ips.data").write_text("203.0.113.66\n")
    path = base / "stockade.toml"
    path.write_text(
        f"""
[server]
listen = []
[store]
url = "memory://"
[proxy]
trusted = ["{CDN}"]
[decision]
proxies = ["{PROXY}"]
[bans]
malicious_req_threshold = 2
block_duration = 600
[block]
rules = "rules.data"
ip_blocklist = "ips.data"
watch = false
[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
auth_name = "Secure Area"
max_retries = 2
block_time = 1
"""
    )
    return path


Ask = Callable[..., Awaitable[Answer]]


def run(base: Path, body: Callable[[DecisionPoint, ManualClock], Awaitable[None]]) -> None:
    config = load_config(write_config(base))
    clock = ManualClock(1_800_000_000.0)

    async def main() -> None:
        stores = Stores.open(config)
        site = build_site(config, stores, clock=clock, listen=(), metrics=Metrics(process=False))
        assert site.decision is not None
        try:
            await body(site.decision, clock)
        finally:
            site.close_events()
            await stores.aclose()

    asyncio.run(main())


def nginx(
    point: DecisionPoint,
    uri: str,
    *,
    client: str = CLIENT,
    peer: str = PROXY,
    read_body: BodyReader | None = None,
    **extra: str,
) -> Awaitable[Answer]:
    headers = [
        (b"host", extra.pop("host", "example.com").encode()),
        (b"x-original-uri", uri.encode()),
        (b"x-original-method", extra.pop("method", "GET").encode()),
        (b"x-forwarded-for", client.encode()),
        *((name.replace("_", "-").encode(), value.encode()) for name, value in extra.items()),
    ]
    return point.decide(peer, "GET", b"/nginx", headers, read_body)


def header(answer: Answer, name: bytes) -> bytes | None:
    return next((value for key, value in answer.headers if key == name), None)


def test_only_the_configured_proxies_may_ask(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        refused = await nginx(point, "/", peer="192.0.2.11")
        assert (refused.status, refused.outcome, refused.body) == (403, "caller_refused", b"Forbidden")
        assert refused.verdict is None  # nothing was decided, nothing counted against anybody
        mapped = await nginx(point, "/", peer=f"::ffff:{PROXY}")
        assert (mapped.status, mapped.outcome) == (200, "allowed")
        # The CDN in front of the proxy is trusted for the walk, not as a caller.
        assert (await nginx(point, "/", peer=CDN)).outcome == "caller_refused"

    run(tmp_path, body)


def test_an_allowed_request_names_the_client_decided_on(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        first = await nginx(point, "/index.html", client=f"6.6.6.6, {CLIENT}")  # the client's own entry first
        assert (first.status, first.body) == (200, b"")
        assert header(first, b"x-stockade-client-ip") == CLIENT.encode()
        behind_cdn = await nginx(point, "/", client=f"6.6.6.6, {CLIENT}, {CDN}")
        assert header(behind_cdn, b"x-stockade-client-ip") == CLIENT.encode()
        ids = {header(first, b"x-stockade-decision-id"), header(behind_cdn, b"x-stockade-decision-id")}
        assert len(ids) == 2

    run(tmp_path, body)


def test_a_check_that_names_no_client_is_refused_not_decided_on_the_proxy(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        headers = [(b"x-original-uri", b"/"), (b"x-original-method", b"GET")]
        answer = await point.decide(PROXY, "GET", b"/nginx", headers)
        assert (answer.status, answer.outcome) == (400, "bad_check")
        assert answer.body == (
            b"nginx: the check request names no client in x-forwarded-for: set it in the proxy's configuration\n"
        )
        missing = await point.decide(PROXY, "GET", b"/nginx", [(b"x-forwarded-for", CLIENT.encode())])
        assert missing.body == (
            b"nginx: the check request has no X-Original-Method header: set it in the proxy's configuration\n"
        )
        unknown = await point.decide(PROXY, "GET", b"/auth", [])
        assert (unknown.status, unknown.outcome) == (404, "bad_check")

    run(tmp_path, body)


def test_probes_ban_the_client_and_the_ban_answers_403_with_retry_after(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        assert (await nginx(point, "/.env")).status == 200  # the probe itself goes on, as in Phx2Ban
        assert (await nginx(point, "/.git/config")).status == 200
        banned = await nginx(point, "/index.html")
        assert (banned.status, banned.outcome, banned.body) == (403, "banned", b"Forbidden")
        assert header(banned, b"retry-after") == b"600"
        assert header(banned, b"content-length") == b"9"
        assert (await nginx(point, "/index.html", client="203.0.113.8")).status == 200
        clock.advance(601)
        assert (await nginx(point, "/index.html")).status == 200

    run(tmp_path, body)


def test_basic_auth_directories_challenge_and_lock_out_as_serve_does(tmp_path: Path) -> None:
    good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    bad = "Basic " + base64.b64encode(b"alice:nope").decode()

    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        challenge = await nginx(point, "/secure/")
        assert challenge.status == 401
        assert header(challenge, b"www-authenticate") == b'Basic realm="Secure Area", charset="UTF-8"'
        assert (await nginx(point, "/secure/", authorization=good)).status == 200
        # The canonical path: another spelling of the directory is the directory.
        assert (await nginx(point, "/%73ecure/x", authorization=bad)).status == 401
        assert (await nginx(point, "/pub/../secure/x", authorization=bad)).status == 401
        blocked = await nginx(point, "/secure/", authorization=good)
        assert (blocked.status, blocked.outcome) == (403, "challenged")
        assert b"permission" in blocked.body
        clock.advance(61)
        assert (await nginx(point, "/secure/", authorization=good)).status == 200
        # A block made by hand (the admin API, `stockade users block`) reaches the decisions too.
        await point.ladder.guard.block_user("alice", "/secure")
        assert (await nginx(point, "/secure/", authorization=good)).status == 403

    run(tmp_path, body)


def test_mod_block_close_is_403_and_reads_the_original_host(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        closed = await nginx(point, "/old/page")
        assert (closed.status, closed.outcome, closed.body) == (403, "closed", b"Forbidden")
        assert closed.verdict is not None
        assert closed.verdict.block_rule == "old"
        assert (await nginx(point, "/admin/", host="Shop.Example.COM.")).outcome == "closed"
        assert (await nginx(point, "/admin/", host="blog.example.com")).outcome == "allowed"

    run(tmp_path, body)


def test_the_ip_blocklist_meets_the_client_of_each_check(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        closed = await nginx(point, "/", client="203.0.113.66")
        assert (closed.status, closed.outcome) == (403, "closed")
        assert (await nginx(point, "/", client=f"203.0.113.66, {CLIENT}")).outcome == "allowed"
        assert point.ladder.block is not None
        counters = point.ladder.block.table.counters.snapshot()
        assert (counters["CONN_TOTAL"], counters["CONN_REFUSE"]) == (2, 1)

    run(tmp_path, body)


@pytest.mark.parametrize("uri", ["/a/%2e%2e/%2e%2e/etc/passwd", "/x%2fy", "/a%00b", "relative"])
def test_a_request_with_no_canonical_form_is_refused(tmp_path: Path, uri: str) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        answer = await nginx(point, uri)
        assert (answer.status, answer.outcome) == (403, "refused")

    run(tmp_path, body)


def test_a_path_only_an_attack_sends_counts_against_the_client_never_the_proxy(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        headers = [(b"x-original-uri", b"/a/../../etc/passwd"), (b"x-original-method", b"GET")]
        for _ in range(3):  # no header names the client: the proxy itself must not be counted
            assert (await point.decide(PROXY, "GET", b"/nginx", headers)).outcome == "refused"
        assert str(await point.ladder.guard.bans.ip_address_status(PROXY)) == "safe"
        assert (await nginx(point, "/index.html")).status == 200
        for _ in range(2):
            assert (await nginx(point, "/a/../../etc/passwd")).outcome == "refused"
        assert (await nginx(point, "/index.html")).outcome == "banned"
        assert (await nginx(point, "/index.html", client="203.0.113.8")).status == 200

    run(tmp_path, body)


def test_forward_and_envoy_styles_decide_the_same(tmp_path: Path) -> None:
    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        forward = [
            (b"x-forwarded-method", b"GET"),
            (b"x-forwarded-uri", b"/old/x"),
            (b"x-forwarded-host", b"example.com"),
            (b"x-forwarded-for", CLIENT.encode()),
        ]
        assert (await point.decide(PROXY, "GET", b"/forward", forward)).outcome == "closed"
        envoy = [(b"host", b"example.com"), (b"x-forwarded-for", CLIENT.encode())]
        assert (await point.decide(PROXY, "POST", b"/envoy/old/x", envoy)).outcome == "closed"
        assert (await point.decide(PROXY, "POST", b"/envoy/new/x", envoy)).outcome == "allowed"

    run(tmp_path, body)


def test_envoy_check_bodies_are_inspected_and_no_other_style_reads_one(tmp_path: Path) -> None:
    form = b"comment=1' UNION ALL SELECT password,2 FROM users--&name=jo"
    asked: list[int] = []

    async def read_body(limit: int) -> tuple[bytes, int]:
        asked.append(limit)
        return form[:limit], max(len(form) - limit, 0)

    async def body(point: DecisionPoint, clock: ManualClock) -> None:
        headers = [(b"host", b"example.com"), (b"x-forwarded-for", CLIENT.encode())]
        # nginx's check request carries no body of the original request: a body there is not read.
        for _ in range(3):
            answer = await nginx(point, "/comment", method="POST", read_body=read_body)
            assert answer.outcome == "allowed"
        assert asked == []
        # Envoy's with_request_body: the original body, read up to body_limit, counts its strikes.
        for _ in range(2):
            answer = await point.decide(PROXY, "POST", b"/envoy/comment", headers, read_body)
            assert answer.outcome == "allowed"
        assert asked == [64 * 1024, 64 * 1024]
        answer = await point.decide(PROXY, "POST", b"/envoy/comment", headers, read_body)
        assert (answer.status, answer.outcome, header(answer, b"retry-after")) == (403, "banned", b"600")

    run(tmp_path, body)
