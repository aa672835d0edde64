"""The proxy tests' front on the native front: ``python -m tests.integration.native_front``.

Variants of the front, chosen per request by ``x-test-front``: each
variant is an upstream of the native front (``slow`` has a 0.3 s read timeout, ``dead``,
``raw`` and ``prefix`` point elsewhere), ``small`` limits the body to 1 MiB, ``trusted``
believes the peer and takes the client from ``x-test-client-ip``. The request filter is a
plain Python object that answers at once on the front's thread. The process binds
127.0.0.1:0, prints ``port N`` and serves until SIGTERM.
"""

from __future__ import annotations

import os
import selectors
import signal
import sys
from urllib.parse import urlsplit

from stockade import _native

VARIANTS = ("", "small", "slow", "dead", "raw", "prefix", "trusted")
_TEST_HEADERS = frozenset({b"x-test-front", b"x-test-client-ip"})


def _upstream(url: str, *, connect: float = 5.0, read: float = 60.0) -> tuple[str, int, bytes, float, float, int]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or 80, parts.path.rstrip("/").encode(), connect, read, 64)


class Variants:
    """The request filter: a variant's upstream, and the test headers removed."""

    def decide(self, request: _native.Request) -> None:
        headers = request.headers
        chosen = {n: v for n, v in headers if n in _TEST_HEADERS}
        variant = chosen.get(b"x-test-front", b"").decode()
        index = VARIANTS.index(variant) if variant in VARIANTS else 0
        peer = (request.source or request.peer)[0]
        trusted = variant == "trusted"
        if trusted:
            peer = chosen.get(b"x-test-client-ip", b"192.0.2.7").decode()
            index = 0
        request.forward(
            upstream=index,
            headers=[(n, v) for n, v in headers if n not in _TEST_HEADERS] if chosen else None,
            peer=peer,
            trusted=trusted,
            max_body_bytes=1024 * 1024 if variant == "small" else None,
        )


def main() -> None:
    upstream = os.environ["PROXY_TEST_UPSTREAM"]
    upstreams = [
        _upstream(upstream, connect=2, read=5),
        _upstream(upstream, read=5),
        _upstream(upstream, read=0.3),
        _upstream(os.environ["PROXY_TEST_DEAD"], connect=2),
        _upstream(os.environ["PROXY_TEST_RAW"], read=5),
        _upstream(upstream + "/base/"),
    ]
    site = _native.FrontSite(limits=(64 * 1024, None, 10.0, 30.0, 5.0, 5.0), upstreams=upstreams)
    sock = _native.bind_socket("127.0.0.1", 0)
    front = _native.NativeFront.start(
        workers=1,
        listeners=[(sock, _native.ListenerOptions(f"127.0.0.1:{sock.port}"))],
        site=site,
        python_filter=True,
    )
    done: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: done.append(True))
    signal.signal(signal.SIGINT, lambda *_: done.append(True))
    variants = Variants()
    selector = selectors.DefaultSelector()
    selector.register(front.inbox_fd(), selectors.EVENT_READ)
    print(f"port {sock.port}", flush=True)
    while not done:
        selector.select(0.5)
        for request in front.take_requests():
            variants.decide(request)
        for level, message in front.messages():
            print(level, message, file=sys.stderr, flush=True)
    front.drain(1.0)
    front.stop()


if __name__ == "__main__":
    main()
