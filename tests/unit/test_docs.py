"""The project's documents stand alone, and the examples leave no state in git."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_documents_cite_no_file_a_user_does_not_have(path: Path) -> None:
    # The design notes under shared/ are not part of the project: a user has no such file.
    cited = [line for line in path.read_text().splitlines() if re.search(r"\bshared/|\bspec/\w+\.md", line)]
    assert cited == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_toml_examples_are_toml(path: Path) -> None:
    # TOML 1.0 has no line breaks inside an inline table: an example a user copies must load.
    text = path.read_text()
    for block in re.finditer(r"^( *)```toml\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL):
        line = text[: block.start()].count("\n") + 1
        try:
            tomllib.loads(textwrap.dedent(block.group(2)))
        except tomllib.TOMLDecodeError as exc:
            pytest.fail(f"{path.name}:{line}: the TOML example does not load: {exc}")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30)


@pytest.mark.parametrize("name", ["db.sqlite3", "db.sqlite3-journal"])
def test_the_django_examples_database_is_ignored_and_untracked(name: str) -> None:
    path = f"examples/django_project/{name}"
    assert _git("check-ignore", "-q", path).returncode == 0, f"{path} is not ignored"
    assert _git("ls-files", path).stdout == ""
