"""Recall per attack category and false-positive rate per ordinary source, on the detection corpora.

python bench/detection.py                              # the committed corpus (tests/data/detection)
python bench/detection.py --corpus DIR                 # and an external one (bench/corpus_build.py)
python bench/detection.py --corpus DIR --level 2       # another level
python bench/detection.py --corpus DIR --misses xss    # tuning: requests of the tuning half it misses
python bench/detection.py --corpus DIR --flagged apache_log
python bench/detection.py --corpus DIR --oracle        # the Python oracle engine (the figures must match)

A corpus is a folder of ``attacks/<category>.jsonl[.gz]`` and ``benign/<source>.jsonl[.gz]``;
each request is sent whole (method, path and query, headers, body) through the same detection
a running guard uses, after the path is made canonical as ``stockade replay`` does (a request
the server refuses, 400, is counted as not flagged and listed apart). The committed corpus is
self-written (bench/corpus_self.py); the external one is built from public collections and
stays outside the repository. Each file of the external corpus splits by a hash of the
request's line into a tuning half and a held-out half: rules are tuned on the first only, and
the held-out column is the figure to report. ``--corpus`` defaults to
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from stockade.core.facts import RequestFacts
from stockade.engine._async.bans import REFUSED_RULE
from stockade.errors import BadRequest
from stockade.replay import canonical_vector
from stockade.request.paths import DEFAULT_POLICY

Record = dict[str, Any]
COMMITTED = Path(__file__).resolve().parents[1] / "tests" / "data" / "detection"


def held_out(line: str) -> bool:
    return hashlib.sha1(line.encode("utf-8")).digest()[0] & 1 == 1


def load(folder: Path) -> Iterator[tuple[str, bool, Record]]:
    """``(file name, held out, request)`` of every request of a corpus folder."""
    for path in sorted([*folder.glob("*.jsonl"), *folder.glob("*.jsonl.gz")]):
        name = path.name.removesuffix(".gz").removesuffix(".jsonl")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for raw in fh:
                line = raw.rstrip("\n")
                if line:
                    yield name, held_out(line), json.loads(line)


def facts_of(record: Record) -> RequestFacts | BadRequest:
    """The request as ``stockade replay`` hands it to the checks (canonical path), or why the
    server refuses its path (400) before any check (a hostile reason counts toward a ban)."""
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
    except BadRequest as exc:
        return exc
    return RequestFacts.from_vector(vector)


def detector(level: int | None, oracle: bool = False) -> Callable[[RequestFacts], list[str]]:
    """What flags a request: the names of the rules that made it malicious (empty: clean)."""
    from stockade.detection import Engine, Settings  # noqa: PLC0415 - after argument parsing
    from stockade.oracle.detection.engine import Engine as OracleEngine  # noqa: PLC0415

    chosen = Settings() if level is None else Settings(level=level)
    engine = OracleEngine(chosen) if oracle else Engine(chosen)

    def check(facts: RequestFacts) -> list[str]:
        verdict = engine.inspect_facts(facts)
        return [hit.rule.id for hit in verdict.hits] if verdict.malicious else []

    return check


Cell = list[int]  # [flagged, total]


def measure(
    corpus: Path,
    check: Callable[[RequestFacts], list[str]],
    samples: list[str],
    want: tuple[str | None, str | None, bool],
    limit: int,
) -> tuple[dict[tuple[str, str], list[Cell]], dict[tuple[str, str], int], int]:
    """Per (kind, file): [tune, held-out] cells; the requests the server refuses; the count."""
    results: dict[tuple[str, str], list[Cell]] = {}
    refused: dict[tuple[str, str], int] = {}
    count = 0
    misses, flagged, held_wanted = want
    for kind in ("attacks", "benign"):
        for name, held, record in load(corpus / kind):
            count += 1
            facts = facts_of(record)
            if isinstance(facts, BadRequest):
                # Refused (400) before any check; a path only an attack sends still counts a strike.
                fired = [REFUSED_RULE] if facts.hostile else []
                refused[(kind, name)] = refused.get((kind, name), 0) + 1
            else:
                fired = check(facts)
            cell = results.setdefault((kind, name), [[0, 0], [0, 0]])[held]
            cell[0] += bool(fired)
            cell[1] += 1
            target = misses if kind == "attacks" else flagged
            wrong = not fired if kind == "attacks" else bool(fired)
            if target == name and wrong and held == held_wanted and len(samples) < limit:
                samples.append(f"{','.join(fired) or '-'}  {json.dumps(record, ensure_ascii=False)[:400]}")
    return results, refused, count


def report(
    title: str, results: dict[tuple[str, str], list[Cell]], refused: dict[tuple[str, str], int], split: bool
) -> None:
    print(f"== {title}")
    heads = f"{'tune':>8} {'held-out':>9}" if split else f"{'':>8} {'all':>9}"
    print(f"{'attacks (recall)':<28} {heads} {'n':>6}")
    totals: list[Cell] = [[0, 0], [0, 0]]
    for kind in ("attacks", "benign"):
        if kind == "benign":
            print(f"{'all attacks':<28} {_cells(totals, split)} {totals[0][1] + totals[1][1]:>6}")
            print(f"\n{'ordinary (flagged)':<28} {heads} {'n':>6}")
            totals = [[0, 0], [0, 0]]
        for (k, name), (tune, held) in sorted(results.items()):
            if k != kind:
                continue
            print(f"{name:<28} {_cells([tune, held], split)} {tune[1] + held[1]:>6}")
            for total, part in zip(totals, (tune, held), strict=True):
                total[0] += part[0]
                total[1] += part[1]
    print(f"{'all ordinary':<28} {_cells(totals, split, 2)} {totals[0][1] + totals[1][1]:>6}")
    if refused:
        print("refused by the server before any check (400; flagged when the reason is hostile):")
        print("  " + ", ".join(f"{name} {n}" for (_, name), n in sorted(refused.items())))


def _cells(cells: list[Cell], split: bool, digits: int = 1) -> str:
    if split:
        return f"{_pct(cells[0], digits):>8} {_pct(cells[1], digits):>9}"
    both = [cells[0][0] + cells[1][0], cells[0][1] + cells[1][1]]
    return f"{'':>8} {_pct(both, digits):>9}"


def _pct(cell: Cell, digits: int = 1) -> str:
    return f"{100.0 * cell[0] / cell[1]:.{digits}f}%" if cell[1] else "-"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=os.environ.get("STOCKADE_DETECTION_CORPUS"))
    parser.add_argument("--level", type=int, default=None)
    parser.add_argument("--misses", metavar="CATEGORY", help="print missed requests of the tuning half")
    parser.add_argument("--flagged", metavar="SOURCE", help="print flagged ordinary requests of the tuning half")
    parser.add_argument("--held-out", action="store_true", help="with --misses/--flagged: the held-out half")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--oracle", action="store_true", help="the Python oracle engine instead of the native one")
    args = parser.parse_args(argv)
    if args.corpus is not None and not Path(args.corpus).is_dir():
        parser.error(f"--corpus {args.corpus}: not a folder")
    check = detector(args.level, args.oracle)
    corpora = [("committed corpus (self-written, tests/data/detection)", COMMITTED, False)]
    if args.corpus is not None:
        corpora.append((f"external corpus ({args.corpus})", Path(args.corpus), True))
    samples: list[str] = []
    for title, folder, split in corpora:
        started = time.perf_counter()
        results, refused, count = measure(
            folder, check, samples, (args.misses, args.flagged, args.held_out), args.limit
        )
        elapsed = time.perf_counter() - started
        report(title, results, refused, split)
        print(f"{count} requests in {elapsed:.1f} s ({elapsed / max(count, 1) * 1e6:.0f} µs each, parsing included)\n")
    if samples:
        print("\n".join(samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
