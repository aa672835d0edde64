"""What the engine needs to know, independent of how it was configured."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from stockade.core.bans import BanPolicy
from stockade.core.detection import Detector
from stockade.core.lockout import LockoutPolicy
from stockade.netaddr import NetworkSet

LockoutBy = Literal["user", "ip", "user_ip"]
LOCKOUT_BY: tuple[LockoutBy, ...] = ("user", "ip", "user_ip")
LockoutScope = Literal["listener", "site"]
LOCKOUT_SCOPES: tuple[LockoutScope, ...] = ("listener", "site")
OnError = Literal["open", "closed"]
ON_ERROR: tuple[OnError, ...] = ("open", "closed")

EventCallback = Callable[[str, "str | None", int, str, Mapping[str, object]], object]


@dataclass(frozen=True, slots=True)
class Listener:
    """A listening socket as the lockout keys see it: ``address`` is ``None`` when bound to all."""

    address: str | None
    port: int

    def __str__(self) -> str:
        host = self.address or "*"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


NO_LISTENER = Listener(None, 0)


@dataclass(frozen=True, slots=True)
class DirectorySettings:
    """Lockout settings of one protected directory.

    ``lockout_by`` chooses what failures count against: the user name (the reference),
    the client IP, or the pair. ``blocked_status`` is 403 as in the reference; 401 hides
    the lockout from an attacker who guessed the password.
    """

    path: str
    policy: LockoutPolicy = field(default_factory=LockoutPolicy)
    lockout_by: LockoutBy = "user"
    blocked_status: int = 403
    callbacks: tuple[EventCallback, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorPolicy:
    """What each capability does while the store fails: ``closed`` refuses, ``open`` lets through.

    A login lockout that cannot read its blocks fails closed by default (an attacker must
    not gain unlimited guesses from an outage); bans fail open (an outage must not turn
    every visitor away).
    """

    lockout: OnError = "closed"
    bans: OnError = "open"


@dataclass(frozen=True, slots=True)
class ResponseRule:
    """Answers are evidence too: more than ``count`` responses with one of ``statuses`` in ``window``."""

    name: str
    statuses: frozenset[int]
    count: int
    window: float


@dataclass(frozen=True, slots=True)
class BanSettings:
    """Automatic IP bans (Phx2Ban): what counts as malicious and what a ban does.

    ``ignore_paths`` are path prefixes (segment boundaries) and ``ignore_patterns`` regular
    expressions searched in the path: such requests are never inspected nor refused.
    ``dry_run`` counts and reports bans (``ip_block`` events with ``dry_run``) without
    enforcing any.
    """

    enabled: bool = True
    policy: BanPolicy = field(default_factory=BanPolicy)
    ipv6_prefix: int = 64
    allow: NetworkSet = field(default_factory=NetworkSet)
    ignore_paths: tuple[str, ...] = ()
    ignore_patterns: tuple[re.Pattern[str], ...] = ()
    inspect_percentage: float = 100.0
    detector: Detector = field(default_factory=Detector)
    response_rules: tuple[ResponseRule, ...] = ()
    resp_status_code: int = 403
    resp_body: bytes = b"Forbidden"
    resp_headers: tuple[tuple[str, str], ...] = ()
    dry_run: bool = False
    callbacks: tuple[EventCallback, ...] = ()


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """Everything a guard needs.

    ``lockout_scope`` says what a lockout record is kept per, besides the directory and the
    user or client: ``"listener"`` (the reference's semantics, the default) keeps one per
    listening address and port, so each listener counts failures of its own; ``"site"``
    keeps one for every listener and every host that shares the store (the records carry
    no listener, as the middleware's do), which is what a fleet of hosts behind one name
    needs.
    """

    directories: tuple[DirectorySettings, ...] = ()
    listeners: tuple[Listener, ...] = (NO_LISTENER,)
    lockout_scope: LockoutScope = "listener"
    sweep_interval: float = 60.0
    # A sweep also runs after this many writes, so that deletion keeps pace with a flood of
    # new keys however short the interval's share of it.
    sweep_every_writes: int = 500
    on_error: ErrorPolicy = field(default_factory=ErrorPolicy)
    bans: BanSettings | None = None
