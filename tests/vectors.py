"""Where the reference test vectors live.

The spec's own copy (``../shared/spec/cases`` beside the repository) is preferred, so new
vectors added there are picked up; ``tests/compliance/data`` holds a copy for checkouts
without it. ``$STOCKADE_BFE_VECTORS`` overrides the condition vectors.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def vector_file(name: str) -> Path:
    shared = REPO.parent / "shared" / "spec" / "cases" / name
    return shared if shared.exists() else REPO / "tests" / "compliance" / "data" / name


def condition_vectors() -> Path:
    override = os.environ.get("STOCKADE_BFE_VECTORS")
    return Path(override) if override else vector_file("bfe_conditions.json")
