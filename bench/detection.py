"""Recall per attack category and false-positive rate per ordinary source, on the detection corpus.

python bench/detection.py --corpus DIR                 # the built-in pack at its default level
python bench/detection.py --corpus DIR --level 2       # another level
python bench/detection.py --corpus DIR --misses xss    # tuning: requests of the tuning half it misses
python bench/detection.py --corpus DIR --flagged apache_log

The corpus (see bench/corpus_build.py) is a folder of ``attacks/<category>.jsonl.gz`` and
``benign/<source>.jsonl.gz``; each request is sent whole (method, path and query, headers,
body) through the same detection a running guard uses. Each file splits by a hash of the
request's line into a tuning half and a held-out half: rules are tuned on the first only,
and the held-out column is the figure to report. ``--corpus`` defaults to
``$STOCKADE_DETECTION_CORPUS``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from stockade.core.facts import RequestFacts
from stockade.errors import BadRequest
from stockade.replay import canonical_vector
from stockade.request.paths import DEFAULT_POLICY

Record = dict[str, Any]


def held_out(line: str) -> bool:
    return hashlib.sha1(line.encode("utf-8")).digest()[0] & 1 == 1


def load(folder: Path) -> list[tuple[str, bool, Record]]:
    rows = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        name = path.name.removesuffix(".jsonl.gz")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for raw in fh:
                line = raw.rstrip("\n")
                if line:
                    rows.append((name, held_out(line), json.loads(line)))
    return rows


def facts_of(record: Record) -> RequestFacts | None:
    """The request as ``stockade replay`` hands it to the checks (canonical path), or ``None``
    when the server refuses its path (400) before any check."""
    uri = record["uri"]
    path, _, query = uri.partition("?")
    vector: dict[str, Any] = {
        "method": record.get("method", "GET"),
        "host": "www.example.com",
        "path": unquote(path) or "/",
        "query": query,
        "uri": uri,
        "headers": record.get("headers") or {},
        "client_ip": "192.0.2.10",
    }
    if isinstance(record.get("body"), str):
        vector["body"] = record["body"]
    try:
        canonical_vector(vector, DEFAULT_POLICY)
    except BadRequest:
        return None
    return RequestFacts.from_vector(vector)


def detector(level: int | None) -> Callable[[RequestFacts], list[str]]:
    """What flags a request: the names of the rules that made it malicious (empty: clean)."""
    from stockade.detection import Engine, Settings  # noqa: PLC0415 - after argument parsing

    engine = Engine(Settings() if level is None else Settings(level=level))

    def check(facts: RequestFacts) -> list[str]:
        verdict = engine.inspect_facts(facts)
        return [hit.rule.id for hit in verdict.hits] if verdict.malicious else []

    return check


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=os.environ.get("STOCKADE_DETECTION_CORPUS"))
    parser.add_argument("--level", type=int, default=None)
    parser.add_argument("--misses", metavar="CATEGORY", help="print missed requests of the tuning half")
    parser.add_argument("--flagged", metavar="SOURCE", help="print flagged ordinary requests of the tuning half")
    parser.add_argument("--held-out", action="store_true", help="with --misses/--flagged: the held-out half")
    parser.add_argument("--limit", type=int, default=40)
    args = parser.parse_args(argv)
    if args.corpus is None or not Path(args.corpus).is_dir():
        parser.error("give --corpus DIR (or set STOCKADE_DETECTION_CORPUS)")
    check = detector(args.level)
    corpus = Path(args.corpus)
    started = time.perf_counter()
    results: dict[tuple[str, str], list[list[int]]] = {}
    samples: list[str] = []
    refused: dict[tuple[str, str], int] = {}
    count = 0
    for kind in ("attacks", "benign"):
        for name, held, record in load(corpus / kind):
            count += 1
            facts = facts_of(record)
            fired = [] if facts is None else check(facts)
            if facts is None:
                refused[(kind, name)] = refused.get((kind, name), 0) + 1
            cell = results.setdefault((kind, name), [[0, 0], [0, 0]])[held]
            cell[0] += bool(fired)
            cell[1] += 1
            want = args.misses if kind == "attacks" else args.flagged
            wrong = not fired if kind == "attacks" else bool(fired)
            if want == name and wrong and held == args.held_out and len(samples) < args.limit:
                samples.append(f"{','.join(fired) or '-'}  {json.dumps(record, ensure_ascii=False)[:400]}")
    elapsed = time.perf_counter() - started
    print(f"{'attacks (recall)':<28} {'tune':>8} {'held-out':>9} {'n':>6}")
    totals = [[0, 0], [0, 0]]
    for kind in ("attacks", "benign"):
        if kind == "benign":
            print(f"{'all attacks':<28} {_pct(totals[0]):>8} {_pct(totals[1]):>9} {totals[0][1] + totals[1][1]:>6}")
            print(f"\n{'ordinary (flagged)':<28} {'tune':>8} {'held-out':>9} {'n':>6}")
            totals = [[0, 0], [0, 0]]
        for (k, name), (tune, held) in sorted(results.items()):
            if k != kind:
                continue
            print(f"{name:<28} {_pct(tune):>8} {_pct(held):>9} {tune[1] + held[1]:>6}")
            for total, part in zip(totals, (tune, held), strict=True):
                total[0] += part[0]
                total[1] += part[1]
    print(f"{'all ordinary':<28} {_pct(totals[0], 2):>8} {_pct(totals[1], 2):>9} {totals[0][1] + totals[1][1]:>6}")
    if refused:
        print("\nrefused by the server before any check (400), counted as not flagged:")
        print("  " + ", ".join(f"{name} {n}" for (_, name), n in sorted(refused.items())))
    print(f"\n{count} requests in {elapsed:.1f} s ({elapsed / count * 1e6:.0f} µs each, parsing included)")
    if samples:
        print()
        print("\n".join(samples))
    return 0


def _pct(cell: list[int], digits: int = 1) -> str:
    return f"{100.0 * cell[0] / cell[1]:.{digits}f}%" if cell[1] else "-"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
