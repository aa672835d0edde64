"""Why an exchange with the upstream failed, and which answer the client gets for it.

Each error carries the status it maps to while the response has not started (502 or 504);
once it has started, the proxy raises :class:`ResponseAborted` instead, so that the server
drops the client connection rather than pass a truncated body off as complete. The
``detail`` is for the log only: the client's error page never names the upstream.
"""

from __future__ import annotations

from stockade.errors import StockadeError


class UpstreamError(StockadeError):
    """The upstream could not give a complete answer."""

    status = 502

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class UpstreamUnavailable(UpstreamError):
    """The connection to the upstream could not be made (refused, unreachable)."""


class UpstreamTimeout(UpstreamError):
    """The upstream took longer than the connect or read timeout."""

    status = 504


class UpstreamClosed(UpstreamError):
    """The upstream closed or reset the connection before the response was complete."""

    def __init__(self, detail: str, *, received: bool) -> None:
        super().__init__(detail)
        self.received = received  # some of the response had already arrived


class BadUpstreamResponse(UpstreamError):
    """The upstream sent something that is not a valid HTTP/1.1 response."""


class ClientGone(StockadeError):
    """The client disconnected; the exchange is abandoned and nothing more is sent."""


class ResponseAborted(StockadeError):
    """The exchange failed after the response had started: the client connection must be dropped.

    Raised out of the ASGI application on purpose; ``cause`` says what happened upstream.
    """

    def __init__(self, cause: UpstreamError) -> None:
        super().__init__(cause)
        self.cause = cause

    def __str__(self) -> str:
        return f"response aborted after it started: {self.cause}"
