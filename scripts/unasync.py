"""Generate the synchronous twins of the asynchronous sources.

The async code is the only hand-written copy; this script rewrites it token by token
into the sync flavour (``_async/x.py`` -> ``_sync/x.py``) and formats the result with
ruff (the exact version the dev extra pins, so that its output never changes under us).
``--check`` fails when a generated file is out of date or when a ``_sync`` file has no
``_async`` source any more (an orphan, which plain generation deletes), so the twins can
never drift. Without ruff, or when ruff fails, the script stops with an error: an
unformatted twin would differ from the committed one for reasons that are not drift.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "stockade"
PACKAGES = ("stores", "engine")

SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\bAsyncLockoutStore\b", "LockoutStore"),
    (r"\bAsyncGuard\b", "Guard"),
    (r"\bAsyncBans\b", "Bans"),
    (r"\bAsyncLadder\b", "Ladder"),
    (r"\bAsyncGate\b", "Gate"),
    (r"\bAsyncRedisStore\b", "RedisStore"),
    (r"\bAsyncScript\b", "Script"),
    (r"\bredis\.asyncio\b", "redis"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\bAsyncContextManager\b", "ContextManager"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basettle\b", "settle"),
    (r"\b_async\b", "_sync"),
    (r"\basyncio\.Lock\b", "threading.Lock"),
    (r"\bimport asyncio\b", "import threading"),
)

HEADER = "# GENERATED from {source} by scripts/unasync.py; edit the source, not this file.\n"


def transform(text: str, source: str) -> str:
    for pattern, replacement in SUBSTITUTIONS:
        text = re.sub(pattern, replacement, text)
    return _formatted(HEADER.format(source=source) + text, source)


class UnasyncError(Exception):
    """The twins cannot be generated (ruff missing or failing)."""


def _ruff() -> str:
    beside = Path(sys.executable).parent / "ruff"
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        raise UnasyncError("ruff is not installed: the generated files are formatted with it (pip install -e '.[dev]')")
    return ruff


def _formatted(text: str, source: str) -> str:
    """Renamed modules may sort differently and dropping ``await`` shortens lines: let ruff re-sort
    the imports and re-wrap the lines so that the output stays ruff-clean."""
    ruff = _ruff()
    for command in (["check", "--select", "I", "--fix", "--quiet", "--exit-zero"], ["format"]):
        result = subprocess.run(  # noqa: S603 - a fixed tool on a file of this repository
            [ruff, *command, "--stdin-filename", source, "-"], input=text, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise UnasyncError(f"ruff {command[0]} failed on the twin of {source}: {detail}")
        text = result.stdout
    return text


def targets() -> list[tuple[Path, Path]]:
    pairs = []
    for package in PACKAGES:
        for src in sorted((ROOT / package / "_async").glob("*.py")):
            pairs.append((src, ROOT / package / "_sync" / src.name))
    return pairs


def orphans() -> list[Path]:
    """``_sync`` files whose ``_async`` source is gone."""
    found = []
    for package in PACKAGES:
        sources = {path.name for path in (ROOT / package / "_async").glob("*.py")}
        found.extend(path for path in sorted((ROOT / package / "_sync").glob("*.py")) if path.name not in sources)
    return found


def main(argv: list[str]) -> int:
    check = "--check" in argv
    top = ROOT.parent.parent
    stale = []
    try:
        for src, dst in targets():
            expected = transform(src.read_text(), str(src.relative_to(top)))
            if dst.exists() and dst.read_text() == expected:
                continue
            if check:
                stale.append(str(dst.relative_to(top)))
            else:
                dst.write_text(expected)
                print(f"wrote {dst.relative_to(top)}")
    except UnasyncError as exc:
        print(f"unasync: {exc}", file=sys.stderr)
        return 2
    orphaned = orphans()
    if check:
        if stale:
            print("out of date (run python scripts/unasync.py): " + ", ".join(stale), file=sys.stderr)
        if orphaned:
            names = ", ".join(str(path.relative_to(top)) for path in orphaned)
            print(f"orphaned, without an _async source (delete them): {names}", file=sys.stderr)
        return 1 if stale or orphaned else 0
    for path in orphaned:
        path.unlink()
        print(f"removed {path.relative_to(top)} (its _async source is gone)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
