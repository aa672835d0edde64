"""Redis store URLs: what they may say, parsed once into a :class:`RedisTarget`.

URL forms (the query parameters ``prefix``, default ``stockade:v1:``, and ``timeout``, in
seconds, default 5, apply to all):

* ``redis://[[user]:password@]host[:port][/db]``
* ``rediss://[[user]:password@]host[:port][/db]``: TLS, with the query parameters
  ``ssl_cert_reqs`` (``required``, the default, ``optional`` or ``none``) and
  ``ssl_ca_certs`` (a PEM file of trusted certificates; the system's by default)
* ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]``: the
  password is the master's; the sentinels are asked where the master is
* ``redis+cluster://[[user]:password@]host:port[,host:port...]``: the nodes to start
  discovering the cluster from

Parsing imports nothing of redis-py, so configurations can be checked without the
``redis`` extra; the stores (:mod:`stockade.stores._async.redis_store` and its generated
twin) turn a target into a client. A password is held in a :class:`Secret` and the URL
the store reports replaces it with ``***``, so it never shows in a repr, a log or an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote

from stockade.errors import InvalidArgument
from stockade.stores.redis.keys import DEFAULT_PREFIX, KeySpace

SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster")
ACCEPTED = (
    "redis://[[user]:password@]host[:port][/db], rediss://... (TLS), "
    "redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db] "
    "or redis+cluster://[[user]:password@]host:port[,host:port...]"
)
DEFAULT_TIMEOUT = 5.0
_COMMON = ("prefix", "timeout")
_TLS = ("ssl_cert_reqs", "ssl_ca_certs")
_CERT_REQS = ("required", "optional", "none")

Kind = Literal["single", "sentinel", "cluster"]
_KINDS: dict[str, Kind] = {
    "redis": "single",
    "rediss": "single",
    "redis+sentinel": "sentinel",
    "redis+cluster": "cluster",
}


class Secret:
    """A string that does not show itself in ``repr`` or ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Everything a store URL says: which servers, which credentials, which key prefix."""

    kind: Kind
    url: str  # the URL with its password replaced by ***
    hosts: tuple[tuple[str, int], ...]
    db: int = 0
    service_name: str | None = None
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    tls: bool = False
    ssl_cert_reqs: str = "required"
    ssl_ca_certs: str | None = None
    prefix: str = DEFAULT_PREFIX
    timeout: float = DEFAULT_TIMEOUT


def is_redis_url(url: str) -> bool:
    return url.partition("://")[0] in SCHEMES


def redact(url: str) -> str:
    """``url`` with the password (anything that may be one) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        _, at, tail = url.rpartition("@")
        return f"***@{tail}" if at else url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    userinfo, at, hosts = rest[:end].rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else user
    return f"{scheme}://{shown}@{hosts}{rest[end:]}"


def _bad(url: str) -> InvalidArgument:
    return InvalidArgument("store url", redact(url), ACCEPTED)


def _host_port(text: str, default_port: int, url: str) -> tuple[str, int]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _bad(url)
        port_text = rest[1:]
    else:
        host, _, port_text = text.partition(":")
        if ":" in port_text:
            raise _bad(url)
    if not host:
        raise _bad(url)
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument("redis port", port_text, "an integer from 1 to 65535")
    return host, int(port_text)


def _db(text: str) -> int:
    if not text.isdigit():
        raise InvalidArgument("redis database", text, "a database number such as /0")
    return int(text)


def parse_redis_url(url: str) -> RedisTarget:
    """Parse a ``redis://``, ``rediss://``, ``redis+sentinel://`` or ``redis+cluster://`` URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES or "#" in rest:
        raise _bad(url)
    kind = _KINDS[scheme]
    location, _, query_text = rest.partition("?")
    netloc, _, path = location.partition("/")
    userinfo, at, host_list = netloc.rpartition("@")
    username: str | None = None
    password: Secret | None = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = Secret(unquote(secret)) if colon else None
    default_port = 26379 if kind == "sentinel" else 6379
    hosts = tuple(_host_port(part, default_port, url) for part in host_list.split(","))
    if kind == "single" and len(hosts) != 1:
        raise _bad(url)

    db = 0
    service_name: str | None = None
    segments = [unquote(s) for s in path.split("/")] if path else []
    if kind == "single" and segments and segments != [""]:
        if len(segments) != 1:
            raise _bad(url)
        db = _db(segments[0])
    elif kind == "sentinel":
        if not segments or not segments[0] or len(segments) > 2:
            raise InvalidArgument("sentinel service name", path, "/service_name or /service_name/db")
        service_name = segments[0]
        if len(segments) == 2 and segments[1]:
            db = _db(segments[1])
    elif kind == "cluster" and segments and segments != [""]:
        raise InvalidArgument("redis cluster path", f"/{path}", "nothing: a cluster has only database 0")

    query = dict(parse_qsl(query_text, keep_blank_values=True))
    allowed = _COMMON + (_TLS if scheme == "rediss" else ())
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise InvalidArgument("store url parameter", unknown[0], " or ".join(allowed))
    prefix = query.get("prefix", DEFAULT_PREFIX)
    KeySpace(prefix)
    timeout = _timeout(query.get("timeout"))
    cert_reqs = query.get("ssl_cert_reqs", "required")
    if cert_reqs not in _CERT_REQS:
        raise InvalidArgument("ssl_cert_reqs", cert_reqs, "required, optional or none")
    return RedisTarget(
        kind=kind,
        url=redact(url),
        hosts=hosts,
        db=db,
        service_name=service_name,
        username=username,
        password=password,
        tls=scheme == "rediss",
        ssl_cert_reqs=cert_reqs,
        ssl_ca_certs=query.get("ssl_ca_certs") or None,
        prefix=prefix,
        timeout=timeout,
    )


def _timeout(text: str | None) -> float:
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgument("timeout", text, "a positive number of seconds")
    return value


__all__ = ["ACCEPTED", "SCHEMES", "RedisTarget", "Secret", "is_redis_url", "parse_redis_url", "redact"]
