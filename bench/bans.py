"""Benchmark automatic IP bans: the cost of a clean request, and a flood of distinct clients.

Speed is measured, not asserted. Part one times the checks a request goes through
(:class:`stockade.engine.Ladder`: allow list, bans, detection, the rest) for a clean request
with bans enabled, against the very same request with bans disabled, in the same run, on
the memory store and on a SQLite file: once for one URL repeated (the detection memo
answers) and once for a new URL every time (the RE2 scans run). Part two sends one probe from each of 1,000,000
distinct client addresses (the default, ``--flood``) and reports the peak memory of the
process, the records the store keeps (the memory store caps them; the rest expire), that
the 1,000 bans in force before the flood are all still listed (a full store evicts what
holds no ban, never a ban in force), and that a clean request is still answered afterwards.

Run with ``python bench/bans.py`` (about a minute) or ``--scale 0.1 --flood 100000``.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stockade import GuardSettings, ManualClock
from stockade.core.bans import BanPolicy
from stockade.core.facts import RequestFacts
from stockade.engine import Guard
from stockade.engine._sync.ladder import Incoming, Ladder
from stockade.engine.settings import BanSettings
from stockade.netaddr import NetworkSet
from stockade.stores import LockoutStore, MemoryStore, SQLiteStore

CLEAN = RequestFacts(
    method="GET",
    host="www.example.com",
    path="/products/coffee-grinder-pro",
    query="color=black&size=m",
    uri="/products/coffee-grinder-pro?color=black&size=m",
    headers=[("User-Agent", "Mozilla/5.0"), ("Accept", "text/html")],
    client_ip="198.51.100.23",
)


def best_ns(body: Callable[[int], None], n: int, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        gc.disable()
        try:
            start = time.perf_counter_ns()
            body(n)
            best = min(best, (time.perf_counter_ns() - start) / n)
        finally:
            gc.enable()
    return best


def ladder(store: LockoutStore, *, enabled: bool) -> tuple[Ladder, Guard]:
    bans = BanSettings(
        enabled=enabled,
        policy=BanPolicy(threshold=5, window=600.0, block_duration=86_400.0),
        allow=NetworkSet.from_strings(["10.0.0.0/8", "127.0.0.1"]),
    )
    guard = Guard(GuardSettings(bans=bans), store, clock=ManualClock())
    return Ladder(guard), guard


def distinct_requests(count: int) -> list[Incoming]:
    """Clean requests for ``count`` different URLs: none is in the detection memo."""
    return [
        Incoming(
            RequestFacts(
                method="GET",
                host=CLEAN.host,
                path=f"/products/item-{i}",
                query="color=black&size=m",
                uri=f"/products/item-{i}?color=black&size=m",
                headers=CLEAN.headers,
                client_ip=CLEAN.client_ip,
            )
        )
        for i in range(count)
    ]


def clean_request_ns(store: LockoutStore, *, enabled: bool, n: int, repeats: int, distinct: bool = False) -> float:
    """One clean request through the checks; ``distinct``: a new URL every time (the memo misses)."""
    checks, guard = ladder(store, enabled=enabled)
    incoming = Incoming(CLEAN)
    try:
        checks.decide(incoming)
        if distinct:
            fresh = iter([distinct_requests(n) for _ in range(repeats)])

            def body(count: int) -> None:
                decide = checks.decide
                for request in next(fresh):
                    decide(request)

            return best_ns(body, n, repeats)

        def body(count: int) -> None:
            decide = checks.decide
            for _ in range(count):
                decide(incoming)

        return best_ns(body, n, repeats)
    finally:
        guard.close()


BANNED = 1_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flood(count: int) -> dict[str, float]:
    """One probe from each of ``count`` distinct addresses through the memory store, 1,000 bans in force."""
    store = MemoryStore()
    checks, guard = ladder(store, enabled=True)
    probe = RequestFacts(path="/.env")
    banned = [f"198.18.{i >> 8}.{i & 255}" for i in range(BANNED)]
    now = guard.clock.now()
    for ip in banned:
        guard.block_ip_address(ip, 86_400.0)
    before = peak_rss_mb()
    started = time.perf_counter()
    try:
        for i in range(count):
            ip = f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            if ip.startswith("10."):
                ip = "11" + ip[2:]
            checks.decide(Incoming(RequestFacts(path=probe.path, client_ip=ip)))
        elapsed = time.perf_counter() - started
        still_serving = checks.decide(Incoming(CLEAN)).action == "pass"
        listed = {record.key for record in store.list_bans(now)}
        return {
            "clients": count,
            "seconds": round(elapsed, 2),
            "per_probe_us": round(elapsed / count * 1e6, 2),
            "records_kept": len(store),
            "records_cap": store.max_records,
            "evicted": store.evicted,
            "bans_in_force": BANNED,
            "bans_still_listed": sum(ip in listed for ip in banned),
            "peak_rss_mb_before": round(before, 1),
            "peak_rss_mb_after": round(peak_rss_mb(), 1),
            "still_serving": still_serving,
        }
    finally:
        guard.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--flood", type=int, default=1_000_000)
    args = parser.parse_args()
    n, repeats = max(int(20_000 * args.scale), 100), 7
    rows: list[dict[str, object]] = []
    # The flood first: the peak RSS it reports must not include part one's request lists.
    print(f"flooding with {args.flood:,} distinct clients ...", file=sys.stderr)
    flooded = flood(args.flood)
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (
            ("memory", MemoryStore),
            ("sqlite", lambda: SQLiteStore(Path(tmp) / "bans.db")),
        ):
            print(f"measuring {name} ...", file=sys.stderr)
            off = clean_request_ns(make(), enabled=False, n=n, repeats=repeats)
            on = clean_request_ns(make(), enabled=True, n=n, repeats=repeats)
            new_off = clean_request_ns(make(), enabled=False, n=n, repeats=repeats, distinct=True)
            new_on = clean_request_ns(make(), enabled=True, n=n, repeats=repeats, distinct=True)
            rows.append(
                {
                    "store": name,
                    "bans_off_ns": round(off),
                    "bans_on_ns": round(on),
                    "ratio": round(on / off, 2),
                    "new_url_bans_off_ns": round(new_off),
                    "new_url_bans_on_ns": round(new_on),
                    "new_url_ratio": round(new_on / new_off, 2),
                }
            )

    print(f"Python {platform.python_version()} ({sys.executable})")
    print()
    print("| store | URL | clean request, bans disabled | bans enabled | ratio |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['store']} | repeated | {row['bans_off_ns']:,} ns | {row['bans_on_ns']:,} ns | {row['ratio']} |")
        print(
            f"| {row['store']} | new each time | {row['new_url_bans_off_ns']:,} ns "
            f"| {row['new_url_bans_on_ns']:,} ns | {row['new_url_ratio']} |"
        )
    print()
    print(
        f"flood: {flooded['clients']:,} clients, one probe each, in {flooded['seconds']} s "
        f"({flooded['per_probe_us']} µs a probe); the memory store kept {flooded['records_kept']:,} records "
        f"(cap {flooded['records_cap']:,}, {flooded['evicted']:,} evicted), "
        f"{flooded['bans_still_listed']:,} of the {flooded['bans_in_force']:,} bans in force still listed; "
        f"peak RSS {flooded['peak_rss_mb_before']} MB before, {flooded['peak_rss_mb_after']} MB after; "
        f"still serving: {flooded['still_serving']}"
    )
    print(json.dumps({"clean_request": rows, "flood": flooded}))


if __name__ == "__main__":
    main()
