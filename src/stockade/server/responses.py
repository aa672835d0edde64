"""The server's own answers (errors, challenges, redirects), as small fixed HTML pages.

Every 401 of a directory is byte-for-byte the same whether the password was wrong, the
header malformed or (with ``blocked_status = 401``) the user blocked, so the answer is no
oracle for an attacker.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from stockade.server.asgi import Send

HTML = b"text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def page(status: int, title: str, message: str, *extra: tuple[bytes, bytes]) -> Response:
    """A small HTML page; ``message`` must already be escaped."""
    body = (
        f"<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>\n"
        f"<body><h1>{title}</h1>\n<p>{message}</p>\n</body></html>\n"
    ).encode()
    headers = ((b"content-type", HTML), (b"content-length", str(len(body)).encode()), *extra)
    return Response(status, headers, body)


def unauthorized(realm: str) -> Response:
    challenge = f'Basic realm="{realm}", charset="UTF-8"'.encode()
    return page(
        401,
        "Unauthorized",
        "This server could not verify that you are authorized to access the document requested.",
        (b"www-authenticate", challenge),
    )


def forbidden(path: str) -> Response:
    # The reference writes the path with every '/' as an entity: &#47;secure&#47;
    where = html.escape(path, quote=True).replace("/", "&#47;")
    return page(403, "Forbidden", f"You don't have permission to access {where} on this server.")


def bad_request(reason: str) -> Response:
    return page(400, "Bad Request", html.escape(reason))


def not_found() -> Response:
    return page(404, "Not Found", "The requested URL was not found on this server.")


def method_not_allowed() -> Response:
    return page(405, "Method Not Allowed", "Only GET and HEAD are allowed here.", (b"allow", b"GET, HEAD"))


def unavailable() -> Response:
    return page(503, "Service Unavailable", "Please try again in a few seconds.", (b"retry-after", b"5"))


def internal_error() -> Response:
    return page(500, "Internal Server Error", "The server could not answer this request.")


async def send_response(send: Send, response: Response, *, head: bool = False) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": list(response.headers)})
    await send({"type": "http.response.body", "body": b"" if head else response.body})
