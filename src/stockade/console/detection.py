"""Detection as the console shows it: each rule's category, and a request tried against the rules.

Trying a request here is pure: the detector explains what it makes of the request (every rule
it fires, on which part, with which value, and the score against the threshold, as
``stockade detect explain`` prints it), and nothing is counted against anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from stockade.core.detection import Detector, Explanation
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
    """What the detection makes of one request (its explanation), or why it cannot be tried."""

    target: str
    method: str
    body: str = ""
    explanation: Explanation | None = None
    category: str | None = None
    error: str | None = None

    @property
    def malicious(self) -> bool:
        return self.explanation is not None and self.explanation.malicious

    @property
    def rule(self) -> str | None:
        """The rule that names the request (the highest-scoring one, or the user's rule)."""
        if self.explanation is None or self.explanation.finding is None:
            return None
        return self.explanation.finding.rule


MAX_BODY = 64 * 1024


def try_request(detector: Detector, known: dict[str, str], target: str, method: str, body: str = "") -> Tried:
    """Run the rules on ``METHOD target`` (a path, an optional query, a form body), as the server would see it."""
    parts = urlsplit(target)
    raw = parts.path or "/"
    if parts.scheme or parts.netloc or not raw.startswith("/"):
        return Tried(target, method, body, error="expected a path starting with /, with an optional ?query")
    if len(body) > MAX_BODY:
        return Tried(target, method, body, error=f"the body is longer than {MAX_BODY} characters")
    try:
        canon = canonical_path(raw.encode("utf-8", "surrogateescape"), DEFAULT_POLICY)
    except BadRequest as exc:
        return Tried(target, method, body, error=f"the server refuses this path: {exc}")
    text = canon.target.decode("latin-1")
    uri = text + (f"?{parts.query}" if parts.query else "")
    headers = [("Content-Type", "application/x-www-form-urlencoded")] if body else []
    data = body.encode() if body else None
    facts = RequestFacts(method=method, path=canon.path, query=parts.query, uri=uri, headers=headers, body=data)
    explanation = detector.explain(facts)
    rule = explanation.finding.rule if explanation.finding is not None else None
    return Tried(target, method, body, explanation, known.get(rule) if rule is not None else None)
