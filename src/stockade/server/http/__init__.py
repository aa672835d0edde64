"""The protecting server's own HTTP/1.1 server: asyncio and httptools, no framework.

It exists because ``stockade serve`` needs what general ASGI servers do not give: a check
on every connection before a byte is read, HAProxy PROXY protocol v1/v2, TLS facts (SNI,
client certificate) for the rules, and closing a connection mid-request without a word.

- :mod:`~.acceptor`: binding, the accept loop, the connection check, the PROXY header
- :mod:`~.proxy_protocol`: the PROXY header parser (pure)
- :mod:`~.proxy_peers`: the peers a listener believes PROXY headers from
- :mod:`~.tls`: SSL contexts and TLS facts
- :mod:`~.tls_stream`: TLS on an accepted connection, with the client's half-close
- :mod:`~.protocol` and :mod:`~.exchange`: HTTP/1.1 connections and ASGI request cycles
- :mod:`~.lifespan`, :mod:`~.server`: one server on one event loop, with graceful stop
- :mod:`~.runner`, :mod:`~.workers`, :mod:`~.background`: running it in this process,
  in several forked workers, or on a thread
- :mod:`~.control`: the messages between the supervisor and its workers
- :mod:`~.accesslog`: JSON-lines access log
"""

from stockade.server.http.acceptor import BoundListener, bind_listeners
from stockade.server.http.accesslog import AccessEntry, AccessLogSink, JsonLinesLog
from stockade.server.http.background import BackgroundServer
from stockade.server.http.lifespan import StartupFailed
from stockade.server.http.runner import new_event_loop, run
from stockade.server.http.server import HttpServer
from stockade.server.http.workers import Supervisor, Worker

__all__ = [
    "AccessEntry",
    "AccessLogSink",
    "BackgroundServer",
    "BoundListener",
    "HttpServer",
    "JsonLinesLog",
    "StartupFailed",
    "Supervisor",
    "Worker",
    "bind_listeners",
    "new_event_loop",
    "run",
]
