"""IP blocklist: load time, memory and lookup cost of 1,000,000 mixed entries, as ratios to a dict lookup.

The file mixes IPv4 and IPv6 single addresses, CIDRs and ``start end`` ranges in random
order (a fixed seed). Lookup cost is measured the way the server calls it, as a call of
``table.contains`` per address, as a ratio to the project's baseline dict lookup timed in
the same run (``d[key]`` on a dict of 10,000 tuple keys, as ``bench/lockout.py``) and to
``dict.get`` on a dict of 10,000 address strings, the strictest:

- cold: addresses never looked up before (the cache misses, parses and searches);
- warm: addresses looked up a moment ago (a working set smaller than the cache).

Memory, in a fresh process that loads the file once: the table's own allocations
(tracemalloc, once loading is done), the peak while loading, and the process's resident
size before and after.

    .venv/bin/python bench/blocklist.py [--entries N] [--lookups N]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence

from stockade.rules.ip_blocklist import load_ip_blocklist
from stockade.rules.iptable import IPTable

# Shares of the entries, by kind.
MIX = (
    ("IPv4 single", 0.40),
    ("IPv4 CIDR", 0.12),
    ("IPv4 range", 0.10),
    ("IPv6 single", 0.22),
    ("IPv6 CIDR", 0.10),
    ("IPv6 range", 0.06),
)


def v4(value: int) -> str:
    return socket.inet_ntop(socket.AF_INET, value.to_bytes(4))


def v6(value: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16))


def random_v6(rnd: random.Random) -> int:
    return (0x2000 | rnd.getrandbits(13)) << 112 | rnd.getrandbits(112)  # global unicast, 2000::/3


def entry(kind: str, rnd: random.Random) -> str:
    if kind == "IPv4 single":
        return v4(rnd.getrandbits(32))
    if kind == "IPv4 CIDR":
        bits = rnd.randint(16, 31)
        return f"{v4(rnd.getrandbits(32))}/{bits}"
    if kind == "IPv4 range":
        start = rnd.getrandbits(32)
        return f"{v4(start)} {v4(min(start + rnd.randint(1, 4096), 0xFFFFFFFF))}"
    if kind == "IPv6 single":
        return v6(random_v6(rnd))
    if kind == "IPv6 CIDR":
        return f"{v6(random_v6(rnd))}/{rnd.randint(32, 127)}"
    start = random_v6(rnd)
    return f"{v6(start)}\t{v6(start + rnd.randint(1, 1 << 40))}"


def write_blocklist(path: str, entries: int, rnd: random.Random) -> dict[str, int]:
    kinds = [kind for kind, _share in MIX]
    weights = [share for _kind, share in MIX]
    chosen = rnd.choices(kinds, weights, k=entries)
    counts = {kind: chosen.count(kind) for kind in kinds}
    with open(path, "w", encoding="ascii") as handle:
        handle.write("# bench blocklist, no meta header\n")
        handle.writelines(entry(kind, rnd) + "\n" for kind in chosen)
    return counts


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def per_call(function: Callable[[str], object], addresses: Sequence[str], repeat: int = 5) -> float:
    """Seconds per call, best of ``repeat`` passes over ``addresses``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for address in addresses:
            function(address)
        best = min(best, time.perf_counter() - start)
    return best / len(addresses)


def cold_per_call(table: IPTable, addresses: Sequence[str], chunks: int = 5) -> float:
    """Seconds per first lookup of an address: each chunk of fresh addresses on a fresh cache, best chunk."""
    size = len(addresses) // chunks
    best = float("inf")
    for index in range(chunks):
        chunk = addresses[index * size : (index + 1) * size]
        contains = table.cached()
        start = time.perf_counter()
        for address in chunk:
            contains(address)
        best = min(best, time.perf_counter() - start)
    return best / size


def lookups(rnd: random.Random, count: int, v6_share: float) -> list[str]:
    found: dict[str, None] = {}
    while len(found) < count:
        address = v6(random_v6(rnd)) if rnd.random() < v6_share else v4(rnd.getrandbits(32))
        found[address] = None
    return list(found)


def measure_memory(path: str, mode: str) -> None:
    """In a child process, load once and print ``RSS before, RSS after`` (``rss``) or ``held, peak`` (``traced``), MiB.

    The two are separate processes because tracemalloc's own bookkeeping inflates the RSS.
    """
    gc.collect()
    if mode == "rss":
        before = rss_mib()
        table = load_ip_blocklist(path)
        gc.collect()
        print(f"{before:.1f} {rss_mib():.1f}")
    else:
        tracemalloc.start()
        table = load_ip_blocklist(path)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        print(f"{held / 2**20:.1f} {peak / 2**20:.1f}")
    del table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--measure-memory", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(*args.measure_memory)
        return
    rnd = random.Random(20261201)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ip_blocklist.data")
        counts = write_blocklist(path, args.entries, rnd)
        size = os.path.getsize(path)
        child = [sys.executable, __file__, "--measure-memory", path]
        rss_before, rss_after = map(float, subprocess.check_output([*child, "rss"], text=True).split())
        held, peak = map(float, subprocess.check_output([*child, "traced"], text=True).split())
        times = []
        for _ in range(3):
            gc.collect()
            start = time.perf_counter()
            table = load_ip_blocklist(path)
            times.append(time.perf_counter() - start)

    print(f"blocklist: {args.entries:,} entries ({size / 2**20:.1f} MiB):")
    print("  " + ", ".join(f"{kind} {count:,}" for kind, count in counts.items()))
    print(f"  merged into {len(table):,} ranges ({table.singles:,} singles and {table.pairs:,} pairs read)")
    print(f"load: {min(times):.2f} s best of {len(times)} ({', '.join(f'{t:.2f}' for t in times)})")
    print(f"memory: table {held:.1f} MiB (tracemalloc), peak while loading {peak:.1f} MiB,")
    print(f"        RSS {rss_before:.0f} -> {rss_after:.0f} MiB (+{rss_after - rss_before:.0f})")

    project = project_baseline()
    print(
        f"lookups, one call per address, as ratios to the project's baseline (bench/lockout.py: d[key] on a dict "
        f"of 10,000 tuple keys, {project * 1e9:.1f} ns) and, in brackets, to dict.get over a dict of 10,000 "
        "addresses (the strictest, all in the CPU's cache):"
    )
    worst = {"cold": 0.0, "cold, address dict": 0.0, "warm": 0.0, "warm, address dict": 0.0}
    for label, share in (("IPv4", 0.0), ("IPv6", 1.0), ("mixed 70/30", 0.3)):
        addresses = lookups(rnd, args.lookups, share)
        working = addresses[:10_000]
        hot = per_call(dict.fromkeys(working, False).get, working, repeat=20)
        cold = cold_per_call(table, addresses)
        for address in working:
            table.contains(address)
        warm = per_call(table.contains, working, repeat=20)
        hits = sum(table.lookup(address) for address in addresses) / len(addresses)
        worst["cold"] = max(worst["cold"], cold / project)
        worst["cold, address dict"] = max(worst["cold, address dict"], cold / hot)
        worst["warm"] = max(worst["warm"], warm / project)
        worst["warm, address dict"] = max(worst["warm, address dict"], warm / hot)
        print(
            f"  {label:11s} ({hits:3.0%} listed): cold {cold * 1e9:3.0f} ns = {cold / project:4.1f} dict lookups "
            f"[{cold / hot:4.1f}]; warm {warm * 1e9:2.0f} ns = {warm / project:3.1f} [{warm / hot:3.1f}] "
            f"(address dict.get {hot * 1e9:2.0f} ns)"
        )
    print(
        f"bars: load {min(times):.2f} s (< 3), table {held:.0f} MiB (< 200), "
        f"cold lookup {worst['cold']:.1f} dict lookups [{worst['cold, address dict']:.1f}] (< 25), "
        f"warm {worst['warm']:.1f} [{worst['warm, address dict']:.1f}] (< 3)"
    )


def project_baseline(repeat: int = 7) -> float:
    """Seconds per ``d[key]`` on a dict of 10,000 tuple keys, as bench/lockout.py measures its baseline."""
    keys = [("/secure", f"user-{i}", "", "", 0) for i in range(10_000)]
    table = {key: i for i, key in enumerate(keys)}
    args = keys * 20
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for key in args:
            table[key]
        best = min(best, time.perf_counter() - start)
    return best / len(args)


if __name__ == "__main__":
    main()
