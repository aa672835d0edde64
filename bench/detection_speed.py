"""Cost of inspecting one request, in-process, against in-run baselines.

python bench/detection_speed.py
python bench/detection_speed.py --cpu     # the process's CPU time instead of the wall clock
python bench/detection_speed.py --dump-rules FILE  # the pack's rules, targets and anchors, for
                                                   # native/core/examples/gate_sweep.rs

Prints µs per inspection (the request already built) of:

* a clean request with a typical query, a browser's headers and cookies: its parts seen a
  moment ago (the memo warm), and with a query never seen before;
* a request whose query holds something the gate stops at (an apostrophe, a URL): every value
  read by the rules;
* a 64 KB urlencoded form and a 64 KB JSON document, both clean;

for the native engine (``stockade._native``, what production runs) and the Python oracle it
replaced (``stockade.oracle.detection``), with the ratio oracle/native; against a dict lookup
and ``json.loads`` of the same 64 KB JSON, run in the same process.
``--cpu`` times with the process's CPU clock: on a machine shared with other jobs the wall
clock also counts the time spent waiting for a core.
"""

from __future__ import annotations

import json
import sys
import time
import timeit
from collections.abc import Callable, Iterator

from stockade.detection import Engine, Request
from stockade.oracle.detection.engine import Engine as OracleEngine

HEADERS = (
    ("Host", "www.example.com"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.7,de;q=0.3"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Referer", "https://www.example.com/shop/"),
    ("Cookie", "sid=8f14e45fceea167a; lang=en; _ga=GA1.2.1183432651.1714556400"),
)


TIMER = time.process_time if "--cpu" in sys.argv[1:] else time.perf_counter


def per_call(function: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5, timer=TIMER)) / number * 1e6


def fresh(make: Callable[[int], Request], count: int, engine: Engine | OracleEngine) -> Callable[[], object]:
    """A function inspecting a new request each call (built beforehand)."""
    requests: Iterator[Request] = iter([make(n) for n in range(count * 6)])
    return lambda: engine.inspect(next(requests))


def line(label: str, native: float, oracle: float, baseline: float, unit: str = "µs", digits: int = 2) -> None:
    print(
        f"{label:<42} native {native:9.{digits}f} {unit}  oracle {oracle:9.{digits}f} {unit}"
        f"  oracle/native {oracle / native:6.1f}x  native/baseline {native / baseline:6.2f}x"
    )


def dump_rules(engine: Engine, path: str) -> None:
    """One line a rule: its id, its targets and its anchors (separated by U+001F)."""
    with open(path, "w", encoding="utf-8") as out:
        for rule in engine.rules:
            out.write(f"{rule.id}\t{','.join(rule.targets)}\t{chr(0x1F).join(rule.anchors)}\n")


def main() -> None:
    engine = Engine()
    if "--dump-rules" in sys.argv[1:]:
        dump_rules(engine, sys.argv[sys.argv.index("--dump-rules") + 1])
        return
    clean = Request(
        path="/shop/search", raw_path="/shop/search", query="q=hiking+boots&size=42&page=2&sort=price", headers=HEADERS
    )
    engine.inspect(clean)

    def new_query(n: int) -> Request:
        return Request(
            path="/shop/search", raw_path="/shop/search", query=f"q=hiking+boots+{n}&size=42&page=2", headers=HEADERS
        )

    def slow_path(n: int) -> Request:
        query = f"q=Tom%27s+diner+{n}&next=https%3A%2F%2Fwww.example.com%2Fcart%3Fid%3D{n}"
        return Request(path="/shop/search", raw_path="/shop/search", query=query, headers=HEADERS)

    fields = "&".join(f"field{i}=value+number+{i}+with+some+text" for i in range(2000))
    form_body = fields[: 64 * 1024].encode()
    form = Request(
        method="POST",
        path="/form",
        raw_path="/form",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        content_type="application/x-www-form-urlencoded",
        body=form_body,
    )
    document = json.dumps({f"field{i}": f"value number {i} with some text" for i in range(1500)})[: 64 * 1024 - 2]
    document = document[: document.rfind(",")] + "}"
    json_request = Request(
        method="POST",
        path="/api",
        raw_path="/api",
        headers=(("Content-Type", "application/json"),),
        content_type="application/json",
        body=document.encode(),
    )
    oracle = OracleEngine()
    oracle.inspect(clean)
    table = {"/shop/search": 1}
    base = per_call(lambda: table.get("/shop/search"), 200_000)
    print(f"dict lookup (baseline)                     {base:9.2f} µs")
    line(
        "clean request, its parts seen before",
        per_call(lambda: engine.inspect(clean), 20_000),
        per_call(lambda: oracle.inspect(clean), 20_000),
        base,
    )
    line(
        "clean request, a query never seen before",
        per_call(fresh(new_query, 5_000, engine), 5_000),
        per_call(fresh(new_query, 5_000, oracle), 5_000),
        base,
    )
    line(
        "a query the gate stops at (read by rules)",
        per_call(fresh(slow_path, 2_000, engine), 2_000),
        per_call(fresh(slow_path, 2_000, oracle), 2_000),
        base,
    )

    def inside(request: Request, count: int) -> float:
        """The native cost alone (what the native ladder pays): timed inside the native code."""
        args = (request.method, request.path, request.raw_path, request.query, list(request.headers))
        return min(engine.native()._time_inspect(*args, request.content_type, request.body, count) for _ in range(5))

    print(f"native only, no boundary: clean request       {inside(clean, 20_000):9.2f} µs")
    loads = per_call(lambda: json.loads(document), 200)
    print(f"json.loads 64 KB (baseline)                {loads:9.1f} µs")
    line(
        "64 KB form body",
        per_call(lambda: engine.inspect(form), 100),
        per_call(lambda: oracle.inspect(form), 100),
        loads,
        digits=1,
    )
    line(
        "64 KB JSON body",
        per_call(lambda: engine.inspect(json_request), 100),
        per_call(lambda: oracle.inspect(json_request), 100),
        loads,
        digits=1,
    )
    print(f"native only, no boundary: 64 KB form          {inside(form, 200):9.1f} µs")
    print(f"native only, no boundary: 64 KB JSON          {inside(json_request, 200):9.1f} µs")


if __name__ == "__main__":
    main()
