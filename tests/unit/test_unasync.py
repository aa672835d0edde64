"""The generated synchronous twins never drift from their asynchronous sources."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

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
