"""Benchmark the lockout check and the failure transition on every store.

Speed is measured, not asserted: every figure is printed next to its ratio to a plain
dictionary lookup (``d[key]`` on a dict of 10 000 key tuples) timed by the same harness
in the same run, so the ratios compare across machines and interpreters while the raw
nanoseconds do not.

The harness works like :mod:`timeit`: a setup builds fresh state (untimed) and returns a
body that performs ``n`` operations in a plain ``for`` loop; the body runs with the garbage
collector off, and the best of several repeats is kept. Loop overhead is part of every
figure, the baseline's included. Time is frozen (a fixed ``now``, a :class:`ManualClock`)
so a success record stays fresh and nothing expires while the benchmark runs.

Run it with ``make bench`` (or ``python bench/lockout.py --scale 0.2`` for a quick look).
The last line of the output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import multiprocessing
import os
import platform
import sqlite3
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from stockade import DirectorySettings, Guard, GuardSettings, LockoutPolicy, ManualClock, open_store
from stockade.core.lockout import LockoutKey
from stockade.stores import LockoutStore

DIRECTORY = "/secure"
MAX_RETRIES = 3
POLICY = LockoutPolicy(max_retries=MAX_RETRIES, block_time=3600.0, fail_expire_time=1800.0, auth_timeout=30.0)
NOW = 1_800_000_000.0
BASELINE_KEYS = 10_000
# Users with a fresh success record, cycled through by the clean-path benchmarks.
CLEAN_POOL = 200
# Untimed writes before measuring: SQLite's WAL grows to ~1000 pages before it wraps, and a
# commit that grows the file costs more than one that reuses it (the steady state).
WARM_WRITES = 400

Body = Callable[[], object]
Setup = Callable[[int], Body]


@dataclass(frozen=True, slots=True)
class StoreCase:
    """One store configuration and how many iterations it can afford."""

    name: str
    url: str
    reads: int  # operations per repeat for read-only paths
    writes: int  # operations per repeat for write transactions
    repeats: int


@dataclass(frozen=True, slots=True)
class Result:
    store: str
    operation: str
    n: int
    repeats: int
    ns_per_op: float

    @property
    def ops_per_s(self) -> float:
        return 1e9 / self.ns_per_op

    def as_dict(self, baseline_ns: float) -> dict[str, object]:
        return {
            "store": self.store,
            "operation": self.operation,
            "n": self.n,
            "repeats": self.repeats,
            "ns_per_op": round(self.ns_per_op, 1),
            "ops_per_s": round(self.ops_per_s, 1),
            "ratio_to_dict": round(self.ns_per_op / baseline_ns, 1),
        }


# -- the harness ---------------------------------------------------------------------------


def best_ns_per_op(setup: Setup, n: int, repeats: int) -> float:
    """Best time per operation over ``repeats`` runs of ``setup(n)``'s body, in nanoseconds."""
    best = math.inf
    for _ in range(repeats):
        body = setup(n)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            body()
            elapsed = time.perf_counter_ns() - start
        finally:
            if gc_was_enabled:
                gc.enable()
        best = min(best, elapsed / n)
    return best


_serial = itertools.count()


def fresh_users(n: int) -> list[str]:
    """``n`` user names never used before in this process (distinct keys, no block)."""
    batch = next(_serial)
    return [f"user-{batch}-{i}" for i in range(n)]


def key_of(user: str) -> LockoutKey:
    """The key the guard derives for ``user`` in DIRECTORY (lockout by user, no listener)."""
    return LockoutKey(DIRECTORY, user, "", None, 0)


def cycled(pool: list[Any], n: int) -> list[Any]:
    return list(itertools.islice(itertools.cycle(pool), n))


# -- the baseline --------------------------------------------------------------------------


def dict_lookup(make_key: Callable[[int], object]) -> Setup:
    keys = [make_key(i) for i in range(BASELINE_KEYS)]
    table = {k: i for i, k in enumerate(keys)}

    def setup(n: int) -> Body:
        args = cycled(keys, n)

        def body() -> None:
            d = table
            for k in args:
                d[k]

        return body

    return setup


def tuple_key(i: int) -> tuple[str, str, str, str, int]:
    return (DIRECTORY, f"user-{i}", "", "", 0)


# -- the store benchmarks ------------------------------------------------------------------


def make_guard(store: LockoutStore) -> Guard:
    settings = GuardSettings(directories=(DirectorySettings(DIRECTORY, POLICY),))
    return Guard(settings, store, clock=ManualClock(NOW))


def store_benchmarks(store: LockoutStore, guard: Guard) -> Iterator[tuple[str, str, Setup]]:
    """(operation, kind, setup) for one store; kind is "reads" or "writes" (the budget)."""
    for user in fresh_users(WARM_WRITES):
        store.record_failure(key_of(user), NOW, POLICY)
    clean = fresh_users(CLEAN_POOL)
    for user in clean:
        store.record_success([key_of(user)], NOW, POLICY)
    clean_keys = [[key_of(u)] for u in clean]
    # The guard sweeps on its first call, then once a minute of (frozen) clock time: never again.
    guard.login_succeeded(clean[0], DIRECTORY)

    def check_store(n: int) -> Body:
        args = cycled(clean_keys, n)

        def body() -> None:
            record_success, now, policy = store.record_success, NOW, POLICY
            for keys in args:
                record_success(keys, now, policy)

        return body

    def check_guard(n: int) -> Body:
        args = cycled(clean, n)

        def body() -> None:
            login_succeeded = guard.login_succeeded
            for user in args:
                login_succeeded(user, DIRECTORY)

        return body

    def failure_store(n: int) -> Body:
        args = [key_of(u) for u in fresh_users(n)]

        def body() -> None:
            record_failure, now, policy = store.record_failure, NOW, POLICY
            for key in args:
                record_failure(key, now, policy)

        return body

    def failure_guard(n: int) -> Body:
        args = fresh_users(n)

        def body() -> None:
            login_failed = guard.login_failed
            for user in args:
                login_failed(user, DIRECTORY)

        return body

    def primed(n: int) -> list[str]:
        """Fresh users one failure short of a block (max_retries - 1 failures each)."""
        users = fresh_users(n)
        for user in users:
            for _ in range(MAX_RETRIES - 1):
                store.record_failure(key_of(user), NOW, POLICY)
        return users

    def blocking_store(n: int) -> Body:
        args = [key_of(u) for u in primed(n)]

        def body() -> None:
            record_failure, now, policy = store.record_failure, NOW, POLICY
            for key in args:
                record_failure(key, now, policy)

        return body

    def blocking_guard(n: int) -> Body:
        args = primed(n)

        def body() -> None:
            login_failed = guard.login_failed
            for user in args:
                login_failed(user, DIRECTORY)

        return body

    def reserve_store(n: int) -> Body:
        args = [[key_of(u)] for u in fresh_users(n)]

        def body() -> None:
            reserve, record_success, now, policy = store.reserve, store.record_success, NOW, POLICY
            for keys in args:
                reserve(keys, now, policy)
                record_success(keys, now, policy, reserved=True)

        return body

    def reserve_guard(n: int) -> Body:
        args = fresh_users(n)

        def body() -> None:
            reserve_attempt, report_attempt = guard.reserve_attempt, guard.report_attempt
            for user in args:
                report_attempt(reserve_attempt(user, DIRECTORY), success=True)

        return body

    yield "check, clean path: store.record_success (fast path)", "reads", check_store
    yield "check, clean path: Guard.login_succeeded", "reads", check_guard
    yield "failure, no block: store.record_failure", "writes", failure_store
    yield "failure, no block: Guard.login_failed", "writes", failure_guard
    yield "failure that blocks: store.record_failure", "writes", blocking_store
    yield "failure that blocks: Guard.login_failed", "writes", blocking_guard
    yield "reserve + record_success(reserved): store", "writes", reserve_store
    yield "reserve_attempt + report_attempt(success)", "writes", reserve_guard


def run_store(case: StoreCase) -> list[Result]:
    store = open_store(case.url)
    guard = make_guard(store)
    results: list[Result] = []
    try:
        for operation, kind, setup in store_benchmarks(store, guard):
            n = case.reads if kind == "reads" else case.writes
            results.append(Result(case.name, operation, n, case.repeats, best_ns_per_op(setup, n, case.repeats)))
            print(f"  {case.name:<14} {operation:<52} {results[-1].ns_per_op:>12,.0f} ns", file=sys.stderr)
    finally:
        guard.close()
    return results


# -- several processes on one SQLite file --------------------------------------------------


def contend_worker(url: str, worker: int, n: int, barrier: Barrier, out: Any) -> None:
    """Count ``n`` failures on keys no other worker uses; report (start, end) monotonic times."""
    store = open_store(url)
    keys = [key_of(f"proc-{worker}-{os.getpid()}-{i}") for i in range(n)]
    store.record_failure(key_of(f"warm-{worker}-{os.getpid()}"), NOW, POLICY)
    barrier.wait()
    start = time.monotonic_ns()
    for key in keys:
        store.record_failure(key, NOW, POLICY)
    out.put((start, time.monotonic_ns()))
    store.close()


def contention(url: str, processes: int, n: int) -> float:
    """Wall time per failure with ``processes`` workers writing at once, in nanoseconds."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    out = ctx.Queue()
    procs = [ctx.Process(target=contend_worker, args=(url, w, n, barrier, out)) for w in range(processes)]
    for p in procs:
        p.start()
    spans: list[tuple[int, int]] = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"contention worker exited with {p.exitcode}")
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return wall / (processes * n)


def run_contention(cases: list[tuple[str, str, int]]) -> list[Result]:
    """Each case is (store name, url, failures per process); 1 and 2 processes alternate."""
    results: list[Result] = []
    repeats = 3
    for name, url, n in cases:
        contention(url, 1, max(n, WARM_WRITES))  # untimed: grow the WAL to its steady size
        best = {1: math.inf, 2: math.inf}
        for _ in range(repeats):
            for processes in (1, 2):
                best[processes] = min(best[processes], contention(url, processes, n))
        for processes, ns in best.items():
            operation = f"failure, distinct keys, {processes} process{'es' if processes > 1 else ''} (wall/op)"
            results.append(Result(name, operation, processes * n, repeats, ns))
            print(f"  {name:<14} {operation:<52} {ns:>12,.0f} ns", file=sys.stderr)
    return results


# -- reporting -----------------------------------------------------------------------------


def interpreter() -> dict[str, object]:
    config_args = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "optimized_build": "--enable-optimizations" in config_args,
        "lto": "--with-lto" in config_args,
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
    }


def print_table(results: list[Result], baseline_ns: float) -> None:
    header = f"{'store':<14} {'operation':<56} {'n x rep':>10} {'ns/op':>12} {'ops/s':>12} {'x dict':>10}"
    print(header)
    print("-" * len(header))
    previous = None
    for r in results:
        if previous is not None and r.store != previous:
            print()
        previous = r.store
        print(
            f"{r.store:<14} {r.operation:<56} {f'{r.n}x{r.repeats}':>10} {r.ns_per_op:>12,.0f}"
            f" {r.ops_per_s:>12,.0f} {r.ns_per_op / baseline_ns:>10,.1f}"
        )


def scaled(value: int, scale: float) -> int:
    return max(10, round(value * scale))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every iteration count (default 1)")
    parser.add_argument("--no-contention", action="store_true", help="skip the two-process SQLite measurement")
    args = parser.parse_args(argv)
    scale: float = args.scale

    info = interpreter()
    print(
        f"Python {info['python']} ({info['implementation']}, {info['executable']});"
        f" optimised build (--enable-optimizations): {'yes' if info['optimized_build'] else 'no'};"
        f" SQLite {info['sqlite']}; {info['cpus']} CPUs"
    )
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stockade-bench-") as tmp:
        base = Path(tmp)
        cases = [
            StoreCase("memory", "memory://?max_records=1000000", scaled(20_000, scale), scaled(20_000, scale), 5),
            StoreCase(
                "sqlite-normal",
                f"sqlite:///{base / 'normal.db'}?synchronous=normal",
                scaled(5_000, scale),
                scaled(1_000, scale),
                5,
            ),
            StoreCase("sqlite-full", f"sqlite:///{base / 'full.db'}", scaled(5_000, scale), scaled(300, scale), 3),
        ]
        baseline_n = scaled(200_000, scale)
        baseline = dict_lookup(tuple_key)
        before_ns = best_ns_per_op(baseline, baseline_n, 7)
        results.append(Result("dict", "baseline: d[key], 10k tuple keys", baseline_n, 7, before_ns))
        key_ns = best_ns_per_op(dict_lookup(lambda i: key_of(f"user-{i}")), baseline_n, 7)
        results.append(Result("dict", "d[key], 10k LockoutKey keys", baseline_n, 7, key_ns))
        for case in cases:
            results.extend(run_store(case))
        if not args.no_contention:
            contended = [
                ("sqlite-normal", f"sqlite:///{base / 'normal-mp.db'}?synchronous=normal", scaled(1_000, scale)),
                ("sqlite-full", f"sqlite:///{base / 'full-mp.db'}", scaled(300, scale)),
            ]
            results.extend(run_contention(contended))
        # Measured again at the end: a large drift means the machine's load changed during the run.
        after_ns = best_ns_per_op(baseline, baseline_n, 7)
    baseline_ns = min(before_ns, after_ns)
    results[0] = Result("dict", "baseline: d[key], 10k tuple keys", baseline_n, 14, baseline_ns)

    print()
    print_table(results, baseline_ns)
    elapsed = time.perf_counter() - started
    print()
    print(
        f"'x dict' = ns/op / {baseline_ns:.1f} ns, the best d[key] of this run"
        f" (first {before_ns:.1f} ns, last {after_ns:.1f} ns); {elapsed:.1f} s"
    )
    summary = {
        "interpreter": info,
        "baseline_ns": round(baseline_ns, 2),
        "baseline_first_ns": round(before_ns, 2),
        "baseline_last_ns": round(after_ns, 2),
        "seconds": round(elapsed, 1),
        "results": [r.as_dict(baseline_ns) for r in results],
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
