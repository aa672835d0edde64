"""``stockade ip status|ban|unban|list``, as real processes on a real SQLite file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stockade.config import load_config
from stockade.engine import Guard
from stockade.stores import open_store
from tests.integration.test_cli import run

CONFIG = """
[store]
url = "sqlite:///state.db"
[audit]
json = "audit.jsonl"
[bans]
malicious_req_threshold = 3
block_duration = 600
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "stockade.toml"
    path.write_text(CONFIG)
    return path


def _ip(config: Path, *args: str) -> tuple[int, str, str]:
    result = run(config, "ip", *args)
    return result.returncode, result.stdout, result.stderr


def test_ban_status_list_unban(config: Path) -> None:
    assert _ip(config, "status", "192.0.2.1") == (0, "safe\n", "")
    code, out, err = _ip(config, "ban", "192.0.2.1")
    assert (code, err) == (0, "")
    assert out.startswith("banned 192.0.2.1 until 20")
    code, out, _ = _ip(config, "status", "192.0.2.1")
    assert code == 0
    assert re.fullmatch(r"blocked (5\d\d|600)\n", out)  # 600 seconds, minus the time the commands took
    assert _ip(config, "ban", "10.0.0.0/8", "--seconds", "infinity")[0] == 0
    code, out, _ = _ip(config, "status", "10.20.30.40", "--json")
    assert json.loads(out) == {"ip": "10.20.30.40", "status": "blocked", "count": 0, "seconds_left": None}
    code, out, _ = _ip(config, "list", "--json")
    listed = json.loads(out)
    assert [(entry["ip"], entry["network"]) for entry in listed] == [("10.0.0.0/8", True), ("192.0.2.1", False)]
    assert listed[0]["until"] is None
    code, out, _ = _ip(config, "list")
    assert out.splitlines()[0].startswith("10.0.0.0/8  until infinity  (network)")
    assert _ip(config, "unban", "10.0.0.0/8") == (0, "unbanned 10.0.0.0/8\n", "")
    assert _ip(config, "unban", "10.0.0.0/8") == (1, "", "error: not_banned: '10.0.0.0/8' is not banned\n")
    audit = [json.loads(line)["what"] for line in (config.parent / "audit.jsonl").read_text().splitlines()]
    assert audit.count("ip_block") == 2
    assert audit.count("ip_unblock") == 1


def test_a_warning_counts_what_a_server_recorded(config: Path) -> None:
    guard = Guard(load_config(config).guard_settings(), open_store(f"sqlite:///{config.parent / 'state.db'}"))
    try:
        from stockade.core.facts import RequestFacts  # noqa: PLC0415

        assert guard.bans.inspect("198.51.100.4", RequestFacts(path="/.git/config")) == "vcs_metadata"
        assert guard.bans.inspect("198.51.100.4", RequestFacts(path="/wp-login.php")) == "wordpress_probe"
    finally:
        guard.close()
    assert _ip(config, "status", "198.51.100.4") == (0, "warning 2\n", "")
    assert _ip(config, "list") == (0, "no banned addresses\n", "")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("status", "example.org"), 1, "error: invalid_ip_address: 'example.org' is not an IP address or network\n"),
        (("ban", "10.0.0.0/33"), 1, "error: invalid_ip_address: '10.0.0.0/33' is not an IP address or network\n"),
        (
            ("ban", "198.51.100.7/24"),
            1,
            "error: invalid_ip_address: '198.51.100.7/24' has host bits set: the network is 198.51.100.0/24\n",
        ),
        (
            ("ban", "2001:db8::1/64"),
            1,
            "error: invalid_ip_address: '2001:db8::1/64' has host bits set: the network is 2001:db8::/64\n",
        ),
        (("unban",), 2, "error: give ADDRESS_OR_CIDR or --all (one of them)\n"),
        (("unban", "192.0.2.1", "--all"), 2, "error: give ADDRESS_OR_CIDR or --all (one of them)\n"),
        (("unban", "192.0.2.200"), 1, "error: not_banned: '192.0.2.200' is not banned\n"),
    ],
)
def test_errors(config: Path, args: tuple[str, ...], code: int, message: str) -> None:
    assert _ip(config, *args) == (code, "", message)


def test_bad_seconds_is_a_usage_error(config: Path) -> None:
    code, _, err = _ip(config, "ban", "192.0.2.1", "--seconds", "-5")
    assert code == 2
    assert len(err.splitlines()) == 1


def test_a_ban_never_shortens_a_longer_one_without_force(config: Path) -> None:
    assert _ip(config, "ban", "198.51.100.0/24", "--seconds", "3600")[0] == 0
    code, out, err = _ip(config, "ban", "198.51.100.0/24")  # block_duration: 600 s, shorter
    assert (code, err) == (0, "")
    assert re.fullmatch(r"kept the longer ban of 198\.51\.100\.0/24 until \S+Z \(--force shortens it\)\n", out)
    until = json.loads(_ip(config, "list", "--json")[1])[0]["until"]
    assert out.split()[-4] == until
    code, out, _ = _ip(config, "status", "198.51.100.9")
    assert re.fullmatch(r"blocked (35\d\d|3600)\n", out)
    assert _ip(config, "ban", "198.51.100.0/24", "--seconds", "infinity")[1].startswith(
        "banned 198.51.100.0/24 until infinity"
    )
    code, out, _ = _ip(config, "ban", "198.51.100.0/24", "--seconds", "60", "--force")
    assert out.startswith("banned 198.51.100.0/24 until 20")
    assert re.fullmatch(r"blocked (5\d|60)\n", _ip(config, "status", "198.51.100.9")[1])
    audit = [json.loads(line) for line in (config.parent / "audit.jsonl").read_text().splitlines()]
    assert [a["what"] for a in audit] == ["ip_block", "ip_block", "ip_block"]  # the kept ban changed nothing


def test_an_ipv4_network_written_as_ipv6_is_the_ipv4_network(config: Path) -> None:
    assert _ip(config, "ban", "::ffff:192.0.2.0/120")[1].startswith("banned 192.0.2.0/24 until")
    assert _ip(config, "status", "192.0.2.55")[1].startswith("blocked")


def test_unban_all_and_the_warning_list(config: Path) -> None:
    assert _ip(config, "unban", "--all") == (0, "no banned addresses\n", "")
    for target in ("192.0.2.1", "10.0.0.0/8", "2001:db8::/64"):
        assert _ip(config, "ban", target)[0] == 0
    guard = Guard(load_config(config).guard_settings(), open_store(f"sqlite:///{config.parent / 'state.db'}"))
    try:
        from stockade.core.facts import RequestFacts  # noqa: PLC0415

        for ip, probes in (("198.51.100.4", 2), ("203.0.113.9", 1), ("2001:db8:5::1", 1)):
            for _ in range(probes):
                assert guard.bans.inspect(ip, RequestFacts(path="/.git/config")) == "vcs_metadata"
    finally:
        guard.close()
    code, out, err = _ip(config, "list", "--warning")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["198.51.100.4", "warning", "2"],
        ["2001:db8:5::/64", "warning", "1"],
        ["203.0.113.9", "warning", "1"],
    ]
    assert all(re.search(r"  last \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", line) for line in lines)
    listed = json.loads(_ip(config, "list", "--warning", "--json")[1])
    assert [(w["ip"], w["count"]) for w in listed] == [("198.51.100.4", 2), ("2001:db8:5::/64", 1), ("203.0.113.9", 1)]
    code, out, err = _ip(config, "unban", "--all")
    assert (code, err) == (0, "")
    assert sorted(out.splitlines()) == ["unbanned 10.0.0.0/8", "unbanned 192.0.2.1", "unbanned 2001:db8::/64"]
    assert _ip(config, "list") == (0, "no banned addresses\n", "")
    assert len(_ip(config, "list", "--warning")[1].splitlines()) == 3  # unban --all lifts bans, not warnings
