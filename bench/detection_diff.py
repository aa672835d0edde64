"""The native detection engine against the Python oracle over a whole corpus: the count of
requests whose verdicts differ (score, rules with their targets and values, categories,
uninspected bytes), which must be 0.

python bench/detection_diff.py                      # the committed corpus (tests/data/detection)
python bench/detection_diff.py --corpus DIR         # an external one (see bench/detection.py)
python bench/detection_diff.py --corpus DIR --level 2 --show 5

The differential tests run the committed corpus; an external corpus stays outside the
repository, so its comparison is run here and its result recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection import COMMITTED, facts_of, load
from stockade.detection import Engine, Settings
from stockade.errors import BadRequest
from stockade.oracle.detection.engine import Engine as OracleEngine


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=COMMITTED)
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--show", type=int, default=3, help="differences to print")
    args = parser.parse_args(argv)
    native, oracle = Engine(Settings(level=args.level)), OracleEngine(Settings(level=args.level))
    compared = differ = flagged = 0
    for kind in ("attacks", "benign"):
        for name, _held, record in load(args.corpus / kind):
            facts = facts_of(record)
            if isinstance(facts, BadRequest):
                continue
            got, want = native.inspect_facts(facts), oracle.inspect_facts(facts)
            compared += 1
            flagged += got.malicious
            if got != want:
                differ += 1
                if differ <= args.show:
                    print(f"{kind}/{name}: {record}\n  native {got}\n  oracle {want}")
    print(f"{args.corpus}: level {args.level}: {compared} requests compared, {flagged} malicious, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
