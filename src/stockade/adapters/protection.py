"""What every middleware builds from one configuration: the in-app twin of the server's ``Site``.

A :class:`Protection` is validated and precomputed once, when the middleware is created
(the TOML file read, the mod_block files loaded, the client-IP resolver built); the guard
and its stores open later, in each process that serves requests (ASGI lifespan startup, or
the first request of a WSGI worker), because stores must not cross a ``fork``.

Login forms of the application feed the lockout through *logins*: lockout directories
without an HTTP Basic gate, keyed by user name and the login URL path. The requests to
them pass the checks; the app reports each password check (:mod:`stockade.adapters.logins`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stockade.config import Config, ProtectedDirectory, load_config
from stockade.core.client_ip import ClientIpResolver, TrustedProxies
from stockade.core.directories import normalize_directory
from stockade.core.lockout import LockoutPolicy, seconds_setting
from stockade.engine import DirectorySettings, GuardSettings
from stockade.engine.audit import AuditLog
from stockade.engine.events import EventSink
from stockade.engine.settings import NO_LISTENER, BanSettings, LockoutBy
from stockade.errors import ConfigError, ConfigIssue
from stockade.request.paths import DEFAULT_POLICY, PathPolicy
from stockade.rules import BlockReloader, HostTable

DEFAULT_STORE = "sqlite:///stockade.db"
_LOGIN_KEYS = ("path", "max_retries", "block_time", "fail_expire_time", "lockout_by", "blocked_status")


@dataclass(frozen=True, slots=True)
class Login:
    """The lockout of one login form of the app; durations in minutes, as in ``[[directory]]``."""

    path: str
    max_retries: int | None = 3
    block_time: float = 60.0
    fail_expire_time: float = 30.0
    lockout_by: LockoutBy = "user"
    blocked_status: int = 403

    def settings(self) -> DirectorySettings:
        policy = LockoutPolicy(
            max_retries=self.max_retries,
            block_time=seconds_setting(self.block_time),
            fail_expire_time=seconds_setting(self.fail_expire_time),
        )
        return DirectorySettings(
            path=normalize_directory(self.path),
            policy=policy,
            lockout_by=self.lockout_by,
            blocked_status=self.blocked_status,
        )


@dataclass(frozen=True)
class Protection:
    """One configuration of the middleware, validated: see the module docstring."""

    settings: GuardSettings
    store_url: str
    base: Path | None
    directories: tuple[ProtectedDirectory, ...]  # HTTP Basic directories of the TOML file
    directory_store_urls: Mapping[str, str]
    logins: Mapping[str, Login]
    block: BlockReloader | None
    hosts: HostTable | None
    close_status: int
    resolver: ClientIpResolver
    config: Config | None = None
    paths: PathPolicy = DEFAULT_POLICY  # how paths are made canonical ([server] merge_slashes, escaped_slashes)

    def sinks(self) -> list[EventSink]:
        """The event sinks of one process: the audit log when the configuration names one."""
        config = self.config
        if config is None or (config.audit_json is None and config.audit_text is None):
            return []
        return [AuditLog(config.audit_json, config.audit_text)]

    def login_at(self, path: str) -> Login | None:
        """The login whose path is ``path`` (``/login`` and ``/login/`` alike), if any."""
        if not self.logins or not path.startswith("/"):
            return None
        return self.logins.get(normalize_directory(path))

    def login(self, path: str | None) -> Login:
        """The login of ``path`` (the only one when ``None``); a ``ConfigError`` names the known ones."""
        if path is None and len(self.logins) == 1:
            return next(iter(self.logins.values()))
        found = self.logins.get(normalize_directory(path)) if path is not None else None
        if found is None:
            known = ", ".join(self.logins) or "none"
            raise ConfigError(None, [ConfigIssue("logins", f"no login {path!r}; configured: {known}")])
        return found


def protection(
    config: str | Path | Config | None = None,
    *,
    logins: Sequence[Login | Mapping[str, Any] | str] = (),
    store: str | None = None,
    bans: BanSettings | bool | None = None,
    trusted: TrustedProxies | None = None,
) -> Protection:
    """Build a :class:`Protection` from a TOML file (or a loaded ``Config``) and keyword settings.

    Keywords override the file: ``store`` its ``[store] url``, ``bans`` its ``[bans]``
    (``True`` turns the built-in rules on), ``trusted`` its ``[proxy]``.
    """
    loaded = load_config(Path(config)) if isinstance(config, (str, Path)) else config
    forms = tuple(_login(item, i) for i, item in enumerate(logins))
    base = loaded.base if loaded is not None else None
    settings = loaded.guard_settings() if loaded is not None else GuardSettings()
    ban_settings: BanSettings | None
    if bans is None:
        ban_settings = settings.bans
    elif isinstance(bans, bool):
        ban_settings = BanSettings() if bans else None
    else:
        ban_settings = bans
    directories = settings.directories + tuple(form.settings() for form in forms)
    taken = [d.path for d in settings.directories]
    clashes = [form.path for form in forms if normalize_directory(form.path) in taken]
    if clashes:
        raise ConfigError(None, [ConfigIssue("logins", f"the login {p!r} is also a [[directory]]") for p in clashes])
    settings = replace(settings, directories=directories, listeners=(NO_LISTENER,), bans=ban_settings)
    block_config = loaded.block if loaded is not None else None
    return Protection(
        settings=settings,
        store_url=store or (loaded.store_url if loaded is not None else DEFAULT_STORE),
        base=base,
        directories=loaded.directories if loaded is not None else (),
        directory_store_urls=loaded.directory_store_urls if loaded is not None else {},
        logins={normalize_directory(form.path): form for form in forms},
        block=block_config.reloader() if block_config is not None else None,
        hosts=block_config.hosts if block_config is not None else None,
        close_status=block_config.close_status if block_config is not None else 403,
        resolver=ClientIpResolver(trusted or (loaded.trusted if loaded is not None else TrustedProxies())),
        config=loaded,
        paths=loaded.paths if loaded is not None else DEFAULT_POLICY,
    )


def from_mapping(values: Mapping[str, Any]) -> Protection:
    """A :class:`Protection` from a settings dict (Django's ``STOCKADE``, Flask's ``app.config``)."""
    unknown = sorted(set(values) - {"config", "logins", "store", "bans"})
    if unknown:
        accepted = "config, logins, store, bans"
        raise ConfigError(None, [ConfigIssue(key, f"unknown setting; accepted: {accepted}") for key in unknown])
    return protection(
        values.get("config"), logins=values.get("logins", ()), store=values.get("store"), bans=values.get("bans")
    )


def _login(item: Login | Mapping[str, Any] | str, index: int) -> Login:
    if isinstance(item, Login):
        found = item
    elif isinstance(item, str):
        found = Login(item)
    else:
        unknown = sorted(set(item) - set(_LOGIN_KEYS))
        if unknown or "path" not in item:
            accepted = ", ".join(_LOGIN_KEYS)
            raise ConfigError(None, [ConfigIssue(f"logins[{index}]", f"expected the keys {accepted} (path required)")])
        found = Login(**item)
    if not found.path.startswith("/"):
        raise ConfigError(
            None, [ConfigIssue(f"logins[{index}].path", "expected a URL path starting with /", found.path, True)]
        )
    if found.blocked_status not in (401, 403, 429):
        raise ConfigError(None, [ConfigIssue(f"logins[{index}].blocked_status", "expected 401, 403 or 429")])
    return found
