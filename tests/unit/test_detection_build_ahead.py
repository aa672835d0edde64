"""A native detection engine built ahead of need (``stockade replay``'s start-up).

``build_ahead`` compiles the built-in rules on another thread; the first engine with the
very same rules and settings takes that build, any other builds its own, and the verdicts
are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stockade.detection import Engine, Request, Settings, builtin_pack
from stockade.detection import engine as engine_module
from stockade.detection.engine import build_ahead

PROBE = Request(method="GET", path="/.env", raw_path="/.env", query="", headers=(), content_type="", body=b"")
CLEAN = Request(method="GET", path="/shop/", raw_path="/shop/", query="q=shoes", headers=(), content_type="", body=b"")


@pytest.fixture(autouse=True)
def no_build_left() -> Iterator[None]:
    yield
    with engine_module._AHEAD_LOCK:
        left = list(engine_module._AHEAD)
        engine_module._AHEAD.clear()
    for ahead in left:
        ahead.take()


def test_an_engine_with_the_same_settings_takes_the_build() -> None:
    build_ahead()
    [ahead] = engine_module._AHEAD
    built = ahead.take()
    engine = Engine()
    assert engine.native() is built
    assert engine_module._AHEAD == []


def test_an_engine_with_other_settings_builds_its_own() -> None:
    build_ahead()
    [ahead] = engine_module._AHEAD
    other = Engine(Settings(level=2))
    assert other.native() is not ahead.take()
    assert engine_module._AHEAD[0] is ahead


def test_the_verdicts_are_the_same_either_way() -> None:
    build_ahead()
    ahead = Engine()
    ahead.native()
    assert engine_module._AHEAD == []
    own = Engine()
    for request in (PROBE, CLEAN):
        mine, theirs = ahead.inspect(request), own.inspect(request)
        assert (mine.score, mine.rule, mine.categories) == (theirs.score, theirs.rule, theirs.categories)
    assert ahead.inspect(PROBE).malicious


def test_one_build_ahead_at_a_time() -> None:
    build_ahead()
    build_ahead()
    assert len(engine_module._AHEAD) == 1


def test_the_built_in_pack_is_read_once() -> None:
    assert builtin_pack() is builtin_pack()
