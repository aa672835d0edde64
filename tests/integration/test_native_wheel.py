"""The release wheel installs and runs where there is no Rust toolchain at all.

The wheel is what users install: built with ``maturin build --release`` (reusing the
release build in native/target that ``make install`` made), installed into a fresh virtual
environment, and imported by a Python whose PATH holds neither cargo nor rustc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def toolchain_free_path() -> str:
    """The directories of PATH that hold no cargo or rustc."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not _has_rust(Path(d))]
    return os.pathsep.join(keep)


def _has_rust(directory: Path) -> bool:
    return any((directory / tool).exists() for tool in ("cargo", "rustc", "rustup"))


@pytest.mark.timeout(1200)
def test_the_release_wheel_runs_without_a_rust_toolchain(tmp_path: Path) -> None:
    maturin = Path(sys.executable).parent / "maturin"
    dist = tmp_path / "dist"
    subprocess.run(
        [str(maturin), "build", "--release", "--out", str(dist), "--interpreter", sys.executable],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=1100,
    )
    (wheel,) = dist.glob("stockade-*.whl")
    assert "-abi3-" in wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("stockade/_native.abi3.so", "stockade/_native.pyi", "stockade/py.typed"):
        assert packaged in names
    assert any(name.startswith("stockade/stores/redis/lua/") and name.endswith(".lua") for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    # The wheel's dependencies (pydantic, uvicorn, ...) come from this environment: its
    # site-packages as a plain path, so that its .pth files (this checkout's editable
    # install) are not read and `stockade` can only be the wheel's.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(ours + "\n")

    path = toolchain_free_path()
    assert shutil.which("cargo", path=path) is None
    assert shutil.which("rustc", path=path) is None
    env = {"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    program = (
        "import stockade._native as n; "
        "print(n.__file__); "
        "print(n.IPSet.from_ranges([(0xFFFF << 32 | 0x0A000000, 0xFFFF << 32 | 0x0AFFFFFF)]).contains('10.1.2.3'))"
    )
    result = subprocess.run(
        [str(python), "-c", program], cwd=tmp_path, env=env, check=True, capture_output=True, text=True, timeout=60
    )
    where, answer = result.stdout.split()
    assert Path(where).is_relative_to(venv)
    assert answer == "True"
