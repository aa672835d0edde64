"""``stockade serve``'s own steps around the front: refusing bad listeners before binding, and SIGHUP.

The process tests run :func:`stockade.server.run.serve` in a real process, as the
``stockade serve`` command does, with a ``reload`` hook that reports each call.
"""

from __future__ import annotations

import signal
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from stockade.errors import ConfigError
from stockade.server.listen import ListenAddress
from stockade.server.native import bind_native
from stockade.server.settings import ListenerSpec, TlsSettings
from stockade.server.tls import TlsSetupError
from tests.integration.conftest import HttpClient, Site
from tests.integration.test_server_workers import running


def test_a_bad_certificate_fails_before_anything_is_bound(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tls = TlsSettings(tmp_path / "cert.pem", tmp_path / "cert.pem")
    plain = ListenerSpec(ListenAddress("127.0.0.1", port))
    with pytest.raises(TlsSetupError, match=f"cannot load the TLS certificate or key {tmp_path}/cert.pem: "):
        bind_native([plain, ListenerSpec(ListenAddress("127.0.0.1", 0), tls=tls)])
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the plain listener before it was not left bound


def test_a_proxy_listener_that_trusts_no_peer_is_not_bound() -> None:
    with pytest.raises(ConfigError, match="a PROXY header is believed only from the proxies in front"):
        bind_native([ListenerSpec(ListenAddress("127.0.0.1", 0), proxy_protocol="v1")])


SERVE_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from stockade.server.run import serve

    def reload(app):
        sys.stdout.write("reloaded\\n")
        sys.stdout.flush()
        if os.environ.get("FAIL_RELOAD"):
            raise RuntimeError("the new configuration is broken")

    serve(sys.argv[1], reload=reload)
    """
)


@pytest.mark.slow
def test_sighup_runs_the_reload_hook_and_a_failed_reload_keeps_serving(site: Site) -> None:
    command = [sys.executable, "-c", SERVE_SCRIPT, str(site.write_config(audit=False))]
    with running(command, FAIL_RELOAD="1") as (process, port):
        client = HttpClient(port)
        assert client.get("/").status == 200
        assert process.stdout is not None
        assert process.stderr is not None
        process.send_signal(signal.SIGHUP)
        assert process.stdout.readline() == "reloaded\n"
        assert client.get("/").status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "the new configuration is broken" in process.stderr.read()
