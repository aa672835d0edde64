"""What the checks answer about a request: shared by the async ladder and its generated sync twin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from stockade.engine.views import Banned

__all__ = ["CLOSE", "PASS", "Action", "Banned", "Refusal", "ResponseLike", "Stage", "Verdict"]

Action = Literal["pass", "refuse", "close"]
Stage = Literal["ban", "block", "lockout", "app"]


class ResponseLike(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> tuple[tuple[bytes, bytes], ...]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer the guard gives instead of the application."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a request: pass it on, answer ``response``, or close the connection."""

    action: Action
    stage: Stage
    response: ResponseLike | None = None
    block_rule: str | None = None  # the mod_block rule that matched, if any
    malicious: str | None = None  # the detection rule the request triggered, if any
    banned: Banned | None = None
    allowed: bool = False  # a mod_block ALLOW rule matched


PASS = Verdict("pass", "app")
CLOSE = Verdict("close", "block")
