"""The little HTTP the admin API needs, on plain ASGI 3: bodies, JSON, queries, bearer tokens.

Written here rather than taken from a framework: the API has eight fixed routes and must run
under whatever ASGI server the protecting server uses, and every answer to a bad input,
down to a lone surrogate in a JSON string, must be a 4xx with a JSON body, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
JSON_TYPE = b"application/json"
REALM = 'Bearer realm="stockade admin"'


class ApiError(Exception):
    """An answer other than success: ``{"error": kind, "message": message, **details}`` with ``status``."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(status, kind, message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = tuple(headers)
        self.details = dict(details or {})

    def body(self) -> dict[str, object]:
        return {"error": self.kind, "message": self.message, **self.details}


class Disconnected(Exception):
    """The client went away before its request body arrived."""


def bad_argument(name: str, value: object, accepted: str) -> ApiError:
    return ApiError(400, "invalid_argument", f"invalid {name} {value!r}: expected {accepted}")


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole request body, at most ``limit`` bytes (413 past that)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the request body exceeds {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes) -> dict[str, object]:
    """A JSON object (an empty body is ``{}``); 400 for anything else."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(400, "invalid_json", f"the request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    return value


def dump_json(value: object) -> bytes:
    return json.dumps(value, default=str, allow_nan=False).encode()


def parse_query(raw: bytes, accepted: Sequence[str]) -> dict[str, str]:
    """Query parameters, each at most once and only those ``accepted``."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_argument", "the query string is not valid percent-encoded UTF-8") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in accepted:
            raise bad_argument("query parameter", name, ", ".join(accepted) if accepted else "none")
        if name in params:
            raise bad_argument("query parameter", name, "each parameter at most once")
        params[name] = value
    return params


def text(name: str, value: object, *, optional: bool = False) -> str | None:
    """A string argument without NUL or lone surrogates (which no store can hold)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or "\x00" in value or not _utf8(value):
        kind = "a string" if not optional else "a string or null"
        raise bad_argument(name, value, f"{kind} of Unicode text without NUL")
    return value


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def port(value: object) -> int:
    """A listener port, from JSON (an integer) or a query (digits)."""
    if isinstance(value, float) and value.is_integer():  # JSON Schema counts 8080.0 as an integer
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 5:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise bad_argument("port", value, "an integer from 0 to 65535")
    return value


MAX_SECONDS = 100 * 365 * 86400.0  # beyond this, say "infinity"


def seconds(value: object) -> float:
    """A block duration: a number of seconds (0 to 100 years), or ``"infinity"`` (``math.inf``)."""
    if isinstance(value, str) and value.strip().lower() == "infinity":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_argument("seconds", value, 'a number of seconds or "infinity"')
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_SECONDS:
        raise bad_argument("seconds", value, f'a number of seconds from 0 to {MAX_SECONDS:.0f}, or "infinity"')
    return number


class BearerToken:
    """The admin token, kept only as a digest and compared in constant time.

    An empty configured token refuses every call: an admin API without a token is a
    mistake, never "no authentication".
    """

    __slots__ = ("_digest",)

    def __init__(self, token: str) -> None:
        self._digest = hashlib.sha256(token.encode("utf-8")).digest() if token else None

    def __repr__(self) -> str:
        return "BearerToken(***)" if self._digest else "BearerToken(unset)"

    def check(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """Raise a 401 unless the request carries ``Authorization: Bearer <the token>``."""
        values = [value for name, value in headers if name.lower() == b"authorization"]
        if not values:
            raise _unauthorized("a bearer token is required (Authorization: Bearer <token>)", error=None)
        scheme, _, credentials = values[0].strip().partition(b" ")
        credentials = credentials.strip()
        if len(values) > 1 or scheme.lower() != b"bearer" or not credentials:
            raise _unauthorized("expected one Authorization header: Bearer <token>", error="invalid_request")
        digest = hashlib.sha256(credentials).digest()
        # Compare even when no token is configured, so the answer takes the same time.
        expected = self._digest or bytes(len(digest))
        if not hmac.compare_digest(digest, expected) or self._digest is None:
            raise _unauthorized("the bearer token is not valid", error="invalid_token")


def _unauthorized(message: str, *, error: str | None) -> ApiError:
    challenge = REALM if error is None else f'{REALM}, error="{error}"'
    return ApiError(401, "unauthorized", message, [(b"www-authenticate", challenge.encode())])


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = JSON_TYPE,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, value: object, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send_response(send, status, dump_json(value), headers=headers)


def header_list(scope: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    return [(bytes(name), bytes(value)) for name, value in scope.get("headers") or ()]
