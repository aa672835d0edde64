"""Fixtures for every test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# No test asserts on time: hypothesis's per-example deadline and its too-slow health check are
# timing assertions that a loaded machine (CI's 2 cores) fails at random.
settings.register_profile("stockade", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("stockade")


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Commands run in-process configure the log (``stockade.logs``): undo it, so no test sees another's."""
    root = logging.getLogger()
    stockade = logging.getLogger("stockade")
    handlers, root_level, stockade_level = list(root.handlers), root.level, stockade.level
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    stockade.setLevel(stockade_level)
