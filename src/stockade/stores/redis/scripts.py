"""The Lua transitions, read once from the package and shared by both store flavours.

Each ``lua/<name>.lua`` is one transition of :mod:`stockade.core.lockout`, rewritten for
the server so that it runs atomically there; ``lua/common.lua`` (state encoding, TTLs,
index upkeep) is prepended to each. Redis caches a script by its SHA-1: the stores send
``EVALSHA`` and load the text only when the server answers ``NOSCRIPT``.
"""

from __future__ import annotations

from importlib.resources import files

from stockade.core.bans import BanPolicy, BanState
from stockade.core.lockout import LockoutPolicy, LockoutState

NAMES = ("record_failure", "record_success", "check_block", "reserve", "release", "block", "unblock", "sweep", "put")
BAN_NAMES = ("ban_strike", "ban_set", "ban_unban", "ban_sweep", "ban_put")


def _read(name: str) -> str:
    return (files("stockade.stores.redis") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def load_scripts() -> dict[str, str]:
    """Every transition's full script text, by name (the ban scripts with ``ban_common.lua`` too)."""
    common = _read("common")
    scripts = {name: f"{common}\n{_read(name)}" for name in NAMES}
    ban_common = _read("ban_common")
    scripts.update({name: f"{common}\n{ban_common}\n{_read(name)}" for name in BAN_NAMES})
    return scripts


def ban_policy_args(policy: BanPolicy) -> tuple[str, ...]:
    """The seven ban-policy arguments every ban script takes after ``now``."""
    return (
        str(int(policy.threshold)),
        number(policy.window),
        number(policy.block_duration),
        number(policy.escalation_factor),
        number(policy.escalation_max),
        number(policy.remember),
        str(policy.kept_strikes()),
    )


def parse_ban_state(strikes: str | None, banned: str | None, offences: str | None, remember: str | None) -> BanState:
    """A ban record's state from its hash fields ``s``, ``b``, ``o`` and ``m`` (see ``lua/ban_common.lua``)."""
    return BanState(
        strikes=_times(strikes),
        banned_until=None if banned is None else float(banned),
        offences=0 if offences is None else int(offences),
        remember_until=None if remember is None else float(remember),
    )


def number(value: float) -> str:
    """A float as the scripts read it back bit for bit (``repr`` is the shortest exact form)."""
    return repr(float(value))


def policy_args(policy: LockoutPolicy) -> tuple[str, ...]:
    """The six policy arguments every transition script takes after ``now``."""
    return (
        "" if policy.max_retries is None else str(int(policy.max_retries)),
        number(policy.block_time),
        number(policy.fail_expire_time),
        number(policy.auth_timeout),
        number(policy.reservation_timeout),
        str(policy.kept_failures()),
    )


def optional_number(text: object) -> float | None:
    """A number from a script reply, ``None`` for the empty string it uses for "none"."""
    raw = text.decode() if isinstance(text, bytes) else str(text)
    return None if raw == "" else float(raw)


def _times(text: str | None) -> tuple[float, ...]:
    return tuple(float(word) for word in text.split()) if text else ()


def parse_state(failures: str | None, blocked: str | None, auth: str | None, reservations: str | None) -> LockoutState:
    """A record's state from its hash fields ``f``, ``b``, ``a`` and ``r`` (see ``lua/common.lua``)."""
    return LockoutState(
        failures=_times(failures),
        blocked_until=None if blocked is None else float(blocked),
        auth_until=None if auth is None else float(auth),
        reservations=_times(reservations),
    )
