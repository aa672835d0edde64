"""Load a configuration file and every file it names, reporting all problems at once.

Relative paths (document root, htpasswd files, SQLite data file, audit logs) are
resolved against the directory of the configuration file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from stockade.auth.htpasswd import Htpasswd
from stockade.config.listen import ListenAddress, parse_listen
from stockade.config.schema import ConfigFile, DirectorySection
from stockade.core.directories import normalize_directory
from stockade.core.lockout import LockoutPolicy, seconds_setting
from stockade.engine.events import resolve_callback
from stockade.engine.settings import DirectorySettings, EventCallback, GuardSettings
from stockade.errors import ConfigError, ConfigIssue, FileFormatError, StockadeError
from stockade.stores.sqlite import parse_sqlite_url


@dataclass(frozen=True, slots=True)
class ProtectedDirectory:
    """A directory as the server sees it: lockout settings plus HTTP Basic authentication."""

    settings: DirectorySettings
    users: Htpasswd
    realm: str
    require_user: frozenset[str] | None

    @property
    def path(self) -> str:
        return self.settings.path


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    raw: ConfigFile
    listen: tuple[ListenAddress, ...]
    document_root: Path | None
    store_url: str
    directories: tuple[ProtectedDirectory, ...]
    audit_json: Path | None
    audit_text: Path | None

    @property
    def base(self) -> Path:
        return self.path.parent

    def guard_settings(self) -> GuardSettings:
        return GuardSettings(
            directories=tuple(d.settings for d in self.directories),
            listeners=tuple(a.listener for a in self.listen),
        )


def load_config(path: str | Path, *, callbacks: Mapping[str, EventCallback] | None = None) -> Config:
    """Read and validate ``path``; raises :class:`ConfigError` listing every problem.

    ``callbacks`` maps names used in ``callback = ...`` to callables, for callers that
    pass functions instead of import paths.
    """
    path = Path(path).absolute()
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(file, [ConfigIssue("", f"cannot read the file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(file, [ConfigIssue("", "the file is not valid UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [ConfigIssue("", f"not valid TOML: {exc}")]) from None
    try:
        raw = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(file, [_issue(e) for e in exc.errors()]) from None
    return _resolve(path, raw, callbacks or {})


def _issue(error: Mapping[str, object]) -> ConfigIssue:
    loc = error.get("loc", ())
    parts: list[str] = []
    for item in loc if isinstance(loc, tuple) else ():
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-before[_count_or_infinity()]", "function-after"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "extra_forbidden":
        message = "unknown key"
    elif error.get("type") == "missing":
        message = "required key is missing"
    has_value = error.get("type") not in ("missing",)
    return ConfigIssue("".join(parts), message, error.get("input"), has_value)


def _resolve(path: Path, raw: ConfigFile, callbacks: Mapping[str, EventCallback]) -> Config:
    base = path.parent
    issues: list[ConfigIssue] = []

    def check(field: str, value: object, action: Callable[[], object]) -> object:
        try:
            return action()
        except FileFormatError as exc:
            issues.append(ConfigIssue(field, str(exc), value, True))
        except (StockadeError, ValueError) as exc:
            issues.append(ConfigIssue(field, str(exc), value, True))
        return None

    listen: list[ListenAddress] = []
    for i, spec in enumerate(raw.server.listen):
        parsed = check(f"server.listen[{i}]", spec, lambda spec=spec: parse_listen(spec))
        if isinstance(parsed, ListenAddress):
            listen.append(parsed)

    document_root = None
    if raw.server.document_root is not None:
        document_root = (base / raw.server.document_root).resolve()
        if not document_root.is_dir():
            issues.append(
                ConfigIssue("server.document_root", "is not a directory", str(document_root), True)
            )

    store_url = raw.store.url
    if store_url.startswith("sqlite:"):
        parsed_url = check("store.url", store_url, lambda: parse_sqlite_url(store_url))
        if isinstance(parsed_url, tuple) and not parsed_url[0].is_absolute():
            store_url = "sqlite:///" + str(base / parsed_url[0]) + _query(store_url)
    elif not store_url.startswith("memory:"):
        issues.append(ConfigIssue("store.url", "unsupported store: expected sqlite:///path.db or memory://", store_url, True))

    directories: list[ProtectedDirectory] = []
    seen: dict[str, int] = {}
    for i, section in enumerate(raw.directory):
        where = f"directory[{i}]"
        normalized = normalize_directory(section.path)
        if normalized in seen:
            issues.append(
                ConfigIssue(f"{where}.path", f"same directory as directory[{seen[normalized]}]", section.path, True)
            )
        seen.setdefault(normalized, i)
        users_path = base / section.auth_user_file
        users = check(f"{where}.auth_user_file", section.auth_user_file, lambda p=users_path: Htpasswd.load(p))
        fns: list[EventCallback] = []
        for j, name in enumerate(section.callback):
            fn = callbacks.get(name) or check(f"{where}.callback[{j}]", name, lambda n=name: resolve_callback(n))
            if callable(fn):
                fns.append(fn)
        if isinstance(users, Htpasswd):
            directories.append(_directory(section, normalized, users, tuple(fns)))

    audit_json = base / raw.audit.json_file if raw.audit.json_file else None
    audit_text = base / raw.audit.text_file if raw.audit.text_file else None
    if issues:
        raise ConfigError(str(path), issues)
    return Config(
        path=path,
        raw=raw,
        listen=tuple(listen),
        document_root=document_root,
        store_url=store_url,
        directories=tuple(directories),
        audit_json=audit_json,
        audit_text=audit_text,
    )


def _directory(
    section: DirectorySection, path: str, users: Htpasswd, callbacks: tuple[EventCallback, ...]
) -> ProtectedDirectory:
    policy = LockoutPolicy(
        max_retries=section.max_retries,
        block_time=seconds_setting(section.block_time),
        fail_expire_time=seconds_setting(section.fail_expire_time),
        auth_timeout=section.auth_timeout,
    )
    settings = DirectorySettings(
        path=path,
        policy=policy,
        lockout_by=section.lockout_by,
        blocked_status=section.blocked_status,
        callbacks=callbacks,
    )
    required = frozenset(section.require_user) if section.require_user is not None else None
    return ProtectedDirectory(settings, users, section.auth_name, required)


def _query(url: str) -> str:
    _, sep, query = url.partition("?")
    return sep + query
