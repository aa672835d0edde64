"""What the console reads from a request: cookies, form fields and query parameters, durations, listeners.

Every reader refuses rather than guesses: a field given twice, text that is not UTF-8, a
duration that is not one, each raises :class:`FormError` naming the field, which the page
shows next to its form (never a 500).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl

MAX_FIELD = 4096


class FormError(ValueError):
    """A field of a form or query that cannot be used: ``field`` and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def parse_fields(raw: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` (a body or a query string): each field at most once."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise FormError("form", "not valid percent-encoded UTF-8") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise FormError(name, "given more than once")
        if len(value) > MAX_FIELD or "\x00" in value:
            raise FormError(name, f"at most {MAX_FIELD} characters, without NUL")
        fields[name] = value
    return fields


def cookies(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's cookies (a malformed header counts as none)."""
    found: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value.decode("latin-1"))
        except CookieError:
            continue
        for key, morsel in jar.items():
            found.setdefault(key, morsel.value)
    return found


def header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of a header, or ``None``."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)?\s*", re.IGNORECASE)
MAX_DURATION = 100 * 365 * 86400.0


def duration(field: str, text: str) -> float:
    """``600``, ``10m``, ``2h``, ``1d``, ``1w`` or ``forever``/``infinity``: seconds (``math.inf``)."""
    if text.strip().lower() in ("forever", "infinity", "inf"):
        return math.inf
    found = _DURATION.fullmatch(text)
    if found is None:
        raise FormError(field, f"{text!r} is not a duration: use seconds, or 10m, 2h, 1d, 1w, or forever")
    seconds = float(found[1]) * _UNITS[(found[2] or "s").lower()]
    if seconds > MAX_DURATION:
        raise FormError(field, f"{text!r} is longer than 100 years: use forever")
    return seconds


@dataclass(frozen=True, slots=True)
class ListenerChoice:
    """A listener picked in a form: every listener (``address`` and ``port`` None) or one."""

    address: str | None = None  # "*" is the listener bound to every address
    port: int | None = None

    @property
    def every(self) -> bool:
        return self.port is None

    def api_fields(self) -> dict[str, object]:
        if self.port is None:
            return {}
        return {"address": self.address, "port": self.port}


def listener(field: str, text: str) -> ListenerChoice:
    """``""`` or ``all`` (every listener), or ``address:port`` (``*:port`` for every address)."""
    if text in ("", "all"):
        return ListenerChoice()
    address, colon, port = text.rpartition(":")
    if not colon or not address or not port.isdigit() or int(port) > 65535:
        raise FormError(field, f"{text!r} is not a listener: expected address:port")
    return ListenerChoice(address.strip("[]"), int(port))


def choice(fields: Mapping[str, str], name: str, accepted: Sequence[str], default: str) -> str:
    value = fields.get(name, default) or default
    if value not in accepted:
        raise FormError(name, f"{value!r} is not one of {', '.join(accepted)}")
    return value


def count(fields: Mapping[str, str], name: str) -> int | None:
    """A non-negative whole number, or ``None`` when the field is empty."""
    value = fields.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise FormError(name, f"{value!r} is not a whole number")
    return int(value)


def required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise FormError(name, "required")
    return value
