"""The native IP table against the Python one: load time, memory and lookups, as ratios in one run.

The blocklist is bench/blocklist.py's: 1,000,000 mixed IPv4 and IPv6 entries (singles,
CIDRs, ranges) in random order from a fixed seed. Both tables load the same file:

- Python: ``stockade.rules.ip_blocklist.load_ip_blocklist`` (an ``IPTable``);
- native: ``stockade.ipsets.load_blocklist`` (a ``stockade._native.IPSet``; the file read
  in Python, parsed and merged in Rust with the GIL released).

Memory is measured in a fresh child process per table: the resident size before and
after loading, and the peak (``ru_maxrss``) while loading, which includes the file's
bytes. Lookups are one call per address, as the server makes them: the Python table cold
(a fresh cache: parse and search) and warm (the address was looked up a moment ago, one
dict lookup), the native table on every call (it has no cache and needs none). Each is
also given as a ratio to the project's baseline (``d[key]`` on a dict of 10,000 tuple
keys, bench/lockout.py) and to ``dict.get`` over 10,000 address strings, the floor of
any call from Python.

    .venv/bin/python bench/native_iptable.py [--entries N] [--lookups N]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from blocklist import lookups, per_call, project_baseline, rss_mib, write_blocklist
from stockade.ipsets import load_blocklist
from stockade.rules.ip_blocklist import load_ip_blocklist
from stockade.rules.iptable import IPTable

LOADERS: dict[str, Callable[[str], object]] = {"python": load_ip_blocklist, "native": load_blocklist}


def measure_memory(path: str, which: str) -> None:
    """In a child process: print RSS before, RSS after and peak RSS while loading, MiB."""
    gc.collect()
    before = rss_mib()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = LOADERS[which](path)
    gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{before:.1f} {rss_mib():.1f} {max(peak, peak_before):.1f}")
    del table


def best_load(load: Callable[[str], object], path: str, repeat: int = 3) -> tuple[float, float]:
    """Seconds of the best load, wall-clock and CPU (the CPU time leaves out other processes' turns)."""
    wall, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        load(path)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--measure-memory", nargs=2, metavar=("PATH", "WHICH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(*args.measure_memory)
        return
    rnd = random.Random(20261201)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ip_blocklist.data")
        write_blocklist(path, args.entries, rnd)
        size = os.path.getsize(path)
        memory = {}
        for which in LOADERS:
            child = [sys.executable, __file__, "--measure-memory", path, which]
            memory[which] = tuple(map(float, subprocess.check_output(child, text=True).split()))
        python_load, python_cpu = best_load(load_ip_blocklist, path)
        native_load, native_cpu = best_load(load_blocklist, path)
        python_table, native_table = load_ip_blocklist(path), load_blocklist(path)

    same = python_table.ranges() == native_table.ranges()
    print(f"native IP table: {args.entries:,} entries ({size / 2**20:.1f} MiB), {len(native_table):,} merged ranges")
    print(f"  the two tables hold the same ranges: {same}")
    print(
        f"load, best of 3: python {python_load:.3f} s ({python_cpu:.3f} s CPU), "
        f"native {native_load:.3f} s ({native_cpu:.3f} s CPU) = {native_load / python_load:.3f} of python"
    )
    for which, (before, after, peak) in memory.items():
        print(f"memory, {which}: RSS {before:.0f} -> {after:.0f} MiB (+{after - before:.1f}), peak {peak:.0f} MiB")
    print(f"  native arrays: {native_table.heap_bytes() / 2**20:.1f} MiB")

    project = project_baseline()
    print(
        f"lookups, one call per address (ns, and ratios to d[key] on 10,000 tuple keys = {project * 1e9:.1f} ns, "
        "[to dict.get over 10,000 addresses]):"
    )
    for label, share in (("IPv4", 0.0), ("IPv6", 1.0), ("mixed 70/30", 0.3)):
        addresses = lookups(rnd, args.lookups, share)
        working = addresses[:10_000]
        floor = per_call(dict.fromkeys(working, False).get, working, repeat=20)
        python_cold = cold(python_table, addresses)
        for address in working:
            python_table.contains(address)
        python_warm = per_call(python_table.contains, working, repeat=20)
        native = per_call(native_table.contains, addresses, repeat=5)
        agree = all(native_table.contains(a) == python_table.lookup(a) for a in addresses[:20_000])
        print(
            f"  {label:11s}: native {native * 1e9:4.0f} ns = {native / project:4.2f} [{native / floor:4.2f}]; "
            f"python cold {python_cold * 1e9:4.0f} ns ({native / python_cold:.2f} of it), "
            f"warm {python_warm * 1e9:3.0f} ns ({native / python_warm:.2f} of it); agree: {agree}"
        )


def cold(table: IPTable, addresses: list[str], chunks: int = 5) -> float:
    """Seconds per first lookup in the Python table: each chunk on a fresh cache, best chunk."""
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


if __name__ == "__main__":
    main()
