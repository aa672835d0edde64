"""Write the table of condition primitives in docs/conditions.md from the registry.

The registry is the one place where a primitive's name, parameters, builder and doc are
declared, so the documentation is generated from it instead of being kept in step by hand.
Only the text between the two GENERATED markers is rewritten.

    python scripts/gen_conditions_doc.py           # rewrite the table
    python scripts/gen_conditions_doc.py --check   # exit 1 if the table is out of date
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from stockade.conditions.registry import REGISTRY, PrimitiveSpec

DOC = Path(__file__).resolve().parents[1] / "docs" / "conditions.md"
BEGIN = "<!-- BEGIN GENERATED PRIMITIVES (scripts/gen_conditions_doc.py; do not edit) -->"
END = "<!-- END GENERATED PRIMITIVES -->"


def parameters(spec: PrimitiveSpec) -> str:
    """``name: TYPE, ...`` from the builder's signature, or the bare types when it has no usable names."""
    try:
        names = [
            p.name
            for p in inspect.signature(spec.build).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    if len(names) != len(spec.params):
        return ", ".join(spec.params)
    return ", ".join(f"{name}: {kind}" for name, kind in zip(names, spec.params, strict=True))


def one_line(doc: str) -> str:
    """The first line of a doc, with ``|`` escaped for a Markdown table."""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first.replace("|", "\\|")


def table() -> str:
    """The Markdown table of every registered primitive, by name."""
    lines = ["| Primitive | Parameters | What it matches |", "|---|---|---|"]
    for name in sorted(REGISTRY):
        spec = REGISTRY[name]
        lines.append(f"| `{name}` | {parameters(spec) or '(none)'} | {one_line(spec.doc)} |")
    lines.append("")
    lines.append(f"{len(REGISTRY)} primitives.")
    return "\n".join(lines)


def render(text: str) -> str:
    """``text`` with the table between the markers replaced by the current one."""
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    return f"{text[:start]}\n{table()}\n{text[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/conditions.md is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    try:
        wanted = render(current)
    except ValueError:
        print(f"{DOC}: the GENERATED PRIMITIVES markers are missing", file=sys.stderr)
        return 1
    if args.check:
        if wanted != current:
            print(f"{DOC} is out of date: run python scripts/gen_conditions_doc.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
