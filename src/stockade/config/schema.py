"""The TOML configuration file, as typed models.

pydantic validates the whole file in one pass and reports every problem with its field
path; the custom validators below give each field one message that says what is accepted.
Unknown keys are errors, so a typo never falls back silently to a default.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

INFINITY_WORD = "infinity"


def _count_or_infinity(value: object) -> int | None:
    if isinstance(value, str) and value.strip().lower() == INFINITY_WORD:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PydanticCustomError("count", "expected an integer >= 0 or \"infinity\"")
    return value


def _duration_or_infinity(value: object) -> float:
    if isinstance(value, str) and value.strip().lower() == INFINITY_WORD:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < 0:
        raise PydanticCustomError("duration", "expected a number >= 0 or \"infinity\"")
    return float(value)


def _string_list(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise PydanticCustomError("strings", "expected a string or a list of non-empty strings")
    return list(items)


CountOrInfinity = Annotated[int | None, BeforeValidator(_count_or_infinity)]
DurationOrInfinity = Annotated[float, BeforeValidator(_duration_or_infinity)]
StringList = Annotated[list[str], BeforeValidator(_string_list)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ServerSection(Section):
    listen: StringList = Field(default_factory=lambda: ["127.0.0.1:8080"])
    document_root: str | None = None
    workers: Annotated[int, Field(ge=1, le=256)] = 1


class StoreSection(Section):
    url: str = "sqlite:///stockade.db"


class AuditSection(Section):
    json_file: str | None = Field(default=None, alias="json")
    text_file: str | None = Field(default=None, alias="text")


class DirectorySection(Section):
    """One protected directory: HTTP Basic authentication plus the lockout settings."""

    path: str
    auth_user_file: str
    auth_name: str = "Restricted"
    require_user: StringList | None = None
    max_retries: CountOrInfinity = 3
    block_time: DurationOrInfinity = 60.0  # minutes
    fail_expire_time: DurationOrInfinity = 30.0  # minutes
    auth_timeout: DurationOrInfinity = 30.0  # seconds
    callback: StringList = Field(default_factory=list)
    blocked_status: Literal[401, 403] = 403
    lockout_by: Literal["user", "ip", "user_ip"] = "user"

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value or "//" in value:
            raise PydanticCustomError("path", "expected a URL path starting with '/', like \"/secure\"")
        segments = value.strip("/").split("/")
        if any(s in (".", "..") for s in segments):
            raise PydanticCustomError("path", "expected a URL path without '.' or '..' segments")
        return value

    @field_validator("auth_name")
    @classmethod
    def _realm(cls, value: str) -> str:
        if '"' in value or "\\" in value or any(ord(c) < 32 for c in value):
            raise PydanticCustomError("realm", "expected a realm without quotes, backslashes or control characters")
        return value


class ConfigFile(Section):
    server: ServerSection = Field(default_factory=ServerSection)
    store: StoreSection = Field(default_factory=StoreSection)
    audit: AuditSection = Field(default_factory=AuditSection)
    directory: list[DirectorySection] = Field(default_factory=list)
