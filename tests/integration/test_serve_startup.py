"""``stockade serve``'s own steps around the front: refusing bad listeners before binding, and SIGHUP.

The process tests run :func:`stockade.server.run.serve` in a real process, as the
``stockade serve`` command does, with a ``reload`` hook that reports each call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.errors import ConfigError
from stockade.server.listen import ListenAddress
from stockade.server.native import bind_native
from stockade.server.settings import ListenerSpec, TlsSettings
from stockade.server.tls import TlsSetupError
from tests.integration.conftest import HttpClient, Site

ROOT = Path(__file__).resolve().parents[2]


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


@contextlib.contextmanager
def serving(site: Site, *, fail_reload: bool) -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if fail_reload:
        env["FAIL_RELOAD"] = "1"
    command = [sys.executable, "-c", SERVE_SCRIPT, str(site.write_config(audit=False))]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("stockade: listening on http://127.0.0.1:"), (line, process.stderr)
        yield process, int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_sighup_runs_the_reload_hook_and_a_failed_reload_keeps_serving(site: Site) -> None:
    with serving(site, fail_reload=True) as (process, port):
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
