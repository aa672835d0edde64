"""What stops stockade from writing the files a configuration names (``stockade check``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stockade.config.paths import data_file_problem, existing_ancestor, write_problem
from stockade.stores import open_store


def test_a_new_file_in_a_directory_and_an_existing_file_are_fine(tmp_path: Path) -> None:
    assert write_problem(tmp_path / "audit.jsonl") is None
    (tmp_path / "audit.jsonl").write_text("")
    assert write_problem(tmp_path / "audit.jsonl") is None
    assert data_file_problem(tmp_path / "state.db") is None
    open_store(f"sqlite:///{tmp_path / 'state.db'}").close()
    assert data_file_problem(tmp_path / "state.db") is None


def test_a_parent_that_is_a_file_is_the_loaders_to_report(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    assert write_problem(tmp_path / "a-file" / "audit.jsonl") is None
    assert existing_ancestor(tmp_path / "a-file" / "logs" / "audit.jsonl") == tmp_path / "a-file"
    assert write_problem(tmp_path / "new" / "dirs" / "audit.jsonl") is None  # the audit log makes them
    assert existing_ancestor(tmp_path / "new" / "dirs" / "audit.jsonl") == tmp_path


def test_a_path_that_is_no_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert write_problem(fifo) == f"{fifo} is not a regular file"
    assert data_file_problem(fifo) == f"{fifo} is not a regular file"


def test_a_data_file_that_is_no_database(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"not a database" * 100)
    assert data_file_problem(tmp_path / "state.db") == (
        f"{tmp_path}/state.db: not a usable SQLite data file: file is not a database"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_files_and_directories_without_write_permission(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir(mode=0o555)
    assert write_problem(tmp_path / "ro" / "x.log") == (
        f"cannot create {tmp_path}/ro/x.log: the directory {tmp_path}/ro is not writable"
    )
    (tmp_path / "x.log").write_text("")
    (tmp_path / "x.log").chmod(0o444)
    assert write_problem(tmp_path / "x.log") == f"{tmp_path}/x.log is not writable"
