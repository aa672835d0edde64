"""The request the detection engine inspects: a small immutable value, built once per request.

Fronts know a request in different shapes (a :class:`~stockade.core.facts.RequestFacts`, the
ladder's lazily built ``Incoming``); :func:`request_from` makes one :class:`Request` of any of
them. The body is cut at ``body_limit`` bytes: what lies beyond is passed on uninspected and
counted in :attr:`Request.uninspected`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """What detection reads of one request.

    ``path`` is the canonical (decoded, normalised) path, ``raw_path`` the path as sent (still
    percent-encoded), ``query`` the raw query without ``?``, ``headers`` every header as
    ``(name, value)`` pairs in order, ``body`` at most the inspection limit of the body and
    ``uninspected`` the number of body bytes beyond it.
    """

    method: str = "GET"
    path: str = "/"
    raw_path: str = ""
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = ""
    body: bytes = b""
    uninspected: int = 0

    def header(self, name: str) -> str:
        """The first value of a header (``name`` in lower case), ``""`` when absent."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return ""

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


class _Facts(Protocol):
    """The parts of :class:`~stockade.core.facts.RequestFacts` read here."""

    method: str
    path: str
    query: str
    uri: str
    headers: list[tuple[str, str]]
    body: bytes | None


class _Probe(Protocol):
    """A request of the ladder (``Incoming``) or facts: the cheap parts, the facts on demand."""

    @property
    def path(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def query(self) -> str: ...

    @property
    def facts(self) -> _Facts: ...


_CHEAP_HEADERS = ("user-agent", "referer", "cookie", "content-type")


def request_from(
    source: _Probe | _Facts, body_limit: int | None = DEFAULT_BODY_LIMIT, headers: tuple[str, ...] = ()
) -> Request:
    """A :class:`Request` from :class:`~stockade.core.facts.RequestFacts` or a ladder request.

    A ladder request is read through its cheap parts (path, query, method, the named
    headers, the ``body`` its front read ahead), so that detection never builds its facts.
    """
    if not hasattr(source, "headers") and hasattr(source, "header"):
        return _from_parts(source, headers, body_limit)
    facts: _Facts = source.facts if hasattr(source, "facts") else source
    uri = facts.uri or ""
    raw_path = uri.split("?", 1)[0] if uri else facts.path
    body = facts.body or b""
    uninspected = 0
    if body_limit is not None and len(body) > body_limit:
        uninspected = len(body) - body_limit
        body = body[:body_limit]
    pairs = tuple((name, _text(value)) for name, value in facts.headers)
    content_type = ""
    for name, value in pairs:
        if name.lower() == "content-type":
            content_type = value
            break
    return Request(
        method=facts.method,
        path=_text(facts.path),
        raw_path=_text(raw_path),
        query=_text(facts.query),
        headers=pairs,
        content_type=content_type,
        body=body,
        uninspected=uninspected,
    )


def _text(value: str) -> str:
    """``value`` with undecodable bytes (kept as surrogate escapes by the fronts) as U+FFFD."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _from_parts(source: Any, names: tuple[str, ...], body_limit: int | None) -> Request:
    wanted = dict.fromkeys((*_CHEAP_HEADERS, *names))
    pairs: list[tuple[str, str]] = []
    # A ladder request given neither its headers nor a header lookup would build its facts to
    # answer header(): such a request (a test double, a bare probe) is read without headers.
    # The canonical request of issue 13 replaces this.
    if getattr(source, "_headers", None) is None and getattr(source, "_lookup", None) is None:
        wanted = {}
    every = getattr(source, "header_values", None)
    for name in wanted:
        for value in every(name) if every is not None else (source.header(name),):
            if value:
                pairs.append((name, _text(value)))
    uri = source.uri or ""
    body: bytes = getattr(source, "body", None) or b""
    uninspected: int = getattr(source, "uninspected", 0)
    if body_limit is not None and len(body) > body_limit:
        uninspected += len(body) - body_limit
        body = body[:body_limit]
    return Request(
        method=source.method,
        path=_text(source.path),
        raw_path=_text(uri.split("?", 1)[0] if uri else source.path),
        query=_text(source.query),
        headers=tuple(pairs),
        content_type=next((value for name, value in pairs if name == "content-type"), ""),
        body=body,
        uninspected=uninspected,
    )
