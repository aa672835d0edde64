"""Write the table of built-in detection rules in docs/detection.md from the rule pack.

python scripts/gen_bans_doc.py           # rewrite the table
python scripts/gen_bans_doc.py --check   # exit 1 if the table is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stockade.core.detection import BUILTIN

DOC = Path(__file__).resolve().parents[1] / "docs" / "detection.md"
BEGIN = "<!-- BEGIN GENERATED RULES (scripts/gen_bans_doc.py; do not edit) -->"
END = "<!-- END GENERATED RULES -->"


def table() -> str:
    lines = [
        "| id | category | reads | level | score | skipped for the app's routes | what it catches |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in BUILTIN:
        targets = ", ".join(rule.targets)
        probe = "yes" if rule.probe else "no"
        description = rule.description.replace("|", "\\|")
        lines.append(
            f"| `{rule.id}` | {rule.category} | {targets} | {rule.level} | {rule.score} | {probe} | {description} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    fresh = f"{head}{BEGIN}\n{table()}\n{END}{tail}"
    if args.check:
        if fresh != text:
            print("docs/detection.md is out of date: run python scripts/gen_bans_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
