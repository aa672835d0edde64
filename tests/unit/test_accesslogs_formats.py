"""Access-log lines as entries: nginx's and Apache's combined format, JSON lines with a field map."""

from __future__ import annotations

import json

import pytest

from stockade.accesslogs.formats import JsonFields, LineError, LogEntry, parse_combined
from stockade.accesslogs.settings import DEFAULT_FIELDS

NGINX = b'203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /.env?x=1 HTTP/1.1" 404 153 "-" "curl/8.0"'


def test_a_combined_line() -> None:
    assert parse_combined(NGINX) == LogEntry(
        client="203.0.113.7", status=404, method="GET", target=b"/.env?x=1", protocol="HTTP/1.1", user_agent="curl/8.0"
    )


def test_the_escapes_of_nginx_and_apache_are_undone() -> None:
    # nginx: \xHH for '"', '\' and bytes outside printable ASCII; Apache: \" and \\ as well.
    nginx = rb'192.0.2.1 - bob [x] "GET /caf\xC3\xA9/\x22a\x22 HTTP/1.1" 200 5 "http://r/" "a \x22quoted\x22 agent"'
    entry = parse_combined(nginx)
    assert (entry.target, entry.user_agent, entry.referer) == (
        '/café/"a"'.encode(),
        'a "quoted" agent',
        "http://r/",
    )
    apache = rb'192.0.2.1 - "a b" [x] "GET /a\"b\\c HTTP/1.0" 301 - "-" "x\"y"'
    entry = parse_combined(apache)
    assert (entry.target, entry.protocol, entry.status, entry.user_agent) == (b'/a"b\\c', "HTTP/1.0", 301, 'x"y')


def test_common_format_without_referer_and_agent() -> None:
    entry = parse_combined(b'::1 - - [10/Oct/2026:13:55:36 +0000] "POST /login HTTP/2.0" 401 0')
    assert (entry.client, entry.method, entry.status, entry.user_agent) == ("::1", "POST", 401, "")


def test_a_request_line_that_is_not_one_keeps_its_status() -> None:
    # What a TLS handshake or a scanner sends to a plain-HTTP port: nginx logs it with 400.
    entry = parse_combined(rb'198.51.100.9 - - [x] "\x16\x03\x01\x02\x00\x01\x00" 400 157 "-" "-"')
    assert (entry.client, entry.status, entry.target, entry.method) == ("198.51.100.9", 400, None, "")
    assert parse_combined(b'198.51.100.9 - - [x] "-" 400 0 "-" "-"').target is None


@pytest.mark.parametrize("line", [b"", b"garbage", b'1.2.3.4 - - [x] "GET / HTTP/1.1" 4040 1', b"{}"])
def test_other_lines_are_not_entries(line: bytes) -> None:
    with pytest.raises(LineError, match="not a combined-format line"):
        parse_combined(line)


def test_json_lines_with_nginx_names() -> None:
    read = JsonFields(DEFAULT_FIELDS)
    line = {
        "remote_addr": "203.0.113.7",
        "request_method": "GET",
        "request_uri": "/wp-login.php",
        "status": "404",
        "host": "shop.example.com",
        "http_user_agent": "sqlmap/1.7",
        "http_referer": "-",
        "server_protocol": "HTTP/2.0",
    }
    assert read(json.dumps(line).encode()) == LogEntry(
        client="203.0.113.7",
        status=404,
        method="GET",
        target=b"/wp-login.php",
        protocol="HTTP/2.0",
        host="shop.example.com",
        user_agent="sqlmap/1.7",
    )
    by_request_line = {"remote_addr": "203.0.113.7", "request": "HEAD /x?y HTTP/1.0", "status": 403}
    entry = read(json.dumps(by_request_line).encode())
    assert (entry.method, entry.target, entry.protocol, entry.status) == ("HEAD", b"/x?y", "HTTP/1.0", 403)


def test_json_lines_with_nested_fields_as_caddy_writes_them() -> None:
    read = JsonFields(
        {
            "client": "request.client_ip",
            "method": "request.method",
            "uri": "request.uri",
            "host": "request.host",
            "protocol": "request.proto",
            "user_agent": "request.headers.User-Agent",
            "referer": "request.headers.Referer",
            "forwarded_for": "request.headers.X-Forwarded-For",
        }
    )
    line = {
        "level": "info",
        "request": {
            "remote_ip": "127.0.0.1",
            "client_ip": "203.0.113.7",
            "proto": "HTTP/1.1",
            "method": "GET",
            "host": "example.com",
            "uri": "/.git/config",
            "headers": {"User-Agent": ["curl/8.0"]},
        },
        "status": 404,
    }
    entry = read(json.dumps(line).encode())
    assert (entry.client, entry.target, entry.user_agent, entry.referer, entry.host) == (
        "203.0.113.7",
        b"/.git/config",
        "curl/8.0",
        "",
        "example.com",
    )


def test_a_dotted_key_is_read_as_it_is_first() -> None:
    read = JsonFields({"client": "client.ip", "status": "code"})
    assert read(b'{"client.ip": "192.0.2.1", "code": 200}').client == "192.0.2.1"


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'{"status": 200}',
        b'{"remote_addr": "1.2.3.4", "status": "ok"}',
        b'{"remote_addr": "1.2.3.4", "status": "9' + b"9" * 5000 + b'"}',
        b'{"remote_addr": "1.2.3.4", "status": 1000}',
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_json_lines_without_client_or_status_are_not_entries(line: bytes) -> None:
    with pytest.raises(LineError):
        JsonFields(DEFAULT_FIELDS)(line)
