"""The success cache of protected directories, and why hidden lockouts do without it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from stockade.auth.htpasswd import Htpasswd
from stockade.clock import ManualClock
from stockade.config import ProtectedDirectory
from stockade.engine.settings import DirectorySettings
from stockade.server.protect import DirectoryGate
from stockade.server.users import UserFile


def users(tmp_path: Path) -> Htpasswd:
    digest = base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
    path = tmp_path / "users.htpasswd"
    path.write_text(f"alice:{{SHA}}{digest}\n")
    return Htpasswd.load(path)


def test_successes_are_cached_but_failures_never(tmp_path: Path) -> None:
    file = UserFile(users(tmp_path), ManualClock())
    assert file.check("alice", "wonderland")
    assert file.cache.hit("alice", "wonderland")
    assert not file.check("alice", "nope")
    assert not file.cache.hit("alice", "nope")


def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    file = UserFile(users(tmp_path), ManualClock(), cache_successes=False)
    assert file.check("alice", "wonderland")
    assert not file.cache.hit("alice", "wonderland")


def test_a_hidden_lockout_pays_a_full_check_every_time(tmp_path: Path) -> None:
    # A cache hit would answer a blocked attacker's right guess faster than a wrong one.
    clock = ManualClock()
    hidden = ProtectedDirectory(DirectorySettings("/s", blocked_status=401), users(tmp_path), "r", None)
    shown = ProtectedDirectory(DirectorySettings("/s", blocked_status=403), users(tmp_path), "r", None)
    assert DirectoryGate(hidden, clock).users.cache.capacity == 0
    assert DirectoryGate(shown, clock).users.cache.capacity > 0
