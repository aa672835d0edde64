"""The protecting server over real HTTP: files, Basic auth, lockout answers, hostile input."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.cli.serve import serve
from stockade.clock import ManualClock
from stockade.server.testing import ServerThread
from tests.integration.conftest import PUBLIC, SECRET, HttpClient, Reply, Site, basic, htpasswd_text

CHALLENGE = 'Basic realm="Secure Area", charset="UTF-8"'
FORBIDDEN = "You don't have permission to access &#47;secure&#47; on this server."


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def comparable(reply: Reply) -> tuple[int, dict[str, str], bytes]:
    return reply.status, {k: v for k, v in reply.headers.items() if k != "date"}, reply.body


def fail_three_times(client: HttpClient, user: str = "alice") -> None:
    for _ in range(3):
        assert client.get("/secure/", auth=(user, "wrong")).status == 401


# -- files ----------------------------------------------------------------------------------


def test_public_page(client: HttpClient) -> None:
    reply = client.get("/")
    assert reply.status == 200
    assert reply.body == PUBLIC
    assert reply.header("content-type") == "text/html; charset=utf-8"
    assert reply.header("content-length") == str(len(PUBLIC))
    assert reply.header("server") is None


def test_head_has_headers_without_body(client: HttpClient) -> None:
    reply = client.request("HEAD", "/pub/page.html")
    assert reply.status == 200
    assert reply.body == b""
    assert reply.header("content-length") == str(len(b"<p>page</p>\n"))
    protected = client.request("HEAD", "/secure/")
    assert (protected.status, protected.body) == (401, b"")
    assert protected.header("www-authenticate") == CHALLENGE


def test_other_methods_are_not_allowed(client: HttpClient) -> None:
    reply = client.request("POST", "/")
    assert reply.status == 405
    assert reply.header("allow") == "GET, HEAD"
    # Protected paths ask for credentials first, like the reference (mod_auth runs before the handler).
    assert client.request("DELETE", "/secure/").status == 401
    assert client.request("PUT", "/secure/", auth=("alice", "wonderland")).status == 405


def test_directory_redirect_index_and_missing(client: HttpClient) -> None:
    reply = client.get("/pub")
    assert reply.status == 301
    assert reply.header("location") == "/pub/"
    assert client.get("/pub/").status == 404  # no index.html there
    assert client.get("/missing.html").status == 404
    assert client.get("/index.html/").status == 404


def test_large_file_is_streamed_whole(site: Site, client: HttpClient) -> None:
    data = os.urandom(300_000)
    (site.docroot / "big.bin").write_bytes(data)
    reply = client.get("/big.bin")
    assert reply.status == 200
    assert reply.header("content-type") == "application/octet-stream"
    assert reply.body == data


# -- authentication -------------------------------------------------------------------------


def test_protected_without_credentials_is_challenged_and_not_counted(
    site: Site, server: ServerThread, client: HttpClient
) -> None:
    for path in ("/secure/", "/secure", "/secure/data.txt", "/secure/missing"):
        reply = client.get(path)
        assert reply.status == 401
        assert reply.header("www-authenticate") == CHALLENGE
        assert SECRET not in reply.body
    server.flush_events()
    assert site.read_events() == []


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_right_password(client: HttpClient, user: str) -> None:
    passwords = {"alice": "wonderland", "bob": "builder", "carol": "c:o:l:o:n"}
    reply = client.get("/secure/", auth=(user, passwords[user]))
    assert reply.status == 200
    assert reply.body == SECRET
    assert client.get("/secure/sub", auth=(user, passwords[user])).status == 301


def test_wrong_password_is_counted_with_listener_and_request_line(
    site: Site, server: ServerThread, client: HttpClient
) -> None:
    reply = client.get("/secure/data.txt?x=1", auth=("alice", "not-the-password"))
    assert reply.status == 401
    assert reply.header("www-authenticate") == CHALLENGE
    assert b"Unauthorized" in reply.body
    server.flush_events()
    [event] = site.read_events()
    assert event["what"] == "auth_fail"
    assert (event["address"], event["port"], event["directory"]) == ("127.0.0.1", server.port, "/secure")
    assert event["data"] == {"user": "alice", "client": "127.0.0.1", "request": "GET /secure/data.txt?x=1 HTTP/1.1"}
    security_log = (site.base / "security.log").read_text()
    assert "127.0.0.1 : Failed authentication : GET /secure/data.txt?x=1 HTTP/1.1 : alice" in security_log
    for log in (site.base / "security.log", site.base / "audit.jsonl", site.events):
        assert "not-the-password" not in log.read_text()


def test_unknown_user_and_user_not_required_are_counted(site: Site, clock: ManualClock) -> None:
    config = site.write_config(require_user=["alice"])
    with ServerThread(config, clock=clock) as server:
        client = HttpClient(server.port)
        assert client.get("/secure/", auth=("mallory", "x")).status == 401
        assert client.get("/secure/", auth=("bob", "builder")).status == 401
        assert client.get("/secure/", auth=("alice", "wonderland")).status == 200
        server.flush_events()
    assert [e["data"]["user"] for e in site.read_events("auth_fail")] == ["mallory", "bob"]  # type: ignore[index]


def test_block_after_three_failures_answers_403(site: Site, server: ServerThread, client: HttpClient) -> None:
    fail_three_times(client)
    reply = client.get("/secure/", auth=("alice", "wonderland"))
    assert reply.status == 403
    assert reply.header("www-authenticate") is None
    assert FORBIDDEN in reply.body.decode()
    assert SECRET not in reply.body
    # Wrong passwords while blocked still answer 401 and still count; other users are unaffected.
    assert client.get("/secure/", auth=("alice", "wrong")).status == 401
    assert client.get("/secure/", auth=("bob", "builder")).status == 200
    server.flush_events()
    assert [e["what"] for e in site.read_events()] == ["auth_fail"] * 3 + ["user_block", "auth_fail"]


def test_block_expires_with_the_clock(site: Site, server: ServerThread, client: HttpClient, clock: ManualClock) -> None:
    fail_three_times(client)
    assert client.get("/secure/", auth=("alice", "wonderland")).status == 403
    clock.advance(61)
    assert client.get("/secure/", auth=("alice", "wonderland")).status == 200
    server.flush_events()
    assert site.read_events()[-1]["what"] == "user_unblock"


def test_blocked_status_401_is_identical_to_a_wrong_password(site: Site, clock: ManualClock) -> None:
    with ServerThread(site.write_config(blocked_status=401), clock=clock) as server:
        client = HttpClient(server.port)
        fail_three_times(client)
        wrong = client.get("/secure/", auth=("alice", "wrong"))
        blocked = client.get("/secure/", auth=("alice", "wonderland"))
        missing = client.get("/secure/")
    assert blocked.status == 401
    assert comparable(blocked) == comparable(wrong) == comparable(missing)


def test_credentials_on_a_public_path_are_ignored(site: Site, server: ServerThread, client: HttpClient) -> None:
    assert client.get("/", auth=("alice", "wrong")).status == 200
    assert client.get("/", headers=[("Authorization", "Basic !!!!")]).status == 200
    server.flush_events()
    assert site.read_events() == []


def test_scheme_is_case_insensitive(client: HttpClient) -> None:
    value = "bAsIc " + b64(b"alice:wonderland")
    assert client.get("/secure/", headers=[("Authorization", value)]).status == 200
    assert client.get("/secure/", headers=[("Authorization", "Basic   " + b64(b"alice:wonderland"))]).status == 200


MALFORMED: dict[str, list[str | bytes]] = {
    "two headers": [basic("alice", "wrong"), basic("alice", "wrong")],
    "longer than 4096 bytes": ["Basic " + b64(b"alice:" + b"x" * 4000)],
    "no space after the scheme": ["Basic" + b64(b"alice:wrong")],
    "bearer": ["Bearer " + b64(b"alice:wrong")],
    "digest": ['Digest username="alice", realm="Secure Area"'],
    "scheme only": ["Basic"],
    "empty token": ["Basic "],
    "invalid base64": ["Basic !!!!"],
    "bad padding": ["Basic " + b64(b"alice:wrong")[:-2]],
    "base64 with junk": ["Basic " + b64(b"alice:wrong") + "*"],
    "no colon": ["Basic " + b64(b"alicewrong")],
    "user too long": ["Basic " + b64(b"u" * 257 + b":wrong")],
    "control character in user": ["Basic " + b64(b"ali\x01ce:wrong")],
    "NUL in user": ["Basic " + b64(b"ali\x00ce:wrong")],
    "DEL in user": ["Basic " + b64(b"ali\x7fce:wrong")],
    "latin-1 header bytes": [b"Basic \xff\xfe"],
}


@pytest.mark.parametrize("values", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_authorization_is_challenged_never_counted(
    site: Site, server: ServerThread, client: HttpClient, values: list[str | bytes]
) -> None:
    reply = client.get("/secure/", headers=[("Authorization", v) for v in values])
    assert reply.status == 401
    assert reply.header("www-authenticate") == CHALLENGE
    assert client.get("/secure/", auth=("alice", "wonderland")).status == 200
    server.flush_events()
    assert site.read_events("auth_fail") == []
    assert "Failed authentication" not in (site.base / "security.log").read_text()


def test_huge_header_is_refused_without_500(site: Site, server: ServerThread, client: HttpClient) -> None:
    value = "Basic " + b64(b"alice:" + b"x" * 64 * 1024)
    reply = client.raw(
        f"GET /secure/ HTTP/1.1\r\nHost: x\r\nAuthorization: {value}\r\nConnection: close\r\n\r\n".encode()
    )
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    assert status == 0 or 400 <= status < 500
    server.flush_events()
    assert site.read_events() == []


def test_non_utf8_credentials_fall_back_to_latin1(site: Site, server: ServerThread, client: HttpClient) -> None:
    reply = client.get("/secure/", headers=[("Authorization", basic("jos\xe9", "p\xe4ss", encoding="latin-1"))])
    assert reply.status == 401
    server.flush_events()
    [event] = site.read_events()
    assert event["data"]["user"] == "jos\xe9"  # type: ignore[index]


def test_utf8_user_names(site: Site, clock: ManualClock) -> None:
    digest = base64.b64encode(hashlib.sha1("gr\u00fc\u00dfe".encode()).digest()).decode()
    site.htpasswd.write_text(htpasswd_text() + "j\u00fcrgen:{SHA}" + digest + "\n", encoding="utf-8")
    with ServerThread(site.write_config(), clock=clock) as server:
        client = HttpClient(server.port)
        assert client.get("/secure/", auth=("j\u00fcrgen", "gr\u00fc\u00dfe")).status == 200
        assert client.get("/secure/", auth=("j\u00fcrgen", "gruesse")).status == 401


def test_store_failure_fails_closed_with_503(site: Site, server: ServerThread, client: HttpClient) -> None:
    server.guard.store.sync.close()  # type: ignore[attr-defined]  # a real broken connection, not a mock
    for auth in (("alice", "wonderland"), ("alice", "wrong")):
        reply = client.get("/secure/", auth=auth)
        assert reply.status == 503
        assert reply.header("retry-after") == "5"
        assert SECRET not in reply.body
    assert client.get("/").status == 200


def test_htpasswd_is_reloaded_when_it_changes(site: Site, server: ServerThread, clock: ManualClock) -> None:
    client = HttpClient(server.port)
    assert client.get("/secure/", auth=("alice", "wonderland")).status == 200
    site.htpasswd.write_text(htpasswd_text().replace("alice:", "alicia:"))
    os.utime(site.htpasswd, ns=(1, 1))
    clock.advance(2)
    assert client.get("/secure/", auth=("alice", "wonderland")).status == 401
    assert client.get("/secure/", auth=("alicia", "wonderland")).status == 200
    # A broken file keeps the previous users.
    site.htpasswd.write_text("this is not an htpasswd line\n")
    os.utime(site.htpasswd, ns=(2, 2))
    clock.advance(2)
    assert client.get("/secure/", auth=("alicia", "wonderland")).status == 200


# -- paths ----------------------------------------------------------------------------------

BYPASS_ATTEMPTS = [
    "/%73ecure/",
    "/%73%65%63%75%72%65/index.html",
    "//secure/",
    "///secure//index.html",
    "/./secure/",
    "/pub/../secure/",
    "/pub/%2e%2e/secure/",
    "/pub/%2E%2E/secure/data.txt",
    "/secure%2fdata.txt",
    "/pub%2f..%2fsecure/",
    "/secure/./data.txt",
    "/secure/sub/../data.txt",
    "/%2e%2e/secure",
    "/secure/%00",
    "/secure\\data.txt",
    "/pub/..%5csecure/data.txt",
    "/%252e%252e/secure/",
    "/secure/%ff",
]


@pytest.mark.parametrize("path", BYPASS_ATTEMPTS)
def test_encoded_paths_never_bypass_auth(site: Site, server: ServerThread, client: HttpClient, path: str) -> None:
    reply = client.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    status = int(reply.split(b" ", 2)[1])
    assert status in (400, 401, 404)
    assert b"secret" not in reply
    server.flush_events()
    assert site.read_events() == []


def test_an_escaped_slash_is_refused_before_any_check(site: Site, server: ServerThread, client: HttpClient) -> None:
    reply = client.get("/secure%2fdata.txt", auth=("alice", "wrong"))
    assert reply.status == 400
    assert b"escaped slash" in reply.body
    server.flush_events()
    assert site.read_events() == []


@pytest.mark.parametrize("path", ["/%73ecure/", "//secure/", "/pub/../secure/", "/pub/%2e%2e/secure/"])
def test_encoded_paths_count_against_the_directory(
    site: Site, server: ServerThread, client: HttpClient, path: str
) -> None:
    assert client.get(path, auth=("alice", "wrong")).status == 401
    server.flush_events()
    [event] = site.read_events()
    assert event["directory"] == "/secure"


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/pub/../../outside.txt",
        "/%2e%2e%2foutside.txt",
        "/pub/..%2f..%2foutside.txt",
        "/.%2e/outside.txt",
        "/escape/outside.txt",
        "/escape",
    ],
)
def test_traversal_never_leaves_the_root(site: Site, server: ServerThread, path: str) -> None:
    (site.base / "outside.txt").write_text("OUTSIDE\n")
    (site.docroot / "escape").symlink_to(site.base)
    (site.docroot / "link.txt").symlink_to(site.base / "outside.txt")
    client = HttpClient(server.port)
    reply = client.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert int(reply.split(b" ", 2)[1]) in (400, 404)
    assert b"OUTSIDE" not in reply
    assert client.get("/link.txt").status == 404


def test_absolute_form_target_is_protected(client: HttpClient) -> None:
    reply = client.raw(b"GET http://example.org/secure/ HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")
    assert b"secret" not in reply
    assert int(reply.split(b" ", 2)[1]) in (400, 401)


def test_wildcard_listener_has_no_address(site: Site, clock: ManualClock) -> None:
    with ServerThread(site.write_config(listen=["0.0.0.0:0"]), clock=clock) as server:
        assert HttpClient(server.port).get("/secure/", auth=("alice", "wrong")).status == 401
        server.flush_events()
    [event] = site.read_events()
    assert (event["address"], event["port"]) == (None, server.port)


def test_two_listeners_count_separately(site: Site, clock: ManualClock) -> None:
    with ServerThread(site.write_config(listen=["127.0.0.1:0", "127.0.0.1:0"]), clock=clock) as server:
        first, second = (HttpClient(a.port) for a in server.listen)
        fail_three_times(first)
        assert first.get("/secure/", auth=("alice", "wonderland")).status == 403
        assert second.get("/secure/", auth=("alice", "wonderland")).status == 200


def test_a_directory_with_a_data_file_of_its_own(site: Site, clock: ManualClock) -> None:
    (site.docroot / "pub" / "private").mkdir()
    (site.docroot / "pub" / "private" / "index.html").write_bytes(SECRET)
    base = {"auth_user_file": site.htpasswd.name, "max_retries": 3, "block_time": 1}
    config = site.write_config(
        directories=[{"path": "/secure", **base}, {"path": "/pub/private", "data_file": "private.db", **base}]
    )
    with ServerThread(config, clock=clock) as server:
        client = HttpClient(server.port)
        for path in ("/secure/", "/pub/private/"):
            for _ in range(3):
                assert client.get(path, auth=("alice", "wrong")).status == 401
            assert client.get(path, auth=("alice", "wonderland")).status == 403
    for file, directory in ((site.store, "/secure"), (site.base / "private.db", "/pub/private")):
        with closing(sqlite3.connect(file)) as conn:
            assert conn.execute("SELECT directory FROM lockout WHERE blocked_until IS NOT NULL").fetchall() == [
                (directory,)
            ]


def test_startup_fails_on_a_broken_store(site: Site, clock: ManualClock) -> None:
    site.store.write_bytes(b"not a database" * 100)
    with pytest.raises(Exception, match="store"):
        ServerThread(site.write_config(), clock=clock).start()


def test_server_thread_is_reusable_as_context(site: Site, tmp_path: Path) -> None:
    config = site.write_config()
    for _ in range(2):
        with ServerThread(config) as server:
            assert HttpClient(server.port).get("/").status == 200


# -- the example site and the command ---------------------------------------------------------


def test_example_site_works(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    site = tmp_path / "examples"
    shutil.copytree(examples, site, ignore=shutil.ignore_patterns("*.db*", "*.jsonl", "*.log"))
    config = site / "stockade.toml"
    text = config.read_text()
    assert 'listen = "127.0.0.1:9180"' in text  # the address `make run` prints for the console
    config.write_text(text.replace("127.0.0.1:8080", "127.0.0.1:0").replace("127.0.0.1:9180", "127.0.0.1:0"))
    with ServerThread(config, clock=ManualClock()) as server:
        console = HttpClient(int(server.admin_url.rstrip("/").rsplit(":", 1)[1]))
        assert b"Admin token" in console.get("/ui/login").body
        client = HttpClient(server.port)
        assert b'href="/secure/"' in client.get("/").body
        assert client.get("/secure/").header("www-authenticate") == CHALLENGE
        assert client.get("/secure/", auth=("alice", "wonderland")).status == 200
        assert client.get("/secure/", auth=("bob", "builder")).status == 200
        fail_three_times(client, "bob")
        assert client.get("/secure/", auth=("bob", "builder")).status == 403
    assert "Blocking user bob from dir /secure for 1 minutes" in (site / "security.log").read_text()


def test_serve_command_reports_a_bad_config_with_status_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nlisten = ["nowhere"]\n')
    result = CliRunner().invoke(serve, ["-c", str(config)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{config}: server.listen[0]: expected")
    missing = CliRunner().invoke(serve, ["-c", str(tmp_path / "missing.toml")])
    assert missing.exit_code == 2
    assert "cannot read the file" in missing.stderr


def test_serve_command_reports_a_busy_port(site: Site, server: ServerThread) -> None:
    config = site.write_config(listen=[f"127.0.0.1:{server.port}"], name="busy.toml")
    result = CliRunner().invoke(serve, ["-c", str(config)])
    assert result.exit_code == 1
    # One line naming the address, whichever of the listeners it is.
    assert result.stderr == f"stockade: cannot listen on 127.0.0.1:{server.port}: address already in use\n"


def test_serve_command_reports_a_broken_store(site: Site) -> None:
    site.store.write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(serve, ["-c", str(site.write_config())])
    assert result.exit_code == 1
    assert result.stderr.startswith("stockade: store sqlite:///")


def test_unreadable_file_is_404_not_500(site: Site, client: HttpClient) -> None:
    (site.docroot / "private.html").write_text("x")
    (site.docroot / "private.html").chmod(0)
    if os.access(site.docroot / "private.html", os.R_OK):
        pytest.skip("running as root: permissions are not enforced")
    assert client.get("/private.html").status == 404


def test_no_input_produces_a_500(site: Site, clock: ManualClock) -> None:
    header_bytes = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b""))
    path_text = st.text(alphabet="/.%2e5cfsecurpub\\~:?#", max_size=30).map(lambda p: "/" + p)
    tokens = st.one_of(header_bytes, header_bytes.map(lambda b: b"Basic " + base64.b64encode(b)))
    with ServerThread(site.write_config(), clock=clock) as server:
        client = HttpClient(server.port)

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(path=path_text, authorization=st.lists(tokens, max_size=2))
        def check(path: str, authorization: list[bytes]) -> None:
            lines = b"".join(b"Authorization: " + value + b"\r\n" for value in authorization)
            request = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + lines + b"Connection: close\r\n\r\n"
            reply = client.raw(request)
            assert reply.startswith(b"HTTP/1.1 ")
            assert int(reply.split(b" ", 2)[1]) in (200, 301, 400, 401, 404)
            assert b"top secret" not in reply

        check()
