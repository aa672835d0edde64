"""The public API is what the README and the docs show: every name they use imports.

- every name in ``stockade.__all__`` resolves, and ``import stockade`` alone loads nothing heavy;
- every import and every dotted ``stockade.…`` name in the Python code blocks of README.md
  and docs/*.md resolves, as do the dotted names in their inline code;
- the types the README's Python API section names come from ``stockade`` itself, and every
  error the README lists is a ``StockadeError`` exported there;
- plain values are the same type from the asynchronous engine and its generated twin.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import stockade
from stockade import AsyncGuard, Guard, GuardSettings, ManualClock, StockadeError
from stockade.stores import MemoryStore, open_async_store

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_FROM_IMPORT = re.compile(r"^\s*from (stockade[\w.]*) import (?:\(([\w,\s]+)\)|([\w, ]+))", re.MULTILINE)
# Not after a path or URL (``sqlite:///stockade.db``, ``examples/stockade.db``).
_DOTTED = re.compile(r"(?<![\w/.:-])stockade(?:\.[A-Za-z_]\w*)+")
# Inline code that names something other than the API: the configuration file, and the
# Flask extension object the README calls `stockade`.
_NOT_API = {"stockade.toml", "stockade.login_attempt"}


def resolve(dotted: str) -> object:
    """The module or attribute ``dotted`` names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(dotted)


def code_blocks(path: Path) -> list[str]:
    return _FENCE.findall(path.read_text())


def block_imports() -> list[tuple[str, str]]:
    found = []
    for path in DOCUMENTS:
        for block in code_blocks(path):
            for module, grouped, plain in _FROM_IMPORT.findall(block):
                names = (grouped or plain).split(",")
                found.extend((module, name.strip()) for name in names if name.strip())
    return sorted(set(found))


def dotted_names() -> list[str]:
    found = set()
    for path in DOCUMENTS:
        text = path.read_text()
        found.update(_DOTTED.findall("\n".join(code_blocks(path))))
        found.update(match for code in re.findall(r"`([^`\n]+)`", text) for match in _DOTTED.findall(code))
    return sorted(found - _NOT_API)


@pytest.mark.parametrize("name", stockade.__all__)
def test_every_name_in_all_imports(name: str) -> None:
    assert getattr(stockade, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from stockade import {name}", namespace)
    assert namespace[name] is getattr(stockade, name)


def test_star_import_gives_all_and_dir_lists_it() -> None:
    namespace: dict[str, object] = {}
    exec("from stockade import *", namespace)
    assert set(stockade.__all__) <= set(namespace)
    assert set(stockade.__all__) <= set(dir(stockade))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = stockade.nothing  # type: ignore[attr-defined]


def test_import_stockade_loads_no_engine() -> None:
    code = "import sys, stockade; print(sorted(m for m in sys.modules if m.startswith('stockade')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "['stockade']"


@pytest.mark.parametrize(("module", "name"), block_imports())
def test_imports_in_the_documents_code_blocks(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"from {module} import {name}"


@pytest.mark.parametrize("dotted", dotted_names())
def test_dotted_names_in_the_documents(dotted: str) -> None:
    resolve(dotted)


def test_the_documents_name_the_ladder_and_the_errors() -> None:
    # Guards against a parser that finds nothing: these are in the README today.
    assert {"stockade.engine.AsyncLadder", "stockade.StockadeError", "stockade.ManualClock"} <= set(dotted_names())
    assert ("stockade", "Guard") in block_imports()


def test_the_python_api_sections_types_come_from_stockade() -> None:
    section = (ROOT / "README.md").read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    names = set()
    for block in _FENCE.findall(section):
        for line in block.splitlines():
            code, _, comment = line.partition("#")
            names.update(re.findall(r"\b[A-Z]\w*", code))
            names.update(re.findall(r"\b[A-Z][a-z]+[A-Z]\w*", comment))  # CamelCase names in comments
    names -= set(dir(builtins))
    assert {"BannedIp", "BlockedUser", "NotBanned", "Guard"} <= names
    missing = sorted(name for name in names if name not in stockade.__all__)
    assert missing == []


def test_every_error_the_readme_lists_is_exported() -> None:
    text = (ROOT / "README.md").read_text()
    listed = re.search(r"Every error is a\s+`stockade\.StockadeError`:(.*?)\.\s", text, re.DOTALL)
    assert listed is not None
    names = re.findall(r"`(\w+)`", listed[1])
    assert {"InvalidIpAddress", "NotBanned", "BlockFileError", "StoreError"} <= set(names)
    for name in names:
        error = getattr(stockade, name)
        assert issubclass(error, StockadeError), name
    assert issubclass(stockade.NotBanned, stockade.BanError)


def test_the_twins_return_the_same_plain_types() -> None:
    clock = ManualClock(1_800_000_000.0)
    sync = Guard(GuardSettings(), MemoryStore(), clock=clock)
    asynchronous = AsyncGuard(GuardSettings(), open_async_store("memory://"), clock=clock)

    async def ban() -> tuple[object, object]:
        made = await asynchronous.block_ip_address("192.0.2.7", 100)
        banned = await asynchronous.bans.banned("192.0.2.7")
        await asynchronous.aclose()
        return made, banned

    try:
        made, banned = asyncio.run(ban())
        assert sync.block_ip_address("192.0.2.7", 100) == made
        assert sync.bans.banned("192.0.2.7") == banned
        assert type(made) is stockade.BannedIp
        assert type(banned) is stockade.Banned
    finally:
        sync.close()


# Names in inline code that live elsewhere on purpose, and where.
_ELSEWHERE = {
    "RuleList": "stockade.conditions.RuleList",
    "StockadeBackend": "stockade.adapters.django.StockadeBackend",
    "PermissionDenied": "django.core.exceptions.PermissionDenied",
    "SecurityDataFile": None,  # the reference's directive, not a Python name
    "HttpOnly": None,  # cookie attributes, not Python names
    "SameSite": None,
}


def test_every_type_the_documents_name_imports() -> None:
    names = {
        name
        for path in DOCUMENTS
        for name in re.findall(r"`([A-Z][a-z]+[A-Z]\w*)`", path.read_text())  # CamelCase in inline code
    }
    assert {"BannedIp", "InvalidIpAddress", "StockadeBackend"} <= names
    for name in sorted(names):
        if name in _ELSEWHERE:
            target = _ELSEWHERE[name]
            if target is not None:
                resolve(target)
            continue
        assert name in stockade.__all__, f"{name} is named in the documents but not exported from stockade"
