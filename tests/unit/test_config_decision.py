"""``[decision]`` and ``[logs]``: resolved values, and every problem at once with exact messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.accesslogs.settings import DEFAULT_FIELDS
from stockade.config import load_config
from stockade.errors import ConfigError
from stockade.server.listen import ListenAddress
from stockade.server.run import listener_specs


def load_text(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "stockade.toml"
    path.write_text(text)
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return [str(issue) for issue in caught.value.issues]


def test_a_decision_endpoint_alone(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        '[server]\nlisten = []\n[proxy]\ntrusted = ["198.51.100.0/24"]\nheader = "x-real-ip"\n'
        '[decision]\nproxies = ["127.0.0.1", "10.1.2.3/8"]\n',
    )
    assert config.listen == ()
    assert config.decision is not None
    assert config.decision.listen == (ListenAddress("127.0.0.1", 9190),)
    assert config.decision.settings.proxies == ("127.0.0.1/32", "10.0.0.0/8")
    # Not [proxy] header: the check request carries the client's own X-Real-IP along.
    assert config.decision.settings.client_header == "x-forwarded-for"
    specs = listener_specs(config)
    assert [(s.address, s.decision) for s in specs] == [(ListenAddress("127.0.0.1", 9190), True)]


def test_decision_problems(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        '[server]\nlisten = "127.0.0.1:8080"\n[decision]\nlisten = ["127.0.0.1:8080", "nowhere", ":9190", ":9190"]\n'
        'proxies = ["10.0.0.1", "proxy.local"]\nclient_header = "x-client"\nextra = 1\n',
    ) == [
        'decision.client_header: expected "x-forwarded-for", "forwarded" or "x-real-ip" (got \'x-client\')',
        "decision.extra: unknown key: expected one of listen, proxies, client_header",
        "decision.listen[0]: same address as server.listen (got '127.0.0.1:8080')",
        "decision.listen[1]: expected 'IPv4:port', '[IPv6]:port' or ':port' with a port from 0 to 65535"
        " (got 'nowhere')",
        "decision.listen[3]: same address as decision.listen[2] (got ':9190')",
        "decision.proxies[1]: expected an IP address or a CIDR network like 10.0.0.0/8 (got 'proxy.local')",
    ]
    assert problems(tmp_path, "[decision]\n") == ["decision.proxies: required key is missing"]
    assert problems(tmp_path, "[decision]\nproxies = []\n") == [
        'decision.proxies: expected the proxies that may ask, like ["127.0.0.1"] (got [])'
    ]


def test_logs_defaults_and_fields(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[logs]\nfiles = "access.log"\n')
    assert config.logs is not None
    assert config.logs.files == (tmp_path / "access.log",)
    assert (config.logs.format, config.logs.detect, config.logs.start) == ("combined", True, "end")
    with_decision = load_text(tmp_path, '[logs]\nfiles = ["a.log"]\n[decision]\nproxies = "127.0.0.1"\n')
    assert with_decision.logs is not None
    assert with_decision.logs.detect is False  # the decision endpoint inspects each request already
    caddy = load_text(
        tmp_path,
        '[logs]\nfiles = ["a.log"]\nformat = "json"\ndetect = true\n'
        'fields = { client = "request.client_ip", uri = "request.uri", status = "status", referer = "" }\n',
    )
    assert caddy.logs is not None
    assert caddy.logs.fields == {
        **DEFAULT_FIELDS,
        "client": "request.client_ip",
        "uri": "request.uri",
        "referer": "",
    }


def test_logs_problems(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        '[logs]\nfiles = ["missing/a.log", "."]\nformat = "clf"\nstart = "middle"\npoll_interval = 0\n'
        'fields = { clientip = "x" }\n',
    ) == [
        'logs.format: expected "combined" or "json" (got \'clf\')',
        'logs.start: expected "end" or "beginning" (got \'middle\')',
        "logs.poll_interval: expected a number of seconds > 0 (got 0)",
        f"logs.files[0]: expected a file in an existing directory (got '{tmp_path / 'missing' / 'a.log'}')",
        f"logs.files[1]: expected a file in an existing directory (got '{tmp_path}')",
        "logs.fields.clientip: unknown field: expected one of client, forwarded_for, method, uri, request, protocol,"
        " status, host, user_agent, referer",
    ]
    assert problems(tmp_path, '[logs]\nfiles = ["a.log"]\nfields = { client = "ip" }\n') == [
        'logs.fields: only a JSON log has fields: set format = "json"'
    ]
    assert problems(tmp_path, '[logs]\nfiles = ["a.log"]\nfields = { client = 1 }\n') == [
        "logs.fields: expected a table of field names, like { status = \"status\" } (got {'client': 1})"
    ]
