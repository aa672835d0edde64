"""The check requests of the proxies the suite cannot run (Traefik, ingress-nginx, Envoy), over real HTTP.

Debian packages neither Traefik nor Envoy, and ingress-nginx needs a Kubernetes cluster, so
their check requests are sent here as their documentation says they send them, header for
header, on one keep-alive connection from the proxy's address, to the decision listener of
a real server (the configuration of test_decision_proxies). What the real nginx, Caddy and
HAProxy send is tested in test_decision_proxies.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.clock import ManualClock
from stockade.server.testing import ServerThread
from tests.integration.proxies import WAIT
from tests.integration.test_decision_proxies import BAD, GOOD, stockade_config

Answer = tuple[int, dict[str, str], bytes]


class Proxy:
    """One keep-alive connection from the proxy's address (127.0.0.1) to the decision listener."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT, source_address=("127.0.0.1", 0))

    def check(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None = None) -> Answer:
        self.conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            self.conn.putheader(name, value)
        if body is not None:
            self.conn.putheader("Content-Length", str(len(body)))
        self.conn.endheaders(body)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    with ServerThread(stockade_config(tmp_path), clock=ManualClock(1_800_000_000.0)) as server:
        proxy = Proxy(server.decision_port)
        try:
            yield proxy
        finally:
            proxy.conn.close()


def traefik(port: int, method: str, uri: str, client: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """Traefik's forwardAuth: the client's headers, then X-Forwarded-* of the original request."""
    return [
        ("Host", f"127.0.0.1:{port}"),
        ("User-Agent", "Mozilla/5.0"),
        *extra,
        ("X-Forwarded-For", client),
        ("X-Forwarded-Host", "shop.example.com"),
        ("X-Forwarded-Method", method),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Server", "traefik-1"),
        ("X-Forwarded-Uri", uri),
        ("X-Real-Ip", client),
    ]


def test_traefik_forward_auth(proxy: Proxy) -> None:
    client = "203.0.113.7"
    status, headers, _ = proxy.check("GET", "/forward", traefik(proxy.port, "GET", "/shop?x=1", client))
    assert (status, headers["x-stockade-client-ip"]) == (200, client)
    # A client's own X-Original-URI means nothing under /forward.
    spoof = ("X-Original-URI", "/.env")
    assert proxy.check("GET", "/forward", traefik(proxy.port, "GET", "/shop", client, spoof))[0] == 200
    for probe in ("/.env", "/.git/config", "/wp-login.php"):
        assert proxy.check("GET", "/forward", traefik(proxy.port, "GET", probe, client))[0] == 200
    status, headers, _ = proxy.check("GET", "/forward", traefik(proxy.port, "GET", "/shop", client))
    assert (status, headers["retry-after"]) == (403, "600")
    # Traefik asks with GET whatever the original method; mod_block reads the original one's host.
    status, _, _ = proxy.check("GET", "/forward", traefik(proxy.port, "POST", "/admin/", "203.0.113.8"))
    assert status == 403


def ingress(url: str, client: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """ingress-nginx's auth-url: its own Host, X-Original-URL and the headers its template sets."""
    return [
        ("Host", "stockade.stockade.svc.cluster.local:9190"),
        ("X-Original-URL", url),
        ("X-Original-Method", "GET"),
        ("X-Sent-From", "nginx-ingress-controller"),
        ("X-Real-IP", client),
        ("X-Forwarded-For", client),
        ("X-Auth-Request-Redirect", "/admin/"),
        ("User-Agent", "Mozilla/5.0"),
        *extra,
    ]


def test_ingress_nginx_auth_url(proxy: Proxy) -> None:
    client = "203.0.113.9"
    assert proxy.check("GET", "/ingress-nginx", ingress("https://Shop.Example.COM/admin/", client))[0] == 403
    status, headers, _ = proxy.check("GET", "/ingress-nginx", ingress("https://blog.example.com/admin/", client))
    assert (status, headers["x-stockade-client-ip"]) == (200, client)
    # The check's own Host is the service's: a client's Host never reaches the decision.
    spoof = ("X-Forwarded-Host", "blog.example.com")
    assert proxy.check("GET", "/ingress-nginx", ingress("https://shop.example.com/admin/", client, spoof))[0] == 403


def envoy(client: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """Envoy's ext_authz HTTP service: the original Host, the allowed headers, Envoy's own."""
    return [
        ("Host", "shop.example.com"),
        ("x-forwarded-for", client),
        ("x-forwarded-proto", "https"),
        ("user-agent", "Mozilla/5.0"),
        ("x-request-id", "4d5e0c0a-9c1f-4b53-9a43-0d0e3f1c2b7a"),
        ("x-envoy-expected-rq-timeout-ms", "250"),
        ("x-envoy-internal", "true"),
        *extra,
    ]


def test_envoy_ext_authz(proxy: Proxy) -> None:
    client = "203.0.113.10"
    status, headers, _ = proxy.check("POST", "/envoy/secure/login", envoy(client), body=b"")
    assert (status, headers["www-authenticate"]) == (401, 'Basic realm="Secure Area", charset="UTF-8"')
    ok = ("authorization", GOOD)
    assert proxy.check("POST", "/envoy/secure/login", envoy(client, ok), body=b"")[0] == 200
    # with_request_body: the original body comes along; it is not read, the connection goes on.
    bad = ("authorization", BAD)
    status, _, _ = proxy.check("POST", "/envoy/secure/login", envoy(client, bad), body=b"user=alice&pass=x" * 64)
    assert status == 401
    assert proxy.check("POST", "/envoy/secure/login", envoy(client, bad), body=b"")[0] == 401
    # Two wrong passwords: alice is blocked, her right one refused.
    assert proxy.check("POST", "/envoy/secure/login", envoy(client, ok), body=b"")[0] == 403
    status, headers, _ = proxy.check("GET", "/envoy/old/page?x=1", envoy(client))
    assert (status, headers["x-stockade-decision-id"] != "") == (403, True)


def test_envoy_with_request_body_has_the_body_inspected(proxy: Proxy) -> None:
    client = "203.0.113.11"
    form = b"comment=1' UNION ALL SELECT password,2 FROM users--&name=jo"
    typed = ("content-type", "application/x-www-form-urlencoded")
    clean = b"comment=hello+world&name=jo"
    for _ in range(3):
        assert proxy.check("POST", "/envoy/comment", envoy(client, typed), body=clean)[0] == 200
    # The first body_limit bytes are read; the rest of a longer body is left, the connection goes on.
    partial = ("x-envoy-auth-partial-body", "true")
    assert proxy.check("POST", "/envoy/comment", envoy(client, typed, partial), body=form + b"x" * 100_000)[0] == 200
    for _ in range(2):
        assert proxy.check("POST", "/envoy/comment", envoy(client, typed), body=form)[0] == 200
    status, headers, _ = proxy.check("POST", "/envoy/comment", envoy(client, typed), body=clean)
    assert (status, headers["retry-after"]) == (403, "600")
