"""The ``stockade check`` and ``stockade users`` commands, run as real processes on a real SQLite file.

A few cases also run in-process through click's runner, for the exact text of messages.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from stockade import __version__
from stockade.cli.check import check
from stockade.cli.main import main
from stockade.cli.users import users
from stockade.config import load_config
from stockade.engine import Guard, Listener
from stockade.stores import open_store
from stockade.stores.sqlite import MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SHA_PASSWORD = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="  # "password"

CONFIG = """
[server]
listen = "127.0.0.1:8080"
[store]
url = "sqlite:///state.db"
[audit]
json = "audit.jsonl"
[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
block_time = 2
auth_timeout = "infinity"
callback = "tests.integration.callbacks:record"
[[directory]]
path = "/admin"
auth_user_file = "users.htpasswd"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "users.htpasswd").write_text(f"alice:{SHA_PASSWORD}\nbob:{SHA_PASSWORD}\n")
    path = tmp_path / "stockade.toml"
    path.write_text(CONFIG)
    return path


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``stockade ARGS -c CONFIG`` in a fresh process; callbacks record to events.jsonl beside the config."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STOCKADE_TEST_EVENTS": str(config.parent / "events.jsonl"),
    }
    return subprocess.run(
        [sys.executable, "-m", "stockade", *args, "-c", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        timeout=60,
        check=False,
    )


def blocked(config: Path, *args: str) -> list[dict[str, object]]:
    result = run(config, "users", "list-blocked", "--json", *args)
    assert (result.returncode, result.stderr) == (0, "")
    entries: list[dict[str, object]] = json.loads(result.stdout)
    return entries


def test_block_list_unblock(config: Path) -> None:
    result = run(config, "users", "block", "alice", "--dir", "/secure")
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(r"blocked alice in /secure on 127\.0\.0\.1:8080 until \S+Z\n", result.stdout)
    result = run(config, "users", "block", "bob", "--dir", "/admin", "--seconds", "infinity")
    assert result.stdout == "blocked bob in /admin on 127.0.0.1:8080 until infinity\n"

    entries = blocked(config)
    assert sorted(str(e["user"]) for e in entries) == ["alice", "bob"]
    alice, bob = sorted(entries, key=lambda e: str(e["user"]))
    assert bob == {"user": "bob", "dir": "/admin", "address": "127.0.0.1", "port": 8080, "until": None}
    assert isinstance(alice["until"], str)
    assert ISO.match(alice["until"])
    assert alice["until"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert {k: v for k, v in alice.items() if k != "until"} == {
        "user": "alice",
        "dir": "/secure",
        "address": "127.0.0.1",
        "port": 8080,
    }
    assert [e["user"] for e in blocked(config, "--dir", "/admin")] == ["bob"]

    table = run(config, "users", "list-blocked")
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["USER", "DIR", "LISTENER", "UNTIL"]
    assert ["bob", "/admin", "127.0.0.1:8080", "infinity"] in [row.split() for row in rows]
    assert all(row.index("/") == header.index("DIR") for row in rows)

    result = run(config, "users", "unblock", "alice", "--dir", "/secure")
    assert (result.returncode, result.stdout) == (0, "unblocked alice in /secure on 127.0.0.1:8080\n")
    result = run(config, "users", "unblock", "bob")  # without --dir: every directory
    assert (result.returncode, result.stdout) == (0, "unblocked bob in /admin on 127.0.0.1:8080\n")
    assert blocked(config) == []
    assert run(config, "users", "list-blocked").stdout == "no blocked users\n"

    again = run(config, "users", "unblock", "alice", "--dir", "/secure")
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == "error: not_blocked: user 'alice' is not blocked in '/secure'\n"

    # Administration never imports the callback module: the events reach the audit log only.
    assert not (config.parent / "events.jsonl").exists()
    audit = [json.loads(line) for line in (config.parent / "audit.jsonl").read_text().splitlines()]
    assert [(a["what"], a["user"], a["directory"]) for a in audit] == [
        ("user_block", "alice", "/secure"),
        ("user_block", "bob", "/admin"),
        ("user_unblock", "alice", "/secure"),
        ("user_unblock", "bob", "/admin"),
    ]


def test_the_cli_and_a_server_share_the_store(config: Path) -> None:
    loaded = load_config(config)
    guard = Guard(loaded.guard_settings(), open_store(loaded.store_url))
    try:
        guard.login_succeeded("alice", "/secure", listener=Listener("127.0.0.1", 8080))
        assert run(config, "users", "block", "bob", "--dir", "/admin", "--seconds", "600").returncode == 0
        assert [b.user for b in guard.list_blocked_users()] == ["bob"]
    finally:
        guard.close()
    result = run(config, "users", "list-auth", "--json")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [
        {"user": "alice", "dir": "/secure", "address": "127.0.0.1", "port": 8080, "until": None}
    ]
    assert run(config, "users", "list-auth", "--dir", "/admin").stdout == "no authenticated users\n"


@pytest.mark.parametrize(
    "args",
    [
        ("users", "list-blocked", "--dir", "/nope"),
        ("users", "list-auth", "--dir", "/nope"),
        ("users", "block", "alice", "--dir", "/nope"),
        ("users", "unblock", "alice", "--dir", "/nope"),
    ],
)
def test_unknown_directory(config: Path, args: tuple[str, ...]) -> None:
    result = run(config, *args)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: no_such_directory: '/nope' is not a protected directory\n"


def test_bad_config_exits_2_with_one_line(config: Path) -> None:
    config.write_text(CONFIG.replace("block_time = 2", "block_time = -2\nmax_retries = 'x'"))
    result = run(config, "users", "list-blocked")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"{config}: 2 problems: directory[0].max_retries: expected an integer >= 0 or \"infinity\" (got 'x'); "
        'directory[0].block_time: expected a number >= 0 or "infinity" (got -2)\n'
    )
    result = run(config, "check")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"{config}: directory[0].max_retries: expected an integer >= 0 or \"infinity\" (got 'x')",
        f'{config}: directory[0].block_time: expected a number >= 0 or "infinity" (got -2)',
        f"{config}: 2 problems",
    ]


def test_check_ok(config: Path) -> None:
    result = run(config, "check")
    assert (result.returncode, result.stderr) == (0, "")
    base = config.parent
    assert result.stdout.splitlines() == [
        f"{config}: OK",
        "  listen: 127.0.0.1:8080",
        f"  store: sqlite:///{base}/state.db",
        f"  data file: {base}/state.db: not created yet (stockade serve creates it)",
        f"  directory /secure: 2 users from {base}/users.htpasswd, max_retries 3, block_time 2 min, lockout by user",
        f"  directory /admin: 2 users from {base}/users.htpasswd, max_retries 3, block_time 60 min, lockout by user",
        f"  audit: {base}/audit.jsonl",
    ]
    assert not (base / "state.db").exists()


def test_check_says_what_to_write_instead_of_an_old_setting(config: Path) -> None:
    with config.open("a") as file:
        file.write('\n[proxy]\ntrusted = ["10.0.0.0/8"]\nheaders = ["x-forwarded-for", "x-real-ip"]\n')
    result = run(config, "check")
    assert result.returncode == 0
    assert result.stdout.startswith(f"{config}: OK\n")
    assert result.stderr.splitlines() == [
        f"{config}: proxy.headers: only one forwarding header is read now, the first of the list: "
        'write header = "x-forwarded-for"'
    ]


def test_check_names_the_bad_htpasswd_line(config: Path) -> None:
    (config.parent / "users.htpasswd").write_text(f"alice:{SHA_PASSWORD}\nbob\n")
    result = run(config, "check")
    assert (result.returncode, result.stdout) == (2, "")
    htpasswd = config.parent / "users.htpasswd"
    assert result.stderr.splitlines() == [
        f"{config}: directory[0].auth_user_file: {htpasswd}:2: expected 'user:hash'",
        f"{config}: directory[1].auth_user_file: {htpasswd}:2: expected 'user:hash'",
        f"{config}: 2 problems",
    ]


def test_missing_config_file(tmp_path: Path) -> None:
    result = run(tmp_path / "absent.toml", "check")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"{tmp_path}/absent.toml: (top level): cannot read the file: No such file or directory\n"


# -- in process, through click's runner ------------------------------------------------------


def invoke(command: click.Command, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The ``stockade`` entry point in this process: exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("users", "block", "alice", "-c", "{config}", "--dir", "/secure", "--seconds", "-1"),
            "Invalid value for '--seconds': expected a number of seconds >= 0 or \"infinity\" (got '-1')",
        ),
        (("users", "block", "alice", "-c", "{config}"), "Missing option '--dir'."),
        (("users", "block", "-c", "{config}", "--dir", "/secure"), "Missing argument 'USER'."),
        (("users", "block", "alice", "-c", "{config}", "--dir"), "Option '--dir' requires an argument."),
        (("check",), "no configuration file: give -c FILE, set STOCKADE_CONFIG, or create ./stockade.toml"),
        (("check", "-c", "{config}", "--bogus"), "No such option '--bogus'."),
        (("check", "--conf", "{config}"), "No such option '--conf'. Did you mean '--config'?"),
        (("check", "-c", "{config}", "extra"), "Got unexpected extra argument (extra)"),
        (("nope",), "No such command 'nope'."),
        (("users", "nope"), "No such command 'nope'."),
        (
            ("serve", "-c", "{config}", "--workers", "x"),
            "Invalid value for '--workers': 'x' is not a valid integer range.",
        ),
        (
            (),
            "Missing command for 'stockade'; choose from check, conditions, detect, ip, replay, serve, status, store,"
            " users, watch-log.",
        ),
        (("users",), "Missing command for 'stockade users'; choose from block, list-auth, list-blocked, unblock."),
        (
            ("--log-level", "loud", "check", "-c", "{config}"),
            "Invalid value for '--log-level': 'loud' is not one of 'debug', 'info', 'warning', 'error'.",
        ),
        (
            ("serve", "-c", "{config}", "--log-format", "xml"),
            "Invalid value for '--log-format': 'xml' is not one of 'text', 'json'.",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.delenv("STOCKADE_CONFIG", raising=False)
    monkeypatch.chdir(config.parent.parent)  # no stockade.toml here
    code, out, err = run_main(capsys, *(a.format(config=config) for a in args))
    assert (code, out) == (2, "")
    assert err == f"error: {message}\n"


def test_usage_errors_through_the_real_entry_point(config: Path) -> None:
    result = run(config, "users", "block", "alice", "--dir", "/secure", "--seconds", "-1")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: Invalid value for '--seconds': expected a number of seconds >= 0 or \"infinity\" (got '-1')\n"
    )
    result = run(config, "users", "block", "alice")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", "error: Missing option '--dir'.\n")


def test_help_and_version_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "--version")
    assert (code, out, err) == (0, f"stockade, version {__version__}\n", "")
    code, out, err = run_main(capsys, "users", "block", "--help")
    assert (code, err) == (0, "")
    assert out.startswith("Usage: stockade users block [OPTIONS] USER\n")
    assert "--seconds" in out


def test_every_command_logs_in_the_chosen_format(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "--log-format", "json", "--log-level", "info", "check", "-c", str(config))
    assert (code, err) == (0, "")
    logging.getLogger("stockade.cli").info("a line")
    record = json.loads(capsys.readouterr().err)
    assert (record["level"], record["logger"], record["message"]) == ("info", "stockade.cli", "a line")


def test_block_with_seconds_and_an_invalid_user(config: Path) -> None:
    code, out, err = invoke(users, "block", "carol", "-c", str(config), "--dir", "/admin", "--seconds", "90.5")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"blocked carol in /admin on 127\.0\.0\.1:8080 until \S+Z\n", out)
    code, out, err = invoke(users, "block", "a\x00b", "-c", str(config), "--dir", "/admin")
    assert (code, out) == (1, "")
    assert err == "error: invalid user 'a\\x00b': expected a string of at most 256 characters without NUL\n"


def test_store_failure_exits_1(config: Path) -> None:
    (config.parent / "state.db").write_bytes(b"this is not a database" * 100)
    code, out, err = invoke(users, "list-blocked", "-c", str(config))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: store sqlite:///{config.parent}/state.db failed during open: ")
    assert len(err.splitlines()) == 1


def test_check_in_process(config: Path) -> None:
    code, out, err = invoke(check, "-c", str(config))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"{config}: OK"


def test_check_says_whom_a_proxy_protocol_listener_believes(config: Path) -> None:
    text = config.read_text().replace(
        'listen = "127.0.0.1:8080"', 'listen = { address = "127.0.0.1:8080", proxy_protocol = "v2" }', 1
    )
    assert text != config.read_text()
    config.write_text(text)
    code, out, err = invoke(check, "-c", str(config))
    assert (code, out) == (2, "")
    assert err == (
        f"{config}: server.listen.proxy_protocol: a PROXY header is believed only from the proxies in front:"
        ' name them in this listener, proxy_protocol_from = ["10.0.0.5"] (addresses or networks),'
        " or in [proxy] trusted\n"
    )


# -- the SQLite data file ----------------------------------------------------------------------


def test_check_validates_an_existing_data_file(config: Path) -> None:
    store = open_store(f"sqlite:///{config.parent / 'state.db'}")
    store.close()
    result = run(config, "check")
    assert (result.returncode, result.stderr) == (0, "")
    assert f"  data file: {config.parent}/state.db: schema version {len(MIGRATIONS)}, quick_check ok" in (
        result.stdout.splitlines()
    )


def test_check_refuses_a_garbage_data_file(config: Path) -> None:
    data = config.parent / "state.db"
    data.write_bytes(b"this is not a database" * 100)
    result = run(config, "check")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"{config}: store.url: {data}: not a usable SQLite data file: file is not a database\n"
    assert data.read_bytes() == b"this is not a database" * 100


def test_check_refuses_a_corrupt_data_file(config: Path) -> None:
    data = config.parent / "state.db"
    with closing(sqlite3.connect(data)) as conn:
        conn.execute("CREATE TABLE t (a TEXT)")
        conn.execute("CREATE INDEX t_a ON t (a)")
        conn.executemany("INSERT INTO t VALUES (?)", [(f"{i:040d}",) for i in range(3000)])
        conn.commit()
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    damaged = bytearray(data.read_bytes())
    damaged[3 * page_size : 4 * page_size] = b"\x55" * page_size  # page 4, a b-tree page
    data.write_bytes(damaged)
    result = run(config, "check")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"{config}: store.url: {data}: PRAGMA quick_check failed: ")
    assert len(result.stderr.splitlines()) == 1


def test_check_refuses_a_data_file_from_a_newer_stockade(config: Path) -> None:
    data = config.parent / "state.db"
    open_store(f"sqlite:///{data}").close()
    with closing(sqlite3.connect(data)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    result = run(config, "check")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"{config}: store.url: {data}: schema version {len(MIGRATIONS) + 1} is newer than this stockade "
        f"({len(MIGRATIONS)})\n"
    )


def test_check_never_creates_or_migrates_the_data_file(config: Path) -> None:
    data = config.parent / "state.db"
    assert run(config, "check").returncode == 0
    assert not data.exists()
    with closing(sqlite3.connect(data)) as conn:  # a database at schema version 0
        conn.execute("CREATE TABLE other (a)")
        conn.commit()
    result = run(config, "check")
    assert (result.returncode, result.stderr) == (0, "")
    assert f"  data file: {data}: schema version 0, quick_check ok" in result.stdout.splitlines()
    with closing(sqlite3.connect(f"{data.as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("other",)]


# -- where the configuration comes from; administration without callbacks ----------------------


def _bare(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``stockade ARGS`` without ``-c``, with ``env`` added to (and STOCKADE_CONFIG removed from) the environment."""
    base = {k: v for k, v in os.environ.items() if k != "STOCKADE_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "stockade", *args],
        capture_output=True,
        text=True,
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_the_config_comes_from_c_then_the_environment_then_the_current_directory(config: Path) -> None:
    elsewhere = config.parent / "elsewhere"
    elsewhere.mkdir()
    result = _bare(["check"], elsewhere, STOCKADE_CONFIG=str(config))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{config}: OK\n")
    result = _bare(["check"], config.parent)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{config}: OK\n")
    other = elsewhere / "other.toml"
    other.write_text(CONFIG.replace("users.htpasswd", "../users.htpasswd").replace("state.db", "../state.db"))
    result = _bare(["check", "-c", str(other)], config.parent, STOCKADE_CONFIG=str(config))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{other}: OK\n")
    result = _bare(["users", "list-blocked"], elsewhere)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: no configuration file: give -c FILE, set STOCKADE_CONFIG, or create ./stockade.toml\n"
    )
    result = _bare(["check"], elsewhere, STOCKADE_CONFIG=str(elsewhere / "absent.toml"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{elsewhere}/absent.toml: ")


def test_administration_never_imports_the_callback_modules(config: Path) -> None:
    config.write_text(
        CONFIG.replace("tests.integration.callbacks:record", "no_such_module_anywhere:record")
        + "[bans]\ncallback = 'tests.integration.callbacks:record'\n"
    )
    assert run(config, "users", "block", "alice", "--dir", "/secure").returncode == 0
    assert run(config, "users", "list-blocked").returncode == 0
    assert run(config, "ip", "ban", "192.0.2.1").returncode == 0
    result = run(config, "ip", "unban", "192.0.2.1")
    assert (result.returncode, result.stdout, result.stderr) == (0, "unbanned 192.0.2.1\n", "")
    result = run(config, "users", "unblock", "alice")
    assert (result.returncode, result.stderr) == (0, "")
    assert not (config.parent / "events.jsonl").exists()  # the bans' callback module was never imported
    audit = [json.loads(line)["what"] for line in (config.parent / "audit.jsonl").read_text().splitlines()]
    assert audit == ["user_block", "ip_block", "ip_unblock", "user_unblock"]
    # check does import them, and says which one is missing.
    result = run(config, "check")
    assert result.returncode == 2
    assert "directory[0].callback: cannot load callback: cannot import module 'no_such_module_anywhere'" in (
        result.stderr
    )


def test_users_unblock_all(config: Path) -> None:
    assert run(config, "users", "unblock", "--all").stdout == "no blocked users\n"
    for user, directory in (("alice", "/secure"), ("bob", "/secure"), ("bob", "/admin")):
        assert run(config, "users", "block", user, "--dir", directory).returncode == 0
    result = run(config, "users", "unblock", "--all", "--dir", "/secure")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "unblocked alice in /secure on 127.0.0.1:8080\nunblocked bob in /secure on 127.0.0.1:8080\n"
    )
    assert [(e["user"], e["dir"]) for e in blocked(config)] == [("bob", "/admin")]
    result = run(config, "users", "unblock", "--all")
    assert result.stdout == "unblocked bob in /admin on 127.0.0.1:8080\n"
    assert blocked(config) == []
    for args in (("users", "unblock"), ("users", "unblock", "alice", "--all")):
        result = run(config, *args)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", "error: give USER or --all (one of them)\n")


def test_version_imports_no_command_and_nothing_heavy() -> None:
    """``stockade --version`` loads only the entry point: no command, no server, no pydantic.

    What ``import stockade`` itself loads (the public API) is the baseline; the command
    adds click and its own entry point, nothing else.
    """
    probe = (
        "import sys, stockade\n"
        "base = set(sys.modules)\n"
        "from stockade.cli.main import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0\n"
        "print(' '.join(sorted(set(sys.modules) - base)))\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    version, added, loaded = result.stdout.splitlines()
    assert version == f"stockade, version {__version__}"
    assert {name for name in added.split() if name.startswith("stockade")} == {
        "stockade.cli",
        "stockade.cli.exits",
        "stockade.cli.main",
        "stockade.cli.options",  # --log-level and --log-format of the group
        "stockade.logs",
    }
    heavy = ("pydantic", "prometheus_client", "uvicorn", "redis", "httptools", "stockade.config", "stockade.server")
    assert [name for name in loaded.split() if name.split(".")[0] in heavy or name.startswith(heavy)] == []


# -- check: every problem, one a line, in one pass ---------------------------------------------

EVERYTHING_WRONG = """
[server]
listen = "127.0.0.1:8080"
upstream = { url = "ftp://backend" }
[store]
url = "sqlite:///state.db"
[audit]
json = "a-file/audit.jsonl"
text = "security.log"
[admin]
token_file = "missing-token"
[bans]
window = -1
rules = ["builtin", "nope"]
callback = "no_such_module_anywhere:record"
additional_rules = [{ name = "x", cond = 'req_path_in("/a", false) &&' }]
[block]
rules = "block_rules.data"
ip_blocklist = "ip_blocklist.data"
[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
max_retries = "x"
"""


def test_check_lists_every_problem_one_a_line_in_one_pass(tmp_path: Path) -> None:
    (tmp_path / "users.htpasswd").write_text(f"alice:{SHA_PASSWORD}\n")
    (tmp_path / "a-file").write_text("an audit path under a regular file must fail check, not only serve")
    (tmp_path / "state.db").write_bytes(b"this is not a database" * 100)
    rule = {"Name": "r", "Cond": 'req_path_in("/a", false) &&', "Action": {"Cmd": "CLOSE", "Params": []}}
    (tmp_path / "block_rules.data").write_text(json.dumps({"Version": "1", "Config": {"global": [rule]}}))
    (tmp_path / "ip_blocklist.data").write_text("192.0.2.1\nbad\n")
    config = tmp_path / "stockade.toml"
    config.write_text(EVERYTHING_WRONG)
    result = run(config, "check")
    assert (result.returncode, result.stdout) == (2, "")
    condition = 'req_path_in("/a", false) &&'
    c = f"{config}: "
    assert result.stderr.splitlines() == [
        c + "server.upstream: expected http://host:port or http://host:port/base/path (got 'ftp://backend')",
        c + f"store.url: {tmp_path}/state.db: not a usable SQLite data file: file is not a database",
        c + f"audit.json: expected a file in a directory: {tmp_path}/a-file is not a directory"
        " (got 'a-file/audit.jsonl')",
        c + f"admin.token_file: cannot read the token: No such file or directory (got '{tmp_path}/missing-token')",
        c + "bans.window: expected a number of seconds > 0 (got -1)",
        c + 'bans.rules[1]: unknown rule: expected "builtin", a rule id, a category or a name of the first pack'
        " (got 'nope')",
        c + "bans.additional_rules[0].cond: 1:28 syntax error",
        f"    {condition}",
        "    " + " " * len(condition) + "^",
        c + "bans.callback: cannot load callback: cannot import module 'no_such_module_anywhere':"
        " No module named 'no_such_module_anywhere' (got 'no_such_module_anywhere:record')",
        c + f"block.ip_blocklist: {tmp_path}/ip_blocklist.data:2: not an IP address, a CIDR or a 'start end' range:"
        " 'bad'",
        c + f"block.rules: {tmp_path}/block_rules.data: product 'global', rule 0 (name 'r'): condition:"
        " 1:28 syntax error",
        f"    {condition}",
        "    " + " " * len(condition) + "^",
        c + "directory[0].max_retries: expected an integer >= 0 or \"infinity\" (got 'x')",
        c + "11 problems",
    ]


def test_check_splits_the_problems_of_mod_block_conf(tmp_path: Path) -> None:
    (tmp_path / "conf" / "mod_block").mkdir(parents=True)
    conf = tmp_path / "conf" / "mod_block" / "mod_block.conf"
    conf.write_text("[basic]\nProductRulePath = a.data\nbogus = 1\n[other]\nx = 1\n")
    config = tmp_path / "stockade.toml"
    config.write_text('[block]\nconf = "conf/mod_block/mod_block.conf"\n')
    result = run(config, "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'{config}: block.conf: {conf}:3:1: can\'t store data at section "Basic", variable "bogus"',
        f'{config}: block.conf: {conf}:4:1: can\'t store data at section "other"',
        f"{config}: 2 problems",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_refuses_files_it_could_not_write(config: Path) -> None:
    logs = config.parent / "logs"
    logs.mkdir()
    (logs / "audit.jsonl").write_text("")
    (logs / "audit.jsonl").chmod(0o444)
    config.write_text(CONFIG.replace('json = "audit.jsonl"', 'json = "logs/audit.jsonl"\ntext = "ro/security.log"'))
    (config.parent / "ro").mkdir(mode=0o555)
    result = run(config, "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{config}: audit.json: {logs}/audit.jsonl is not writable",
        f"{config}: audit.text: cannot create {config.parent}/ro/security.log:"
        f" the directory {config.parent}/ro is not writable",
        f"{config}: 2 problems",
    ]
