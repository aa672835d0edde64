"""The protecting server freezes its site's objects out of the collector's reach, and frees them at reload."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.config import load_config
from stockade.server.app import StockadeApp


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def config_file(tmp_path: Path) -> Path:
    (tmp_path / "www").mkdir()
    path = tmp_path / "stockade.toml"
    path.write_text(
        f'[server]\nlisten = ["127.0.0.1:0"]\ndocument_root = "www"\n\n[store]\nurl = "sqlite:///{tmp_path}/s.db"\n'
    )
    return path


def test_the_server_freezes_its_site_and_refreezes_at_reload(tmp_path: Path) -> None:
    async def run() -> tuple[int, bool]:
        app = StockadeApp(load_config(config_file(tmp_path)), freeze_heap=True)
        old_guard = weakref.ref((await app.startup()).guard)
        frozen = gc.get_freeze_count()
        assert (await app.reload())["reload"] == "ok"
        gone = old_guard() is None  # the reload handed the old site back to the collector
        await app.shutdown()
        return frozen, gone

    frozen, gone = asyncio.run(run())
    assert frozen > 1000
    assert gone


def test_an_app_under_another_server_leaves_the_collector_alone(tmp_path: Path) -> None:
    async def run() -> int:
        app = StockadeApp(load_config(config_file(tmp_path)))
        await app.startup()
        await app.shutdown()
        return gc.get_freeze_count()

    assert asyncio.run(run()) == 0
