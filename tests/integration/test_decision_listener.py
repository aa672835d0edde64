"""The decision listener of ``stockade serve``, beside the site's own listener and the admin API."""

from __future__ import annotations

import http.client
from pathlib import Path

from tests.integration.conftest import Site
from tests.integration.proxies import ask
from tests.integration.serve_process import ServeProcess

TOKEN = "decision-test-token-0123456789"
CHECK = {"X-Original-URI": "/index.html", "X-Original-Method": "GET", "Host": "example.com"}


def config(site: Site, proxies: str = '["127.0.0.1"]') -> Path:
    path = site.write_config(directories=[], audit=False)
    (site.base / "rules.data").write_text('{"Version": "1", "Config": {}}')
    # The whole loopback network is blocklisted: the site's listener closes every test connection.
    (site.base / "ips.data").write_text("127.0.0.0/8\n")
    path.write_text(
        path.read_text()
        + f'\n[decision]\nlisten = "127.0.0.1:0"\nproxies = {proxies}\n'
        + '\n[block]\nrules = "rules.data"\nip_blocklist = "ips.data"\nwatch = false\n'
        + f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
    )
    return path


def check(port: int, client: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return ask(port, "/nginx", source="127.0.0.1", method=method, headers={**CHECK, "X-Forwarded-For": client})


def test_the_decision_listener_answers_proxies_the_blocklist_cannot_close(site: Site) -> None:
    with ServeProcess(config(site), token=TOKEN) as server:
        assert server.request("/index.html") == 0  # the site's listener: a blocklisted peer is closed
        assert check(server.decision_port, "203.0.113.7")[0] == 200  # the proxy's peer is not the client
        status, headers, body = check(server.decision_port, "127.0.0.5")  # the client is blocklisted
        assert (status, body) == (403, b"Forbidden")
        assert headers["x-stockade-decision-id"]
        status, headers, body = check(server.decision_port, "203.0.113.7", method="HEAD")
        assert (status, headers["x-stockade-client-ip"], body) == (200, "203.0.113.7", b"")
        assert server.metric('stockade_decisions_total{outcome="allowed"}') == 2
        assert server.metric('stockade_decisions_total{outcome="closed"}') == 1
        assert server.metric("mod_block_CONN_REFUSE") == 2


def test_a_reload_changes_who_may_ask(site: Site) -> None:
    path = config(site)
    with ServeProcess(path, token=TOKEN) as server:
        assert check(server.decision_port, "203.0.113.7")[0] == 200
        path.write_text(path.read_text().replace('proxies = ["127.0.0.1"]', 'proxies = ["127.0.0.9"]'))
        mark = server.mark()
        status, answer = server.admin("POST", "/reload")
        assert status == 200, answer
        server.wait_for_log(r"reload: \[logs\] or \[decision\] changed", after=mark)
        assert check(server.decision_port, "203.0.113.7")[0] == 403
        server.wait_for_log(r"decision: refused a check request from 127\.0\.0\.1, which is not in", after=mark)
        conn = http.client.HTTPConnection(
            "127.0.0.1", server.decision_port, timeout=10, source_address=("127.0.0.9", 0)
        )
        try:
            conn.request("GET", "/nginx", headers={**CHECK, "X-Forwarded-For": "203.0.113.7"})
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def test_check_requests_reach_the_decision_point_when_the_front_decides_natively(site: Site) -> None:
    # No mod_block, no directories, detection off and the proxy trusted by the site too: the
    # native front decides the site's requests in Rust; a check request must still be read as
    # one, never served as a path.
    path = site.write_config(directories=[], audit=False)
    path.write_text(
        path.read_text().replace("[store]", 'upstream = "http://127.0.0.1:9"\n\n[store]', 1)
        + '\n[bans]\nrules = []\n\n[proxy]\ntrusted = ["127.0.0.1"]\n'
        + '\n[decision]\nlisten = "127.0.0.1:0"\nproxies = ["127.0.0.1"]\n'
        + f'\n[admin]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\n'
    )
    with ServeProcess(path, token=TOKEN) as server:
        server.request("/index.html")  # the site's first request settles the forwarding warnings
        for _ in range(3):
            status, headers, _ = check(server.decision_port, "203.0.113.7")
            assert (status, headers["x-stockade-client-ip"]) == (200, "203.0.113.7")
        assert server.metric('stockade_decisions_total{outcome="allowed"}') == 3
