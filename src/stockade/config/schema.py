"""The TOML configuration file, as typed models.

pydantic validates each section and reports every problem with its field path; the
validators below give each field one message that says what is accepted, in the words of
TOML (``infinity`` as a string, ``inf`` as a float). Unknown keys are errors, so a typo
never falls back silently to a default. Checks that read other files (htpasswd, callbacks,
the document root) live in :mod:`stockade.config.load`.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from stockade.engine.settings import LOCKOUT_BY, ON_ERROR, LockoutBy, OnError

INFINITY_WORD = "infinity"
MAX_WORKERS = 256


def one_of(values: tuple[object, ...]) -> str:
    """``401 or 403``, ``"user", "ip" or "user_ip"``: accepted values as TOML spells them."""
    spelled = [json.dumps(v) for v in values]
    return spelled[0] if len(spelled) == 1 else ", ".join(spelled[:-1]) + " or " + spelled[-1]


def _is_infinity(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == INFINITY_WORD
    return isinstance(value, float) and value == math.inf


def _count_or_infinity(value: object) -> int | None:
    if _is_infinity(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PydanticCustomError("count", 'expected an integer >= 0 or "infinity"')
    return value


def _duration_or_infinity(value: object) -> float:
    if _is_infinity(value):
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < 0:
        raise PydanticCustomError("duration", 'expected a number >= 0 or "infinity"')
    return float(value)


def _string_list(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise PydanticCustomError("strings", "expected a string or an array of non-empty strings")
    return list(items)


def _non_empty(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise PydanticCustomError("text", "expected a non-empty string")
    return value


def _workers(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise PydanticCustomError("workers", f"expected an integer from 1 to {MAX_WORKERS}")
    return value


def _choice(*values: object) -> BeforeValidator:
    """A validator for a fixed set of values whose message lists them (pydantic's would not quote them)."""

    def check(value: object) -> object:
        # Compare types too: True == 1 and 403.0 == 403 in Python, but neither is a valid choice.
        if not any(type(value) is type(v) and value == v for v in values):
            raise PydanticCustomError("choice", "expected {accepted}", {"accepted": one_of(values)})
        return value

    return BeforeValidator(check)


def _url_path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\x00" in value or "//" in value:
        raise PydanticCustomError("path", "expected a URL path starting with '/', like \"/secure\"")
    if any(s in (".", "..") for s in value.strip("/").split("/")):
        raise PydanticCustomError("path", "expected a URL path without '.' or '..' segments")
    return value


def _realm(value: object) -> str:
    if not isinstance(value, str) or not value or any(c in '"\\' or ord(c) < 32 or ord(c) == 127 for c in value):
        raise PydanticCustomError(
            "realm", "expected a non-empty realm without quotes, backslashes or control characters"
        )
    return value


CountOrInfinity = Annotated[int | None, BeforeValidator(_count_or_infinity)]
DurationOrInfinity = Annotated[float, BeforeValidator(_duration_or_infinity)]
StringList = Annotated[list[str], BeforeValidator(_string_list)]
NonEmpty = Annotated[str, BeforeValidator(_non_empty)]


class Section(BaseModel):
    """A TOML table: strict types, unknown keys rejected, immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ServerSection(Section):
    listen: StringList = Field(default_factory=lambda: ["127.0.0.1:8080"])
    document_root: NonEmpty | None = None
    workers: Annotated[int, BeforeValidator(_workers)] = 1


class OnErrorSection(Section):
    """``on_error = { lockout = "closed", bans = "open" }``: the outage policy per capability."""

    lockout: Annotated[OnError, _choice(*ON_ERROR)] = "closed"
    bans: Annotated[OnError, _choice(*ON_ERROR)] = "open"


def _on_error(value: object) -> object:
    """``on_error = "open"`` is short for the same policy for every capability."""
    if isinstance(value, str):
        if value not in ON_ERROR:
            raise PydanticCustomError("choice", "expected {accepted}", {"accepted": one_of(ON_ERROR)})
        return {"lockout": value, "bans": value}
    return value


class StoreSection(Section):
    url: NonEmpty = "sqlite:///stockade.db"
    on_error: Annotated[OnErrorSection, BeforeValidator(_on_error)] = Field(default_factory=OnErrorSection)


class AuditSection(Section):
    json_file: NonEmpty | None = Field(default=None, alias="json")
    text_file: NonEmpty | None = Field(default=None, alias="text")


class DirectorySection(Section):
    """One protected directory: HTTP Basic authentication plus the lockout settings."""

    path: Annotated[str, BeforeValidator(_url_path)]
    auth_user_file: NonEmpty
    auth_name: Annotated[str, BeforeValidator(_realm)] = "Restricted"
    require_user: StringList | None = None
    max_retries: CountOrInfinity = 3
    block_time: DurationOrInfinity = 60.0  # minutes
    fail_expire_time: DurationOrInfinity = 30.0  # minutes
    auth_timeout: DurationOrInfinity = 30.0  # seconds
    callback: StringList = Field(default_factory=list)
    blocked_status: Annotated[Literal[401, 403], _choice(401, 403)] = 403
    lockout_by: Annotated[LockoutBy, _choice(*LOCKOUT_BY)] = "user"
    data_file: NonEmpty | None = None  # a SQLite file of its own; default: the [store]


class ConfigFile(Section):
    """The whole file; :func:`stockade.config.load.load_config` validates it section by section."""

    server: ServerSection = Field(default_factory=ServerSection)
    store: StoreSection = Field(default_factory=StoreSection)
    audit: AuditSection = Field(default_factory=AuditSection)
    directory: list[DirectorySection] = Field(default_factory=list)
