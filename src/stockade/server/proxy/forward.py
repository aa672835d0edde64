"""The reverse proxy as a plain ASGI 3 application: one request in, the same request upstream.

Bodies are streamed both ways and never held whole: each piece the server hands over
from ``receive()`` is written upstream at once (``Content-Length`` kept when the client
sent one, chunked otherwise) and the proxy waits for the upstream to take it; each piece
of the response is passed to ``send`` as it arrives, and the server's flow control (the
``await`` on ``send``) paces the reads from the upstream.

Failures before the response has started are answered here (502, 504, 413); after it has
started, :class:`~stockade.server.proxy.errors.ResponseAborted` is raised so the server
drops the client connection, since a truncated body must not look complete.

The client as this hop sees it comes from the scope, set by the application that mounts
the proxy: ``scope["stockade.peer"]`` (the address appended to the forwarding lists),
``scope["stockade.peer_trusted"]`` and ``scope["stockade.client_ip"]`` (the client the
guard decided on, sent as ``X-Real-IP``); else the socket peer, untrusted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from stockade.errors import ConfigError, ConfigIssue
from stockade.server.asgi import Receive, Scope, Send
from stockade.server.proxy.errors import ClientGone, ResponseAborted, UpstreamClosed, UpstreamError
from stockade.server.proxy.headers import Headers, UpstreamRequest, upstream_request
from stockade.server.proxy.pool import Connection, UpstreamPool

if TYPE_CHECKING:
    from stockade.server.settings import UpstreamSettings

log = logging.getLogger("stockade.server.proxy")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_CLOSE = (b"connection", b"close")
_REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}
_CHUNK_END = b"0\r\n\r\n"
_BODY_SENT, _ANSWERED_EARLY, _CLIENT_GONE = 0, 1, -1
_CRLF = b"\r\n"
_END = b"\r\n\r\n"
_END_CHUNKED = b"\r\ntransfer-encoding: chunked\r\n\r\n"  # the last request header, when the proxy chunks the body
_HTTP1 = frozenset({"1.1", "1.0"})


def _page(status: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = f"{status} {_REASONS[status]}\n".encode()
    return [_TEXT, (b"content-length", str(len(body)).encode())], body


_PAGES = {status: _page(status) for status in _REASONS}


async def answer(send: Send, status: int, *, head: bool = False, close: bool = False) -> None:
    """One of the proxy's own small plain-text answers (they never name the upstream)."""
    headers, body = _PAGES[status]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, _CLOSE] if close else headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _upstream_issue(url: str) -> ConfigIssue:
    return ConfigIssue("server.upstream", "expected http://host:port or http://host:port/base/path", url, True)


class ReverseProxy:
    """An ASGI application that forwards every HTTP request to one upstream.

    ``upstream`` names the backend and its timeouts; ``max_body_bytes`` bounds a request
    body (413 beyond it). Each worker process keeps its own pool of keep-alive
    connections; :meth:`close` (or the ASGI lifespan shutdown) closes the idle ones.
    """

    def __init__(self, upstream: UpstreamSettings, *, max_body_bytes: int | None = None) -> None:
        parts = urlsplit(upstream.url)
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(None, [_upstream_issue(upstream.url)]) from None
        if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
            raise ConfigError(None, [_upstream_issue(upstream.url)])
        if max_body_bytes is not None and max_body_bytes < 0:
            raise ConfigError(None, [ConfigIssue("limits.max_body_bytes", "must be 0 or more", max_body_bytes, True)])
        self.upstream = upstream
        self.max_body_bytes = max_body_bytes
        host = parts.hostname
        port = port or 80
        self._default_host = (f"[{host}]" if ":" in host else host).encode("idna") + (
            b"" if port == 80 else b":%d" % port
        )
        self._prefix = parts.path.rstrip("/").encode("ascii")
        self.pool = UpstreamPool(
            host,
            port,
            connect_timeout=upstream.connect_timeout,
            read_timeout=upstream.read_timeout,
            max_idle=upstream.max_idle_connections,
        )
        self._methods: dict[str, bytes] = {}

    def close(self) -> None:
        """Close the idle upstream connections."""
        self.pool.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.forward(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- http --------------------------------------------------------------------------------

    def _target(self, scope: Scope) -> bytes:
        raw = scope.get("raw_path")
        if raw is None:
            raw = quote(scope["path"], safe="/!$&'()*+,;=:@-._~%").encode("ascii")
        if self._prefix:
            raw = self._prefix + raw if raw != b"*" else self._prefix
        query = scope.get("query_string")
        return raw + b"?" + query if query else raw

    def _method(self, method: str) -> bytes:
        encoded = self._methods.get(method)
        if encoded is None:
            encoded = method.encode("ascii")
            if len(self._methods) < 64:
                self._methods[method] = encoded
        return encoded

    def _upstream_request(self, scope: Scope) -> UpstreamRequest:
        peer = scope.get("stockade.peer")
        if peer is None:
            client = scope.get("client")
            peer = client[0] if client else None
        return upstream_request(
            scope["headers"],
            client_ip=peer,
            trusted=scope.get("stockade.peer_trusted") is True,
            proto=b"https" if scope.get("scheme") == "https" else b"http",
            default_host=self._default_host,
            real_ip=scope.get("stockade.client_ip"),
        )

    def _refusal(self, request: UpstreamRequest, body: bytes | None = None, more: bool = False) -> int:
        """The status that answers a request not to be forwarded (0 for one that is).

        ``body`` is the first piece of the request body, once it is known.
        """
        length = request.content_length
        limit = self.max_body_bytes
        if body is None:
            if request.upgrade:
                return 501
            if request.bad_length:
                return 400
            if length is not None and limit is not None and length > limit:
                return 413
            return 0
        if length is not None and (len(body) > length or (not more and len(body) < length)):
            return 400  # not what the client announced
        if limit is not None and len(body) > limit:
            return 413
        return 0

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one ``http`` scope: the ASGI call without the dispatch on the scope's type."""
        method: str = scope["method"]
        head = method == "HEAD"
        request = self._upstream_request(scope)
        if refusal := self._refusal(request):
            await answer(send, refusal, head=head, close=refusal != 501)
            return
        length = request.content_length
        body, more = b"", False
        if length != 0 and (length is not None or request.chunked or scope.get("http_version") not in _HTTP1):
            # (An HTTP/1 request with neither length nor transfer coding has no body at all.)
            first = await self._first_piece(request, receive, send, head=head)
            if first is None:
                return
            body, more = first
        chunked = request.chunked or (length is None and (more or bool(body)))

        data = self._request_bytes(
            self._method(method), self._target(scope), request.headers, body=body, more=more, chunked=chunked
        )
        pool = self.pool
        idle = pool.take_idle(pool.running_loop())
        conn: Connection | None = None
        try:
            if idle is None or more:
                conn = await self._send_request(
                    idle, data, receive, send, method=method, length=length, chunked=chunked, sent=len(body), more=more
                )
            else:
                # The usual request, no body on a pooled connection: _send_request inline.
                conn = idle
                conn.begin(head=head)
                conn.write(data)
                conn.watch_client(receive)
                try:
                    while not conn.headers_done:
                        if conn.error is not None:
                            raise conn.error
                        await conn.wait()
                except UpstreamClosed as exc:
                    if exc.received or method not in IDEMPOTENT:
                        raise
                    # A pooled connection the upstream had closed while idle: once more, afresh.
                    pool.release(conn)
                    conn = None
                    conn = await self._send_request(
                        None, data, receive, send, method=method, length=length, chunked=chunked, sent=0
                    )
            if conn is not None:
                if conn.complete:  # the usual small response, whole already
                    await send({"type": "http.response.start", "status": conn.status, "headers": conn.headers})
                    await send({"type": "http.response.body", "body": conn.take()})
                else:
                    await self._relay(conn, send)
        except ClientGone:
            return
        except UpstreamError as exc:
            await self._failed(exc, scope, send, head=head)
        finally:
            if conn is not None:
                pool.release(conn)

    async def _failed(self, exc: UpstreamError, scope: Scope, send: Send, *, head: bool) -> None:
        log.warning("proxy: %s %s: %s", scope["method"], scope.get("path", ""), exc)
        await answer(send, exc.status, head=head)

    async def _first_piece(
        self, request: UpstreamRequest, receive: Receive, send: Send, *, head: bool
    ) -> tuple[bytes, bool] | None:
        """The first piece of the body and whether more follows; it goes out with the request
        head, in one write. None when the client is gone or the request was answered here."""
        first = await receive()
        if first["type"] != "http.request":
            return None  # the client is gone already
        body: bytes = first.get("body", b"")
        more: bool = first.get("more_body", False)
        refusal = self._refusal(request, body, more)
        if refusal:
            await answer(send, refusal, head=head, close=True)
            return None
        return body, more

    @staticmethod
    def _request_bytes(
        method: bytes, target: bytes, headers: Headers, *, body: bytes, more: bool, chunked: bool
    ) -> bytes:
        """The request head and the first piece of the body, framed, as one buffer."""
        lines = b"\r\n".join([b": ".join(pair) for pair in headers])  # never empty: Host comes first
        head = b"".join((method, b" ", target, b" HTTP/1.1\r\n", lines, _END_CHUNKED if chunked else _END))
        if chunked:
            parts = [head]
            if body:
                parts += (b"%x\r\n" % len(body), body, _CRLF)
            if not more:
                parts.append(_CHUNK_END)
            return b"".join(parts)
        return head + body if body else head

    async def _send_request(
        self,
        conn: Connection | None,
        data: bytes,
        receive: Receive,
        send: Send,
        *,
        method: str,
        length: int | None,
        chunked: bool,
        sent: int,
        more: bool = False,
    ) -> Connection | None:
        """Send the request (on ``conn``, an idle connection, or a new one) and wait for the
        response head; None when answered here instead."""
        pool = self.pool
        loop = pool.running_loop()
        retry = conn is not None and not more and method in IDEMPOTENT
        if conn is None:
            conn = await pool.connect(loop)
        head = method == "HEAD"
        try:
            conn.begin(head=head)
            conn.write(data)
            if more:
                status = await self._stream_body(conn, receive, sent, length, chunked)
                if status == _BODY_SENT:
                    conn.watch_client(receive)
                elif status != _ANSWERED_EARLY:
                    pool.release(conn)  # the body is incomplete: this closes the connection
                    if status != _CLIENT_GONE:
                        await answer(send, status, head=head, close=True)
                    return None
            else:
                conn.watch_client(receive)
            try:
                await conn.response_head()
            except UpstreamClosed as exc:
                if not retry or exc.received:
                    raise
                # A pooled connection the upstream had closed while idle: once more, afresh.
                pool.release(conn)
                conn = await pool.connect(loop)
                conn.begin(head=head)
                conn.write(data)
                conn.watch_client(receive)
                await conn.response_head()
        except BaseException:
            pool.release(conn)
            raise
        return conn

    async def _relay(self, conn: Connection, send: Send) -> None:
        """Pass the response on as it arrives; after its start, a failure aborts the client connection."""
        await send({"type": "http.response.start", "status": conn.status, "headers": conn.headers})
        try:
            while True:
                piece = conn.take()
                if conn.complete:
                    await send({"type": "http.response.body", "body": piece})
                    return
                conn.start_watch()
                if piece:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                else:
                    await conn.more()
        except UpstreamError as exc:
            log.warning("proxy: response from %s aborted: %s", self.pool.name, exc)
            raise ResponseAborted(exc) from exc

    async def _stream_body(
        self, conn: Connection, receive: Receive, received: int, length: int | None, chunked: bool
    ) -> int:
        """Send the rest of the request body upstream as it arrives.

        Returns :data:`_BODY_SENT`, :data:`_ANSWERED_EARLY` (the upstream answered before the
        body ended: its response is waiting on ``conn``), :data:`_CLIENT_GONE`, or the status
        to answer when the body must not go on (413, 400). Raises :class:`UpstreamError` when
        the upstream failed.
        """
        limit = self.max_body_bytes
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return _CLIENT_GONE
            piece: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            received += len(piece)
            if limit is not None and received > limit:
                return 413
            if length is not None and (received > length or (not more and received < length)):
                return 400  # the server handed over something else than the client announced
            if chunked:
                if piece:
                    size = b"%x\r\n" % len(piece)
                    conn.writelines([size, piece, _CRLF] if more else [size, piece, _CRLF, _CHUNK_END])
                elif not more:
                    conn.write(_CHUNK_END)
            elif piece:
                conn.write(piece)
            while conn.must_drain and not conn.headers_done:
                await conn.drain()  # raises once the connection failed or timed out
            if conn.headers_done:
                if more:
                    conn.keep_alive = False  # the upstream did not read the whole body
                    return _ANSWERED_EARLY
                return _BODY_SENT
            if conn.error is not None:
                raise conn.error
        return _BODY_SENT

    # -- other scopes ------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            headers, body = _PAGES[501]
            await send({"type": "websocket.http.response.start", "status": 501, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
