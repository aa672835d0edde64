"""The ASGI middleware's native entry under a real uvicorn over real sockets: a clean request
reaches the app with no frame of the middleware under it, the scope canonical and the
guard's entries set; a banned client and a rule's refusal are answered as before."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.integration.test_adapters_asgi import write_site
from tests.integration.test_adapters_examples import BIN, Client, free_port, running

pytestmark = pytest.mark.slow

APP = """\
import json, os, sys
from stockade.adapters.asgi import CLIENT, GUARD, PROTECTION, StockadeMiddleware

async def inner(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    frames, frame = [], sys._getframe(1)
    while frame is not None:
        frames.append(frame.f_code.co_filename)
        frame = frame.f_back
    body = json.dumps({
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "host": [v.decode() for n, v in scope["headers"] if n == b"host"],
        "client": scope[CLIENT],
        "entries": [GUARD in scope, PROTECTION in scope],
        "armed": guarded._armed,
        "counts": guarded.native.counts,
        "middleware_frames": sum("stockade" in name and "adapters" in name for name in frames),
    }).encode()
    length = str(len(body)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]})
    await send({"type": "http.response.body", "body": body})

guarded = StockadeMiddleware(inner, os.environ["STOCKADE_CONFIG"])
"""


def test_a_clean_request_reaches_the_app_through_the_native_entry(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        answer = client.request("GET", "/x/./y/%7Ez", client="198.51.100.5")
        assert answer.status == 200
        seen = json.loads(answer.body)
        assert seen["path"] == "/x/y/~z"
        assert seen["raw_path"] == "/x/y/~z"
        assert seen["client"] == "198.51.100.5"  # named by the trusted proxy (127.0.0.1)
        assert seen["entries"] == [True, True]
        assert seen["armed"] is True
        assert seen["counts"][0] >= 1
        assert seen["counts"][2] == 0
        assert seen["middleware_frames"] == 0  # the app's own coroutine, awaited by uvicorn
        assert client.request("GET", "/evil/thing").status == 451  # a rule: the Python ladder
        for _ in range(5):
            assert client.request("GET", "/.env", client="198.51.100.6").status == 200
        banned = client.request("GET", "/", client="198.51.100.6")
        assert banned.status == 403
        assert "retry-after" in banned.headers


def serve(tmp_path: Path) -> AbstractContextManager[Client]:
    env = write_site(tmp_path)
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    command = [str(BIN / "uvicorn"), "app:guarded", "--port", str(port), "--no-proxy-headers", "--log-level", "warning"]
    return running(command, tmp_path, env, port)
