"""The Lua transitions, read once from the package and shared by both store flavours.

Each ``lua/<name>.lua`` is one transition of :mod:`stockade.core.lockout`, rewritten for
the server so that it runs atomically there; ``lua/common.lua`` (state encoding, TTLs,
index upkeep) is prepended to each. Redis caches a script by its SHA-1: the stores send
``EVALSHA`` and load the text only when the server answers ``NOSCRIPT``.
"""

from __future__ import annotations

from importlib.resources import files

from stockade.core.lockout import LockoutPolicy, LockoutState

NAMES = ("record_failure", "record_success", "check_block", "reserve", "release", "block", "unblock", "sweep", "put")


def _read(name: str) -> str:
    return (files("stockade.stores.redis") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def load_scripts() -> dict[str, str]:
    """Every transition's full script text, by name."""
    common = _read("common")
    return {name: f"{common}\n{_read(name)}" for name in NAMES}


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
