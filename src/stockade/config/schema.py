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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from stockade.engine.settings import LOCKOUT_BY, LOCKOUT_SCOPES, ON_ERROR, LockoutBy, LockoutScope, OnError
from stockade.logs import FORMATS, LEVELS, LogFormat, LogLevel

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


def _engine(value: object) -> str:
    if value == "python" and isinstance(value, str):
        raise PydanticCustomError(
            "engine",
            'the Python engine was removed in favour of the native front: delete the line or write "native"',
        )
    if not (isinstance(value, str) and value == "native"):
        raise PydanticCustomError("choice", "expected {accepted}", {"accepted": one_of(("native",))})
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


def _positive_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise PydanticCustomError("seconds", "expected a number of seconds > 0")
    return float(value)


def _size_or_infinity(value: object) -> int | None:
    if _is_infinity(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PydanticCustomError("size", 'expected a number of bytes >= 1 or "infinity"')
    return value


def _positive_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PydanticCustomError("count", "expected an integer >= 1")
    return value


def _factor(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value < math.inf:
        raise PydanticCustomError("factor", "expected a number >= 1")
    return float(value)


def _statuses(value: object) -> list[int]:
    items = [value] if isinstance(value, int) else value
    if not isinstance(items, list) or not items or not all(_is_status(i) for i in items):
        raise PydanticCustomError("status", "expected an HTTP status from 100 to 599, or an array of them")
    return list(items)


def _is_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def _status_code(value: object) -> int:
    if not isinstance(value, int) or not _is_status(value):
        raise PydanticCustomError("status", "expected an HTTP status from 100 to 599")
    return value


def _prefix_length(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 128:
        raise PydanticCustomError("prefix", "expected an IPv6 prefix length from 1 to 128")
    return value


def _percentage(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise PydanticCustomError("percentage", "expected a number from 0 to 100")
    return float(value)


def _level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise PydanticCustomError("level", "expected a level from 1 (default) to 4 (paranoid)")
    return value


def _score(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise PydanticCustomError("score", "expected a score from 0 to 100")
    return value


Seconds = Annotated[float, BeforeValidator(_positive_seconds)]
SizeOrInfinity = Annotated[int | None, BeforeValidator(_size_or_infinity)]
PositiveCount = Annotated[int, BeforeValidator(_positive_count)]


class ListenerTable(Section):
    """A listen address with options: ``{ address = "0.0.0.0:8443", certfile = ..., keyfile = ... }``."""

    address: NonEmpty
    certfile: NonEmpty | None = None
    keyfile: NonEmpty | None = None
    client_ca: NonEmpty | None = None
    client_auth: Annotated[Literal["none", "optional", "required"], _choice("none", "optional", "required")] = "none"
    proxy_protocol: Annotated[Literal["off", "v1", "v2", "any"], _choice("off", "v1", "v2", "any")] = "off"
    proxy_protocol_from: StringList | None = None  # default: [proxy] trusted
    http2: bool = True  # offer HTTP/2 by ALPN on a TLS listener (the native engine serves it)


def _listen_items(value: object) -> object:
    """Addresses and tables; the loader validates each table as a :class:`ListenerTable`."""
    items = [value] if isinstance(value, str | dict) else value
    if not isinstance(items, list) or not all((isinstance(i, str) and i) or isinstance(i, dict) for i in items):
        raise PydanticCustomError("listen", "expected an address, a table, or an array of them")
    return items


class LimitsSection(Section):
    max_header_bytes: PositiveCount = 64 * 1024
    max_body_bytes: SizeOrInfinity = None
    header_timeout: Seconds = 10.0
    body_timeout: Seconds = 30.0
    keepalive_timeout: Seconds = 5.0
    drain_timeout: Seconds = 30.0


class UpstreamTable(Section):
    """``upstream = { url = "http://127.0.0.1:9000", read_timeout = 60 }``."""

    url: NonEmpty
    connect_timeout: Seconds = 5.0
    read_timeout: Seconds = 60.0
    max_idle_connections: PositiveCount = 64


def _upstream(value: object) -> object:
    return {"url": value} if isinstance(value, str) else value


class RouteTable(Section):
    """``[[server.route]]``: a path prefix and what serves it, ``"files"`` or ``"upstream"``."""

    path: Annotated[str, BeforeValidator(_url_path)]
    to: Annotated[Literal["files", "upstream"], _choice("files", "upstream")]


def _default_listen() -> list[str | dict[str, Any]]:
    return ["127.0.0.1:8080"]


class ServerSection(Section):
    listen: Annotated[list[str | dict[str, Any]], BeforeValidator(_listen_items)] = Field(
        default_factory=_default_listen
    )
    document_root: NonEmpty | None = None
    upstream: Annotated[UpstreamTable | None, BeforeValidator(_upstream)] = None
    route: list[RouteTable] = Field(default_factory=list)
    workers: Annotated[int, BeforeValidator(_workers)] = 1
    # The native front is the only engine; the field stays so that an old "python" fails loudly.
    engine: Annotated[Literal["native"], BeforeValidator(_engine)] = "native"
    access_log: NonEmpty | None = None  # a file, or "-" for standard output
    limits: LimitsSection = Field(default_factory=LimitsSection)
    merge_slashes: bool = True
    escaped_slashes: Annotated[Literal["reject", "keep"], _choice("reject", "keep")] = "reject"


FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def _forwarding_headers(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.lower() in FORWARDING_HEADERS for i in items):
        raise PydanticCustomError(
            "headers", "expected an array of {accepted}", {"accepted": one_of(FORWARDING_HEADERS)}
        )
    return [i.lower() for i in items]


def _forwarding_header(value: object) -> str:
    if not isinstance(value, str) or value.lower() not in FORWARDING_HEADERS:
        raise PydanticCustomError("header", "expected {accepted}", {"accepted": one_of(FORWARDING_HEADERS)})
    return value.lower()


class ProxySection(Section):
    """``[proxy]``: the peers whose forwarding header is believed, and which header that is."""

    trusted: StringList = Field(default_factory=list)
    header: Annotated[str | None, BeforeValidator(_forwarding_header)] = None
    # Before one header was read, a list was walked in order; it is still read (see load.py).
    headers: Annotated[list[str] | None, BeforeValidator(_forwarding_headers)] = None


class EscalationTable(Section):
    """``escalation = { factor = 2, max = 2592000 }``: each repeat ban multiplied, up to ``max`` seconds."""

    factor: Annotated[float, BeforeValidator(_factor)] = 2.0
    max: DurationOrInfinity = 30 * 86_400.0
    remember: DurationOrInfinity = 30 * 86_400.0  # how long earlier bans count


class RuleTable(Section):
    """``{ name = "old-admin", cond = 'req_path_prefix_in("/old-admin", true)' }``."""

    name: NonEmpty
    cond: NonEmpty


class ResponseRuleTable(Section):
    """``{ name = "not_found_flood", status = [404], count = 20, window = 60 }``: more than ``count`` in ``window``."""

    name: NonEmpty
    status: Annotated[list[int], BeforeValidator(_statuses)]
    count: PositiveCount
    window: Seconds


class BansSection(Section):
    """``[bans]``: automatic IP bans for malicious requests (Phx2Ban)."""

    enabled: bool = True
    malicious_req_threshold: PositiveCount = 5
    window: Seconds = 600.0
    block_duration: DurationOrInfinity = 86_400.0
    escalation: EscalationTable | None = None
    ipv6_prefix: Annotated[int, BeforeValidator(_prefix_length)] = 64
    allow: StringList = Field(default_factory=list)
    ignore_routes: StringList = Field(default_factory=list)
    inspect_percentage: Annotated[float, BeforeValidator(_percentage)] = 100.0
    rules: StringList = Field(default_factory=lambda: ["builtin"])
    level: Annotated[int, BeforeValidator(_level)] = 1
    threshold: PositiveCount = 5
    disabled_rules: StringList = Field(default_factory=list)
    rule_scores: dict[str, Annotated[int, BeforeValidator(_score)]] = Field(default_factory=dict)
    rule_files: StringList = Field(default_factory=list)
    body_limit: SizeOrInfinity = 64 * 1024
    inspect_headers: StringList = Field(default_factory=list)
    profiles: StringList = Field(default_factory=list)
    additional_rules: list[RuleTable] = Field(default_factory=list)
    response_rules: list[ResponseRuleTable] = Field(default_factory=list)
    resp_status_code: Annotated[int, BeforeValidator(_status_code)] = 403
    resp_body: str = "Forbidden"
    resp_headers: dict[str, str] = Field(default_factory=dict)
    dry_run: bool = False
    callback: StringList = Field(default_factory=list)


class BlockSection(Section):
    """``[block]``: BFE mod_block files (``conf``, or ``rules`` and ``ip_blocklist``) and the host table."""

    conf: NonEmpty | None = None
    rules: NonEmpty | None = None
    ip_blocklist: NonEmpty | None = None
    hosts: dict[str, str] = Field(default_factory=dict)  # "default_product" names the fallback product
    close_status: Annotated[int, BeforeValidator(_status_code)] = 403  # CLOSE in middleware
    watch: bool = True  # reload the files when they change


class AdminSection(Section):
    """``[admin]``: the administration API on a listener of its own (loopback by default)."""

    listen: NonEmpty = "127.0.0.1:9180"
    token: NonEmpty | None = Field(default=None, repr=False)
    token_file: NonEmpty | None = None
    token_env: NonEmpty | None = None


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


class LockoutSection(Section):
    """``[lockout]``: what the lockout records of every directory are kept per.

    ``scope = "listener"`` (the default, the reference's semantics) counts the failures of
    each listening address and port apart; ``scope = "site"`` counts them once for every
    listener and every host that shares the store.
    """

    scope: Annotated[LockoutScope, _choice(*LOCKOUT_SCOPES)] = "listener"


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


class DecisionSection(Section):
    """``[decision]``: the decision endpoint a proxy asks before serving each request."""

    listen: StringList = Field(default_factory=lambda: ["127.0.0.1:9190"])
    proxies: StringList  # the proxies that may ask: addresses or networks
    client_header: Annotated[str | None, BeforeValidator(_forwarding_header)] = None  # default: x-forwarded-for


def _field_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PydanticCustomError("fields", 'expected a table of field names, like { status = "status" }')
    return dict(value)


class LogsSection(Section):
    """``[logs]``: the proxy's access logs, followed for the responses the decision never sees."""

    files: StringList
    format: Annotated[Literal["combined", "json"], _choice("combined", "json")] = "combined"
    fields: Annotated[dict[str, str], BeforeValidator(_field_map)] = Field(default_factory=dict)
    detect: bool | None = None  # default: true without [decision], which already inspects each request
    start: Annotated[Literal["end", "beginning"], _choice("end", "beginning")] = "end"
    poll_interval: Seconds = 1.0
    rotate_wait: Seconds = 30.0  # a rotated file is read on for this long after its last growth
    max_line_bytes: PositiveCount = 64 * 1024


class LogSection(Section):
    """``[log]``: the server's own log on standard error (``--log-level`` and ``--log-format`` override it)."""

    level: Annotated[LogLevel, _choice(*LEVELS)] = "info"
    format: Annotated[LogFormat, _choice(*FORMATS)] = "text"


class ConfigFile(Section):
    """The whole file; :func:`stockade.config.load.load_config` validates it section by section."""

    server: ServerSection = Field(default_factory=ServerSection)
    log: LogSection = Field(default_factory=LogSection)
    store: StoreSection = Field(default_factory=StoreSection)
    audit: AuditSection = Field(default_factory=AuditSection)
    proxy: ProxySection = Field(default_factory=ProxySection)
    admin: AdminSection | None = None
    lockout: LockoutSection = Field(default_factory=LockoutSection)
    bans: BansSection | None = None
    block: BlockSection | None = None
    decision: DecisionSection | None = None
    logs: LogsSection | None = None
    directory: list[DirectorySection] = Field(default_factory=list)
