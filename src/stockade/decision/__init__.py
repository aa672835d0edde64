"""Stockade as the decision point of a proxy a site already runs (nginx, Caddy, Traefik, Envoy, HAProxy).

:mod:`stockade.decision.styles` reads each proxy's check request; :class:`DecisionPoint`
answers it with the same canonical request and the same checks as ``stockade serve``.
Neither depends on an HTTP server.

Names are imported on first use (PEP 562): the configuration imports the settings alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stockade.decision.point import Answer, DecisionPoint
    from stockade.decision.settings import DecisionSettings
    from stockade.decision.styles import STYLES, Original, Style, original_request, style_for

_SOURCES: dict[str, str] = {
    "Answer": "stockade.decision.point",
    "DecisionPoint": "stockade.decision.point",
    "DecisionSettings": "stockade.decision.settings",
    "STYLES": "stockade.decision.styles",
    "Original": "stockade.decision.styles",
    "Style": "stockade.decision.styles",
    "original_request": "stockade.decision.styles",
    "style_for": "stockade.decision.styles",
}

__all__ = [
    "STYLES",
    "Answer",
    "DecisionPoint",
    "DecisionSettings",
    "Original",
    "Style",
    "original_request",
    "style_for",
]


def __getattr__(name: str) -> object:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module 'stockade.decision' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
