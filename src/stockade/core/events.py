"""Security events, shaped like the reference's ``event/5`` callback.

An event names what happened (``auth_fail``, ``user_block``, ``user_unblock``), where (the
listener address, or ``None`` when bound to every address, the port and the directory)
and carries a small data mapping with at least ``user``. The attempted password is never
part of an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, Literal

from stockade.core.lockout import LockoutKey

AUTH_FAIL: Final = "auth_fail"
USER_BLOCK: Final = "user_block"
USER_UNBLOCK: Final = "user_unblock"
# Events of the IP bans; they carry no listener and no directory.
IP_BLOCK: Final = "ip_block"
IP_UNBLOCK: Final = "ip_unblock"
MALICIOUS_REQUEST: Final = "malicious_request"
REQUEST_REJECTED: Final = "request_rejected"
VALID_REQUEST: Final = "valid_request"
BAN_EVENTS: Final = frozenset({IP_BLOCK, IP_UNBLOCK, MALICIOUS_REQUEST, REQUEST_REJECTED, VALID_REQUEST})
# The ban events' callbacks are registered under this directory name.
BANS_DIRECTORY: Final = ""

EventName = Literal["auth_fail", "user_block", "user_unblock"]


@dataclass(frozen=True, slots=True)
class Event:
    what: str
    address: str | None
    port: int
    directory: str
    data: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    at: float = 0.0
    audit_only: bool = False

    def as_audit_only(self) -> Event:
        """The same event, kept out of user callbacks (it still reaches the audit log)."""
        return replace(self, audit_only=True)

    def as_dict(self) -> dict[str, object]:
        return {
            "what": self.what,
            "address": self.address,
            "port": self.port,
            "directory": self.directory,
            "data": dict(self.data),
            "at": self.at,
        }


def lockout_event(what: str, key: LockoutKey, now: float, **extra: object) -> Event:
    """An event about one lockout key; ``user`` (and ``client`` when known) go in the data."""
    data: dict[str, object] = {"user": key.user}
    if key.client:
        data["client"] = key.client
    data.update({k: v for k, v in extra.items() if v is not None})
    return Event(what, key.address, key.port, key.directory, MappingProxyType(data), now)
