"""Detection as the console shows it: each rule's category, and a request tried against the rules.

Trying a request here is pure: the detector is asked which rule the request would trigger,
and nothing is counted against anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from stockade.core.detection import Detector
from stockade.core.facts import RequestFacts
from stockade.engine.settings import BanSettings
from stockade.errors import BadRequest
from stockade.request.paths import DEFAULT_POLICY, canonical_path

CUSTOM = "custom"
RESPONSES = "responses"


def categories(settings: BanSettings | None) -> dict[str, str]:
    """Each detection rule's category: a rule of the pack's own, ``custom``, or ``responses``."""
    if settings is None:
        return {}
    found = {rule.id: rule.category for rule in settings.detector.rules}
    custom = settings.detector.custom
    if custom is not None:
        for name in custom.names:
            found.setdefault(name, CUSTOM)
    for rule in settings.response_rules:
        found.setdefault(rule.name, RESPONSES)
    return found


@dataclass(frozen=True, slots=True)
class Tried:
    """What the detection makes of one request: the rule it triggers (``None``: clean) and why not, if invalid."""

    target: str
    method: str
    rule: str | None = None
    category: str | None = None
    error: str | None = None

    @property
    def malicious(self) -> bool:
        return self.rule is not None


def try_request(detector: Detector, known: dict[str, str], target: str, method: str) -> Tried:
    """Run the rules on ``METHOD target`` (a path with an optional query), as the server would see it."""
    parts = urlsplit(target)
    raw = parts.path or "/"
    if parts.scheme or parts.netloc or not raw.startswith("/"):
        return Tried(target, method, error="expected a path starting with /, with an optional ?query")
    try:
        canon = canonical_path(raw.encode("utf-8", "surrogateescape"), DEFAULT_POLICY)
    except BadRequest as exc:
        return Tried(target, method, error=f"the server refuses this path: {exc}")
    text = canon.target.decode("latin-1")
    uri = text + (f"?{parts.query}" if parts.query else "")
    facts = RequestFacts(method=method, path=canon.path, query=parts.query, uri=uri)
    rule = detector.detect(facts)
    return Tried(target, method, rule, known.get(rule) if rule is not None else None)
