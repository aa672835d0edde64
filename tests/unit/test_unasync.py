"""The generated synchronous twins never drift from their asynchronous sources."""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from stockade import AsyncGuard, Guard
from stockade.stores._async.protocol import AsyncLockoutStore
from stockade.stores._sync.protocol import LockoutStore

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _public(cls: type) -> dict[str, bool]:
    """Public names mapped to whether they are coroutine functions (aclose is close)."""
    out: dict[str, bool] = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        out["close" if name == "aclose" else name] = inspect.iscoroutinefunction(member)
    return out


def test_guard_twins_have_the_same_public_methods() -> None:
    sync, asynchronous = _public(Guard), _public(AsyncGuard)
    assert sorted(sync) == sorted(asynchronous)
    assert not any(sync.values())
    # Everything that touches the store is a coroutine in the async flavour.
    assert {name for name, is_coro in asynchronous.items() if is_coro} == {
        "block_ip_address",
        "block_user",
        "close",
        "ip_address_status",
        "list_banned_ips",
        "list_warning_ips",
        "list_auth_users",
        "list_blocked_users",
        "login_failed",
        "login_succeeded",
        "release_attempt",
        "report_attempt",
        "reserve_attempt",
        "store_status",
        "sweep",
        "unblock_all_users",
        "unblock_client",
        "unblock_ip_address",
        "unblock_user",
    }


def test_store_protocol_twins_have_the_same_methods() -> None:
    assert sorted(_public(LockoutStore)) == sorted(_public(AsyncLockoutStore))


def test_signatures_match_apart_from_async() -> None:
    for name in _public(Guard):
        sync_member = getattr(Guard, name)
        async_member = getattr(AsyncGuard, "aclose" if name == "close" else name)
        if callable(sync_member):
            assert inspect.signature(sync_member) == inspect.signature(async_member), name


def _tree(tmp_path: Path) -> Path:
    """A copy of the script beside a tiny source tree of its own: one async module and its twin."""
    (tmp_path / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "unasync.py", tmp_path / "scripts" / "unasync.py")
    for side in ("_async", "_sync"):
        (tmp_path / "src" / "stockade" / "engine" / side).mkdir(parents=True)
    source = tmp_path / "src" / "stockade" / "engine" / "_async" / "thing.py"
    source.write_text("async def fetch(store: object) -> object:\n    return await store.get()  # type: ignore\n")
    return tmp_path


def _run(tree: Path, *args: str, python: str = sys.executable, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [python, str(tree / "scripts" / "unasync.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def test_orphaned_twins_fail_the_check_and_are_removed_by_generation(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert _run(tree).returncode == 0
    twin = tree / "src" / "stockade" / "engine" / "_sync" / "thing.py"
    assert "def fetch(store: object) -> object:" in twin.read_text()
    orphan = tree / "src" / "stockade" / "engine" / "_sync" / "gone.py"
    orphan.write_text("# GENERATED from a source that was deleted\n")
    result = _run(tree, "--check")
    assert result.returncode == 1
    assert result.stderr == ("orphaned, without an _async source (delete them): src/stockade/engine/_sync/gone.py\n")
    result = _run(tree)
    assert (result.returncode, result.stdout) == (
        0,
        "removed src/stockade/engine/_sync/gone.py (its _async source is gone)\n",
    )
    assert not orphan.exists()
    assert _run(tree, "--check").returncode == 0


def test_without_ruff_the_script_fails_loudly(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    # An interpreter in a directory without ruff, and a PATH without it either.
    bare = tmp_path / "bare"
    bare.mkdir()
    python = bare / "python"
    python.symlink_to(os.path.realpath(sys.executable))
    for args in ((), ("--check",)):
        result = _run(tree, *args, python=str(python), env={"PATH": str(bare)})
        assert result.returncode == 2
        assert result.stderr == (
            "unasync: ruff is not installed: the generated files are formatted with it (pip install -e '.[dev]')\n"
        )
    assert not (tree / "src" / "stockade" / "engine" / "_sync" / "thing.py").exists()


def test_ruff_is_pinned_to_the_installed_version() -> None:
    # The twins are compared byte for byte with ruff's output: another ruff could format them otherwise.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [spec for spec in pyproject["project"]["optional-dependencies"]["dev"] if spec.startswith("ruff")]
    assert pins == [f"ruff=={importlib.metadata.version('ruff')}"]
