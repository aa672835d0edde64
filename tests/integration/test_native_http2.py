"""HTTP/2 over TLS on the native front, over real sockets with real clients.

``httpx`` (with ``h2``) talks to ``stockade serve`` on a TLS listener that
offers ``h2`` by ALPN; raw ``h2`` connections over a TLS socket send what a client library
would not (a host that differs from ``:authority``, oversized headers, a rapid-reset flood).
Each stream goes through the same checks as an HTTP/1.1 request and reaches the upstream
as HTTP/1.1 (the proxy tests' upstream app, under uvicorn).
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import httpx
import pytest

from stockade.server.listen import ListenAddress
from stockade.server.settings import ListenerSpec, TlsSettings
from stockade.server.testing import ServerThread
from tests.integration.conftest import Site
from tests.integration.http_support import Certificates, make_certificates
from tests.integration.test_protecting_server import TOKEN, _config, get
from tests.integration.test_proxy import Uvicorn

ENHANCE_YOUR_CALM = 0xB


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uvicorn]:
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with Uvicorn("tests.integration.upstream_app:app", log) as server:
        yield server


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    directory = tmp_path / "tls"
    directory.mkdir()
    return make_certificates(directory)


def tls_native(config: Path, certificates: Certificates, *, http2: bool = True, **kwargs: object) -> ServerThread:
    tls = TlsSettings(certificates.server_cert, certificates.server_key, http2=http2)
    listeners = [ListenerSpec(ListenAddress("127.0.0.1", 0), tls=tls)]
    return ServerThread(config, listeners=listeners, **kwargs)  # type: ignore[arg-type]


def client(certificates: Certificates, *, http2: bool = True) -> httpx.Client:
    context = certificates.client_context(with_certificate=False)
    return httpx.Client(http2=http2, verify=context, timeout=10)


def url(running: ServerThread, path: str) -> str:
    return f"https://localhost:{running.port}{path}"


def echoed(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    data = json.loads(response.content)
    assert isinstance(data, dict)
    return data


def header(data: dict[str, object], name: str) -> str | None:
    headers = data["headers"]
    assert isinstance(headers, list)
    return next((value for key, value in headers if key == name), None)


class RawH2:
    """An HTTP/2 client connection on a TLS socket, frame by frame (the ``h2`` package)."""

    def __init__(self, port: int, certificates: Certificates, *, window: int | None = None) -> None:
        context = certificates.client_context(with_certificate=False)
        context.set_alpn_protocols(["h2"])
        plain = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = context.wrap_socket(plain, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False, normalize_outbound_headers=False
        )
        self.conn = h2.connection.H2Connection(config=config)
        if window is not None:
            initial = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window}
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=initial)
        self.conn.initiate_connection()
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def receive(self) -> list[h2.events.Event]:
        """The next events; an empty list once the server closed the connection."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            return []
        if not data:
            return []
        events = self.conn.receive_data(data)
        self.flush()
        return events

    def close(self) -> None:
        self.sock.close()

    def answer(self, stream_id: int) -> tuple[int | None, bool]:
        """The status the stream got (``None`` without one), and whether it was reset."""
        status: int | None = None
        while True:
            events = self.receive()
            if not events:
                return status, False
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream_id:
                    return status, True
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
                    return status, False


def front_counts(running: ServerThread) -> dict[str, float]:
    admin = int(running.admin_url.rsplit(":", 1)[1])
    status, _, body = get(admin, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    lines = body.decode().splitlines()
    return {line.split()[0]: float(line.split()[1]) for line in lines if line.startswith("front_")}


def concurrent_paths(port: int, certificates: Certificates, paths: list[str]) -> bool:
    """Send a GET for each path on one connection, all before reading: whether each stream
    got 200 and the echo of its own path."""
    raw = RawH2(port, certificates)
    sent: dict[int, str] = {}
    try:
        for path in paths:
            stream_id = raw.conn.get_next_available_stream_id()
            raw.conn.send_headers(stream_id, request_headers(port, path), end_stream=True)
            sent[stream_id] = path
        raw.flush()
        statuses: dict[int, int] = {}
        bodies = dict.fromkeys(sent, b"")
        ended: set[int] = set()
        while len(ended) < len(sent):
            events = raw.receive()
            assert events, f"the connection ended with streams {sorted(set(sent) - ended)} open"
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id is not None:
                    statuses[event.stream_id] = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.DataReceived) and event.stream_id is not None:
                    bodies[event.stream_id] += event.data or b""
                    raw.conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id is not None:
                    ended.add(event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    raise AssertionError(f"stream {event.stream_id} was reset")
            raw.flush()
    finally:
        raw.close()
    return statuses == dict.fromkeys(sent, 200) and {k: json.loads(v)["path"] for k, v in bodies.items()} == sent


def request_headers(port: int, path: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [(":method", "GET"), (":scheme", "https"), (":authority", f"localhost:{port}"), (":path", path), *extra]


def test_a_get_over_h2_reaches_the_upstream_as_http_1_1(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    log = site.base / "access.jsonl"
    config = _config(site, upstream)
    with tls_native(config, certificates, access_log=str(log)) as running, client(certificates) as http:
        response = http.get(url(running, "/echo/h2?q=1"), headers={"x-custom": "yes"})
        assert response.http_version == "HTTP/2"
        data = echoed(response)
        assert data["http_version"] == "1.1"
        assert (data["path"], data["query"]) == ("/echo/h2", "q=1")
        assert header(data, "host") == f"localhost:{running.port}"
        assert header(data, "x-forwarded-proto") == "https"
        assert header(data, "x-forwarded-for") == "127.0.0.1"
        assert header(data, "x-custom") == "yes"
        # Streams at once on the one connection: every request is sent before any answer is
        # read (frame by frame: httpx's HTTP/2 client is not safe to drive from threads).
        assert concurrent_paths(running.port, certificates, [f"/echo/{i}" for i in range(16)])
        assert http.get(url(running, "/files/a.txt")).content == b"file a\n"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert (lines[0]["method"], lines[0]["path"], lines[0]["status"]) == ("GET", "/echo/h2?q=1", 200)
    assert lines[-1]["path"] == "/files/a.txt"


def test_bodies_stream_both_ways(site: Site, upstream: Uvicorn, certificates: Certificates) -> None:
    body = bytes(range(256)) * 12_000  # about 3 MB, many windows' worth
    with tls_native(_config(site, upstream), certificates) as running, client(certificates) as http:
        data = echoed(http.post(url(running, "/echo/upload"), content=body))
        assert (data["body_size"], data["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
        assert header(data, "content-length") == str(len(body))

        def pieces() -> Iterator[bytes]:  # no length: framed chunked toward the upstream
            for start in range(0, len(body), 100_000):
                yield body[start : start + 100_000]

        data = echoed(http.post(url(running, "/echo/stream"), content=pieces()))
        assert (data["body_size"], data["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
        assert header(data, "transfer-encoding") == "chunked"
        download = http.get(url(running, "/download?size=5000000&length=1"))
        assert download.status_code == 200
        assert len(download.content) == 5_000_000
        chunked = http.get(url(running, "/chunked?parts=4"))
        assert chunked.content.startswith(b"part 0 ")
        assert b"part 3 " in chunked.content
        assert "transfer-encoding" not in chunked.headers


def test_a_ban_and_a_close_rule_are_kept_as_over_http_1_1(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    with tls_native(_config(site, upstream), certificates) as running:
        admin = int(running.admin_url.rsplit(":", 1)[1])
        with client(certificates) as http, client(certificates, http2=False) as http1:
            assert http.get(url(running, "/echo/secure/x")).status_code == 401
            # mod_block's CLOSE drops the HTTP/2 connection, as it drops an HTTP/1.1 one.
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(url(running, "/debug/x"))
            with pytest.raises(httpx.RemoteProtocolError):
                http1.get(url(running, "/debug/x"))
        with client(certificates) as http, client(certificates, http2=False) as http1:
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            block = json.dumps({"ip": "127.0.0.1", "seconds": 60}).encode()
            assert get(admin, "/ips/block", headers, "POST", block)[0] == 200
            over_h2 = http.get(url(running, "/echo/b"))
            over_h1 = http1.get(url(running, "/echo/b"))
            assert over_h2.http_version == "HTTP/2"
            assert over_h1.http_version == "HTTP/1.1"
            assert over_h2.status_code == over_h1.status_code == 403
            assert over_h2.content == over_h1.content
            assert over_h2.headers["retry-after"] == over_h1.headers["retry-after"]


def test_the_rules_read_h2_as_the_session_protocol(site: Site, upstream: Uvicorn, certificates: Certificates) -> None:
    config = _config(site, upstream)
    rules = json.loads((site.base / "rules.data").read_text())
    rules["Config"]["global"].append(
        {"Name": "h2", "Cond": 'req_proto_match("h2") && req_path_prefix_in("/echo/h2-only", false)',
         "Action": {"Cmd": "CLOSE", "Params": []}}
    )  # fmt: skip
    (site.base / "rules.data").write_text(json.dumps(rules))
    with tls_native(config, certificates) as running:
        with client(certificates, http2=False) as http1:
            assert http1.get(url(running, "/echo/h2-only")).status_code == 200
        with client(certificates) as http:
            assert http.get(url(running, "/echo/other")).status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(url(running, "/echo/h2-only"))


def test_alpn_falls_back_to_http_1_1(site: Site, upstream: Uvicorn, certificates: Certificates) -> None:
    config = _config(site, upstream)
    with tls_native(config, certificates) as running:
        for offered in (["http/1.1"], None):
            context = certificates.client_context(with_certificate=False)
            if offered is not None:
                context.set_alpn_protocols(offered)
            plain = socket.create_connection(("127.0.0.1", running.port), timeout=10)
            with context.wrap_socket(plain, server_hostname="localhost") as sock:
                assert sock.selected_alpn_protocol() == (None if offered is None else "http/1.1")
                sock.sendall(b"GET /echo/one HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                assert data.startswith(b"HTTP/1.1 200 ")
        with client(certificates, http2=False) as http1:
            assert http1.get(url(running, "/echo/x")).http_version == "HTTP/1.1"
    with tls_native(config, certificates, http2=False) as running, client(certificates) as http:
        response = http.get(url(running, "/echo/x"))  # offers h2, gets HTTP/1.1: http2 = false
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"


def test_a_host_that_differs_from_the_authority_and_connect_are_refused(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    with tls_native(_config(site, upstream), certificates) as running:
        raw = RawH2(running.port, certificates)
        try:
            raw.conn.send_headers(1, request_headers(running.port, "/echo/x", ("host", "evil.test")), end_stream=True)
            raw.flush()
            assert raw.answer(1) == (400, False)
            same = request_headers(running.port, "/echo/x", ("host", f"localhost:{running.port}"))
            raw.conn.send_headers(3, same, end_stream=True)
            raw.flush()
            assert raw.answer(3)[0] == 200
            # A connection-specific header is a malformed request: the stream is reset.
            raw.conn.send_headers(5, request_headers(running.port, "/echo/x", ("connection", "close")), end_stream=True)
            raw.flush()
            assert raw.answer(5) == (None, True)
            connect = [(":method", "CONNECT"), (":authority", "example.test:443")]
            raw.conn.send_headers(7, connect, end_stream=True)
            raw.flush()
            assert raw.answer(7) == (501, False)
        finally:
            raw.close()


def test_oversized_headers_are_refused(site: Site, upstream: Uvicorn, certificates: Certificates) -> None:
    with tls_native(_config(site, upstream), certificates) as running:
        raw = RawH2(running.port, certificates)
        try:
            big = request_headers(running.port, "/echo/x", ("x-big", "a" * 70_000))
            raw.conn.send_headers(1, big, end_stream=True)
            raw.flush()
            status, _ = raw.answer(1)
            assert status == 431
            raw.conn.send_headers(3, request_headers(running.port, "/echo/x"), end_stream=True)
            raw.flush()
            assert raw.answer(3)[0] == 200
        finally:
            raw.close()


def test_a_rapid_reset_flood_gets_goaway_and_others_are_served(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    with tls_native(_config(site, upstream), certificates) as running:
        raw = RawH2(running.port, certificates)
        goaway: h2.events.ConnectionTerminated | None = None
        try:
            for stream_id in range(1, 400, 2):  # one burst of opened-and-cancelled streams
                raw.conn.send_headers(stream_id, request_headers(running.port, "/slow?delay=5"))
                raw.conn.reset_stream(stream_id)
            raw.flush()
            while goaway is None:
                events = raw.receive()
                if not events:
                    break
                goaway = next((e for e in events if isinstance(e, h2.events.ConnectionTerminated)), None)
        except h2.exceptions.ProtocolError:
            pass
        finally:
            raw.close()
        assert goaway is not None
        assert goaway.error_code == ENHANCE_YOUR_CALM
        with client(certificates) as http:
            assert echoed(http.get(url(running, "/echo/after")))["path"] == "/echo/after"


def test_streams_reset_in_progress_count_toward_goaway(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    """Streams the server accepted (and forwards) are reset: beyond the allowance, GOAWAY."""
    with tls_native(_config(site, upstream), certificates) as running:
        raw = RawH2(running.port, certificates)
        goaway: h2.events.ConnectionTerminated | None = None
        try:
            stream_id = 1
            for _ in range(4):
                ids = list(range(stream_id, stream_id + 100, 2))
                stream_id += 100
                for opened in ids:  # bodies to come: each exchange waits for the client
                    raw.conn.send_headers(opened, request_headers(running.port, "/echo/upload"))
                raw.conn.ping(b"accepted")
                raw.flush()
                acked = False
                while not acked and goaway is None:
                    events = raw.receive()
                    assert events, "the server closed the connection without GOAWAY"
                    acked = any(isinstance(e, h2.events.PingAckReceived) for e in events)
                    goaway = next((e for e in events if isinstance(e, h2.events.ConnectionTerminated)), None)
                if goaway is not None:
                    break
                for opened in ids:
                    raw.conn.reset_stream(opened)
                raw.flush()
            while goaway is None:
                events = raw.receive()
                if not events:
                    break
                goaway = next((e for e in events if isinstance(e, h2.events.ConnectionTerminated)), None)
        finally:
            raw.close()
        assert goaway is not None
        assert goaway.error_code == ENHANCE_YOUR_CALM
        assert goaway.additional_data is None  # the front's own count, not h2's pending-accept one
        with client(certificates) as http:
            assert http.get(url(running, "/echo/after")).status_code == 200
        assert front_counts(running)["front_closed"] == 1


def test_a_client_that_opens_no_window_loses_the_stream(
    site: Site, upstream: Uvicorn, certificates: Certificates
) -> None:
    config = _config(site, upstream, extra="\n[server.limits]\nbody_timeout = 1\n")
    with tls_native(config, certificates) as running:
        raw = RawH2(running.port, certificates, window=0)
        try:
            raw.conn.send_headers(1, request_headers(running.port, "/download?size=200000&length=1"), end_stream=True)
            raw.flush()
            assert raw.answer(1) == (200, True)  # the head went out, the body could not: reset
            raw.conn.send_headers(3, request_headers(running.port, "/echo/x"), end_stream=True)
            raw.flush()
            assert raw.answer(3)[0] == 200  # the connection serves on
        finally:
            raw.close()
