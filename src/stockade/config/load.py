"""Load a configuration file and every file it names, reporting all problems at once.

Each section is validated on its own, so a typo in one ``[[directory]]`` does not hide a
missing htpasswd file in the next: the one :class:`ConfigError` lists every problem with
its field path (``directory[1].max_retries``), the bad value and what is accepted.

Relative paths (document root, htpasswd files, SQLite data file, audit logs) are
resolved against the directory of the configuration file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from stockade.accesslogs.settings import DEFAULT_FIELDS, FIELD_NAMES, LogSettings
from stockade.auth.htpasswd import Htpasswd
from stockade.conditions import ConditionError, RuleList, compile_condition
from stockade.config.paths import data_file_problem, existing_ancestor, write_problem
from stockade.config.schema import (
    AdminSection,
    AuditSection,
    BansSection,
    BlockSection,
    ConfigFile,
    DecisionSection,
    DirectorySection,
    ListenerTable,
    LockoutSection,
    LogSection,
    LogsSection,
    ProxySection,
    Section,
    ServerSection,
    StoreSection,
)
from stockade.core.bans import BanPolicy
from stockade.core.client_ip import XFF
from stockade.core.detection import BUILTIN, BUILTIN_NAMES, LEGACY_NAMES, Detector, builtin_rules
from stockade.core.directories import normalize_directory
from stockade.core.lockout import LockoutPolicy, seconds_setting
from stockade.decision.settings import DecisionSettings
from stockade.detection import CATEGORIES, PROFILES, Engine, Rule, load_pack
from stockade.detection import Settings as DetectionSettings
from stockade.engine.events import callback_issue, resolve_callback
from stockade.engine.settings import (
    NO_LISTENER,
    BanSettings,
    DirectorySettings,
    ErrorPolicy,
    EventCallback,
    GuardSettings,
    Listener,
    ResponseRule,
)
from stockade.errors import BlockFileError, ConfigError, ConfigIssue, FileFormatError, InvalidArgument
from stockade.ipsets import load_blocklist
from stockade.netaddr import NetworkSet
from stockade.request.paths import PathPolicy
from stockade.rules import BlockReloader, HostTable
from stockade.rules.bfe_conf import load_module_conf
from stockade.rules.block import BlockTable
from stockade.rules.rule_file import load_rule_file
from stockade.server.listen import ListenAddress, parse_listen
from stockade.server.settings import (
    AdminSettings,
    Limits,
    ListenerSpec,
    Route,
    TlsSettings,
    TrustedProxies,
    UpstreamSettings,
)
from stockade.stores import open_store
from stockade.stores.redis import is_redis_url, parse_redis_url, redact
from stockade.stores.sqlite import parse_sqlite_url

S = TypeVar("S", bound=Section)
T = TypeVar("T")

_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at (?P<where>line \d+, column \d+|end of document)\)$", re.DOTALL)
_SECTIONS: dict[str, type[Section]] = {
    "server": ServerSection,
    "log": LogSection,
    "store": StoreSection,
    "audit": AuditSection,
    "proxy": ProxySection,
    "admin": AdminSection,
    "lockout": LockoutSection,
    "bans": BansSection,
    "block": BlockSection,
    "decision": DecisionSection,
    "logs": LogsSection,
}
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
MIN_TOKEN_LENGTH = 16
PROXY_PROTOCOL_UNTRUSTED = (
    "a PROXY header is believed only from the proxies in front: name them in this listener,"
    ' proxy_protocol_from = ["10.0.0.5"] (addresses or networks), or in [proxy] trusted'
)
_GENERIC_MESSAGES = {
    "missing": "required key is missing",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "list_type": "expected an array",
    "dict_type": "expected a table",
    "model_type": "expected a table",
}


@dataclass(frozen=True, slots=True)
class ProtectedDirectory:
    """A directory as the server sees it: lockout settings plus HTTP Basic authentication."""

    settings: DirectorySettings
    users: Htpasswd
    realm: str
    require_user: frozenset[str] | None
    store_url: str | None = None  # ``data_file``: this directory's own SQLite store

    @property
    def path(self) -> str:
        return self.settings.path


@dataclass(frozen=True, slots=True)
class BlockConfig:
    """BFE mod_block: the two data files, the host table, and the files loaded (unless asked not to)."""

    rules_path: str
    blocklist_path: str
    hosts: HostTable
    close_status: int = 403
    watch: bool = True
    loaded: BlockReloader | None = None

    def reloader(self) -> BlockReloader:
        """The loaded files, or a fresh load of them."""
        return self.loaded if self.loaded is not None else BlockReloader.open(self.rules_path, self.blocklist_path)


@dataclass(frozen=True, slots=True)
class DecisionConfig:
    """The decision endpoint: its listeners and who may ask."""

    listen: tuple[ListenAddress, ...]
    settings: DecisionSettings


@dataclass(frozen=True, slots=True)
class Config:
    """A validated configuration with every path resolved and every named file loaded."""

    path: Path
    raw: ConfigFile
    listen: tuple[ListenAddress, ...]
    document_root: Path | None
    store_url: str
    directories: tuple[ProtectedDirectory, ...]
    audit_json: Path | None
    audit_text: Path | None
    listeners: tuple[ListenerSpec, ...] = ()
    upstream: UpstreamSettings | None = None
    routes: tuple[Route, ...] = ()
    limits: Limits = field(default_factory=Limits)
    access_log: Path | None = None
    access_log_stdout: bool = False
    trusted: TrustedProxies = field(default_factory=TrustedProxies)
    admin: AdminSettings | None = None
    bans: BanSettings | None = None
    block: BlockConfig | None = None
    paths: PathPolicy = field(default_factory=PathPolicy)
    decision: DecisionConfig | None = None
    logs: LogSettings | None = None
    # Settings that still work but mean something else now: what to write instead.
    notices: tuple[ConfigIssue, ...] = ()

    @property
    def base(self) -> Path:
        return self.path.parent

    @property
    def directory_store_urls(self) -> dict[str, str]:
        """The directories that keep their records in a data file of their own, and its URL."""
        return {d.path: d.store_url for d in self.directories if d.store_url is not None}

    def lockout_listeners(self, listen: Sequence[ListenAddress] | None = None) -> tuple[Listener, ...]:
        """The listeners lockout records are kept per: the site's (``listen``, default the configured
        ones) and, with a decision endpoint, the listener-less one its decisions use."""
        listeners = tuple(a.listener for a in (self.listen if listen is None else listen))
        return (*listeners, NO_LISTENER) if self.decision is not None else listeners

    def guard_settings(self) -> GuardSettings:
        on_error = self.raw.store.on_error
        return GuardSettings(
            directories=tuple(d.settings for d in self.directories),
            listeners=self.lockout_listeners(),
            lockout_scope=self.raw.lockout.scope,
            on_error=ErrorPolicy(lockout=on_error.lockout, bans=on_error.bans),
            bans=self.bans,
        )


def load_config(
    path: str | Path,
    *,
    callbacks: Mapping[str, EventCallback] | None = None,
    load_block: bool = True,
    import_callbacks: bool = True,
    thorough: bool = False,
) -> Config:
    """Read and validate ``path``; raises :class:`ConfigError` listing every problem.

    ``callbacks`` maps names used in ``callback = ...`` to callables, for callers that
    pass functions instead of import paths. ``load_block=False`` only checks that the
    mod_block files exist, for commands that do not use them (a blocklist of a million
    entries takes seconds to load). ``import_callbacks=False`` never imports a callback
    module (the settings then have no callbacks), for administration commands that must
    work even when a callback's module is missing and for backtests that must not call them.
    ``thorough`` also checks that every file the configuration writes can be written, and
    the integrity of existing SQLite data files (:mod:`stockade.config.paths`), as
    ``stockade check`` does.
    """
    path = Path(path).absolute()
    loader = _Loader(path, callbacks or {}, load_block=load_block, import_callbacks=import_callbacks, thorough=thorough)
    return loader.load(_read_toml(path))


def _read_toml(path: Path) -> dict[str, Any]:
    file = str(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(file, [ConfigIssue("", f"cannot read the file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(file, [ConfigIssue("", "the file is not valid UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.match(str(exc))
        where, message = (match["where"], match["message"]) if match else ("", str(exc))
        raise ConfigError(file, [ConfigIssue(where, f"not valid TOML: {message}")]) from None


def _issue(error: Mapping[str, Any], prefix: str, model: type[Section]) -> ConfigIssue:
    """A pydantic error of one section, as a path like ``directory[0].max_retries``.

    The first location item is a key of the section; later integers index into an array
    and later strings are keys of a nested table (``store.on_error.lockout``). Other items
    are pydantic's union tags and are not part of the path.
    """
    loc = tuple(error.get("loc", ()))
    path = prefix
    table = model
    for depth, item in enumerate(loc):
        if isinstance(item, int):
            path += f"[{item}]"
            continue
        if depth and (item not in table.model_fields and error.get("type") != "extra_forbidden"):
            continue
        path += f".{item}" if path else str(item)
        nested = _table(table, str(item))
        if nested is not None and depth + 1 < len(loc):
            table = nested
    kind = error.get("type")
    if kind == "extra_forbidden":
        return ConfigIssue(path, f"unknown key: expected one of {', '.join(_keys(table))}")
    message = _GENERIC_MESSAGES.get(str(kind), str(error.get("msg", "invalid value")))
    return ConfigIssue(path, message, error.get("input"), kind != "missing")


def _table(model: type[Section], key: str) -> type[Section] | None:
    """The model of ``model.key`` when that key is a nested table."""
    info = model.model_fields.get(key)
    kinds = (info.annotation, *typing.get_args(info.annotation)) if info is not None else ()
    return next((kind for kind in kinds if isinstance(kind, type) and issubclass(kind, Section)), None)


_SECTION_PATH = re.compile(
    r"^(server|log|store|audit|proxy|admin|lockout|bans|block|decision|logs|directory\[(\d+)\])(?:\.|\[|$)"
)


def _document_order(issue: ConfigIssue) -> tuple[int, int]:
    """Sort key: issues of one section together, sections in the order of the file's layout."""
    head = _SECTION_PATH.match(issue.path)
    if head is None:
        return (0, 0)
    if head[2] is not None:
        return (len(_SECTIONS) + 1, int(head[2]))
    return (list(_SECTIONS).index(head[1]) + 1, 0)


def _keys(model: type[Section]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


class _Loader:
    """One load: the issues found so far and the files already read."""

    def __init__(
        self,
        path: Path,
        callbacks: Mapping[str, EventCallback],
        *,
        load_block: bool = True,
        import_callbacks: bool = True,
        thorough: bool = False,
    ) -> None:
        self.path = path
        self.load_block = load_block
        self.import_callbacks = import_callbacks
        self.thorough = thorough
        # The files the configuration writes: (field, file, an SQLite data file?), checked when thorough.
        self._written: list[tuple[str, Path, bool]] = []
        self.base = path.parent
        self.callbacks = callbacks
        self.issues: list[ConfigIssue] = []
        self.notices: list[ConfigIssue] = []
        self._users: dict[Path, Htpasswd | ConfigIssue] = {}

    def load(self, data: dict[str, Any]) -> Config:
        for key in data:
            if key not in _SECTIONS and key != "directory":
                self.issues.append(ConfigIssue(key, f"unknown key: expected one of {', '.join(_keys(ConfigFile))}"))
        server = self._section(ServerSection, data, "server")
        log = self._section(LogSection, data, "log")
        store = self._section(StoreSection, data, "store")
        audit = self._section(AuditSection, data, "audit")
        proxy = self._section(ProxySection, data, "proxy")
        admin = self._section(AdminSection, data, "admin") if "admin" in data else None
        lockout = self._section(LockoutSection, data, "lockout")
        bans = self._section(BansSection, data, "bans") if "bans" in data else None
        block = self._section(BlockSection, data, "block") if "block" in data else None
        decision = self._section(DecisionSection, data, "decision") if "decision" in data else None
        logs = self._section(LogsSection, data, "logs") if "logs" in data else None
        raw_dirs = data.get("directory", [])
        if not isinstance(raw_dirs, list):
            self.issues.append(ConfigIssue("directory", "expected an array of tables ([[directory]])", raw_dirs, True))
            raw_dirs = []
        sections = [self._validate(DirectorySection, item, f"directory[{i}]") for i, item in enumerate(raw_dirs)]

        trusted = self._trusted(proxy, data) if proxy else TrustedProxies()
        listeners = self._listen(server, data, trusted, bool(proxy and proxy.trusted)) if server else ()
        document_root = self._document_root(server) if server else None
        upstream = self._upstream(server) if server else None
        routes = self._routes(server) if server else ()
        access_log = self._access_log(server) if server else None
        admin_settings = self._admin(admin)
        ban_settings = self._bans(bans, data) if bans is not None else None
        block_settings = self._block(block) if block is not None else None
        store_url = self._store_url(store) if store else ""
        audit_json = self._audit_file(audit, "json", audit.json_file) if audit else None
        audit_text = self._audit_file(audit, "text", audit.text_file) if audit else None
        directories = self._directories(sections, raw_dirs)
        decision_config = self._decision(decision, data, trusted, listeners, admin_settings) if decision else None
        log_settings = self._logs(logs, data, decision is not None) if logs is not None else None
        if self.thorough:
            self._check_written()

        if (
            self.issues
            or server is None
            or log is None
            or store is None
            or audit is None
            or proxy is None
            or lockout is None
        ):
            raise ConfigError(str(self.path), sorted(self.issues, key=_document_order))
        valid_sections = [s for s in sections if s is not None]
        return Config(
            path=self.path,
            raw=ConfigFile(
                server=server,
                log=log,
                store=store,
                audit=audit,
                proxy=proxy,
                admin=admin,
                lockout=lockout,
                bans=bans,
                block=block,
                decision=decision,
                logs=logs,
                directory=valid_sections,
            ),
            listen=tuple(spec.address for spec in listeners),
            document_root=document_root,
            store_url=store_url,
            directories=directories,
            audit_json=audit_json,
            audit_text=audit_text,
            listeners=listeners,
            upstream=upstream,
            routes=routes,
            limits=self._limits(server),
            access_log=access_log,
            access_log_stdout=server.access_log == "-",
            trusted=trusted,
            admin=admin_settings,
            bans=ban_settings,
            block=block_settings,
            paths=PathPolicy(merge_slashes=server.merge_slashes, escaped_slashes=server.escaped_slashes),
            decision=decision_config,
            logs=log_settings,
            notices=tuple(self.notices),
        )

    # -- sections ---------------------------------------------------------------------------

    def _section(self, model: type[S], data: Mapping[str, Any], key: str) -> S | None:
        return self._validate(model, data.get(key, {}), key)

    def _validate(self, model: type[S], value: object, where: str) -> S | None:
        if not isinstance(value, dict):
            self.issues.append(ConfigIssue(where, "expected a table", value, True))
            return None
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            errors = exc.errors()
            self.issues.extend(_issue(e, where, model) for e in errors)
        # Check what the valid keys name too (files, callbacks), so that every problem shows at once;
        # without a required key there is nothing to check.
        bad = {e["loc"][0] for e in errors if e["loc"]}
        try:
            return model.model_validate({k: v for k, v in value.items() if k not in bad})
        except ValidationError:
            return None

    def _listen(
        self, server: ServerSection, data: Mapping[str, Any], trusted: TrustedProxies, trusted_given: bool
    ) -> tuple[ListenerSpec, ...]:
        raw = data.get("server", {}).get("listen")
        single = isinstance(raw, str | dict)
        listeners: list[ListenerSpec] = []
        first: dict[ListenAddress, str] = {}
        for i, raw_item in enumerate(server.listen):
            where = "server.listen" if single else f"server.listen[{i}]"
            item = raw_item if isinstance(raw_item, str) else self._validate(ListenerTable, raw_item, where)
            if item is None:
                continue
            text = item if isinstance(item, str) else item.address
            try:
                address = parse_listen(text)
            except ValueError as exc:
                self.issues.append(
                    ConfigIssue(where if isinstance(item, str) else f"{where}.address", str(exc), text, True)
                )
                continue
            if address in first and address.port != 0:
                self.issues.append(ConfigIssue(where, f"same address as {first[address]}", text, True))
                continue
            first.setdefault(address, where)
            if isinstance(item, str):
                listeners.append(ListenerSpec(address))
                continue
            tls = self._tls(where, item)
            raw_table = raw_item if isinstance(raw_item, dict) else {}
            proxy_from = self._proxy_protocol_from(where, item, raw_table, trusted, trusted_given)
            listeners.append(ListenerSpec(address, tls, item.proxy_protocol, proxy_from))
        return tuple(listeners)

    def _proxy_protocol_from(
        self, where: str, item: ListenerTable, raw: Mapping[str, Any], trusted: TrustedProxies, trusted_given: bool
    ) -> tuple[str, ...]:
        """The peers allowed to send this listener a PROXY header: its own list, else ``[proxy] trusted``."""
        if item.proxy_protocol_from is None:
            if item.proxy_protocol != "off" and not trusted_given:
                self.issues.append(ConfigIssue(f"{where}.proxy_protocol", PROXY_PROTOCOL_UNTRUSTED))
            return trusted.networks if item.proxy_protocol != "off" else ()
        field_where = f"{where}.proxy_protocol_from"
        if item.proxy_protocol == "off":
            self.issues.append(ConfigIssue(field_where, 'needs proxy_protocol = "v1", "v2" or "any"'))
        single = isinstance(raw.get("proxy_protocol_from"), str)
        networks: list[str] = []
        for i, text in enumerate(item.proxy_protocol_from):
            try:
                networks.append(str(ipaddress.ip_network(text.strip(), strict=False)))
            except ValueError:
                self.issues.append(
                    ConfigIssue(
                        field_where if single else f"{field_where}[{i}]",
                        "expected an IP address or a CIDR network like 10.0.0.0/8",
                        text,
                        True,
                    )
                )
        if not item.proxy_protocol_from and item.proxy_protocol != "off":
            self.issues.append(ConfigIssue(field_where, PROXY_PROTOCOL_UNTRUSTED))
        return tuple(networks)

    def _tls(self, where: str, item: ListenerTable) -> TlsSettings | None:
        if item.certfile is None and item.keyfile is None:
            if item.client_ca is not None or item.client_auth != "none":
                self.issues.append(ConfigIssue(where, "client certificates need certfile and keyfile (TLS)"))
            if "http2" in item.model_fields_set:
                self.issues.append(ConfigIssue(f"{where}.http2", "HTTP/2 is offered on TLS listeners only"))
            return None
        if item.certfile is None or item.keyfile is None:
            self.issues.append(ConfigIssue(where, "expected both certfile and keyfile for a TLS listener"))
            return None
        certfile = self._readable(f"{where}.certfile", item.certfile)
        keyfile = self._readable(f"{where}.keyfile", item.keyfile)
        client_ca = None if item.client_ca is None else self._readable(f"{where}.client_ca", item.client_ca)
        if item.client_auth != "none" and client_ca is None:
            self.issues.append(
                ConfigIssue(f"{where}.client_auth", "expected client_ca as well", item.client_auth, True)
            )
        return TlsSettings(certfile, keyfile, client_ca, item.client_auth, item.http2)

    def _readable(self, where: str, name: str) -> Path:
        file = (self.base / name).resolve()
        if not file.is_file():
            self.issues.append(ConfigIssue(where, "expected a readable file", str(file), True))
        return file

    def _upstream(self, server: ServerSection) -> UpstreamSettings | None:
        table = server.upstream
        if table is None:
            return None
        parts = urlsplit(table.url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "http" or not parts.hostname or port == -1 or parts.query or parts.fragment:
            self.issues.append(
                ConfigIssue(
                    "server.upstream", "expected http://host:port or http://host:port/base/path", table.url, True
                )
            )
        return UpstreamSettings(
            url=table.url,
            connect_timeout=table.connect_timeout,
            read_timeout=table.read_timeout,
            max_idle_connections=table.max_idle_connections,
        )

    def _routes(self, server: ServerSection) -> tuple[Route, ...]:
        routes: list[Route] = []
        for i, table in enumerate(server.route):
            if table.to == "files" and server.document_root is None:
                self.issues.append(ConfigIssue(f"server.route[{i}].to", "needs server.document_root", "files", True))
            if table.to == "upstream" and server.upstream is None:
                self.issues.append(ConfigIssue(f"server.route[{i}].to", "needs server.upstream", "upstream", True))
            routes.append(Route(normalize_directory(table.path), table.to))
        return tuple(routes)

    def _limits(self, server: ServerSection) -> Limits:
        limits = server.limits
        return Limits(
            max_header_bytes=limits.max_header_bytes,
            max_body_bytes=limits.max_body_bytes,
            header_timeout=limits.header_timeout,
            body_timeout=limits.body_timeout,
            keepalive_timeout=limits.keepalive_timeout,
            drain_timeout=limits.drain_timeout,
        )

    def _access_log(self, server: ServerSection) -> Path | None:
        if server.access_log is None or server.access_log == "-":
            return None
        file = (self.base / server.access_log).resolve()
        if file.is_dir() or not file.parent.is_dir():
            self.issues.append(
                ConfigIssue("server.access_log", 'expected a file in an existing directory, or "-"', str(file), True)
            )
        else:
            self._written.append(("server.access_log", file, False))
        return file

    def _trusted(self, proxy: ProxySection, data: Mapping[str, Any]) -> TrustedProxies:
        single = isinstance(data.get("proxy", {}).get("trusted"), str)
        networks: list[str] = []
        for i, text in enumerate(proxy.trusted):
            try:
                networks.append(str(ipaddress.ip_network(text.strip(), strict=False)))
            except ValueError:
                where = "proxy.trusted" if single else f"proxy.trusted[{i}]"
                self.issues.append(
                    ConfigIssue(where, "expected an IP address or a CIDR network like 10.0.0.0/8", text, True)
                )
        return TrustedProxies(tuple(networks), self._forwarding_header(proxy))

    def _forwarding_header(self, proxy: ProxySection) -> str:
        if proxy.headers is None:
            return proxy.header or XFF
        if proxy.header is not None:
            self.issues.append(ConfigIssue("proxy.headers", "give either header or headers (the old name), not both"))
            return proxy.header
        if not proxy.headers:
            self.issues.append(ConfigIssue("proxy.headers", 'expected one header, e.g. header = "x-forwarded-for"'))
            return XFF
        first = proxy.headers[0]
        if len(proxy.headers) > 1:
            self.notices.append(
                ConfigIssue(
                    "proxy.headers",
                    f'only one forwarding header is read now, the first of the list: write header = "{first}"',
                )
            )
        return first

    def _admin(self, admin: AdminSection | None) -> AdminSettings | None:
        if admin is None:
            return None
        try:
            address = parse_listen(admin.listen)
        except ValueError as exc:
            self.issues.append(ConfigIssue("admin.listen", str(exc), admin.listen, True))
            address = ListenAddress("127.0.0.1", 9180)
        sources = [name for name in ("token", "token_file", "token_env") if getattr(admin, name) is not None]
        if len(sources) != 1:
            self.issues.append(ConfigIssue("admin", "expected exactly one of token, token_file or token_env"))
            return AdminSettings(address)
        token = ""
        if admin.token is not None:
            token = admin.token
        elif admin.token_file is not None:
            file = (self.base / admin.token_file).resolve()
            try:
                token = file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.issues.append(ConfigIssue("admin.token_file", f"cannot read the token: {reason}", str(file), True))
                return AdminSettings(address)
        elif admin.token_env is not None:
            token = os.environ.get(admin.token_env, "").strip()
            if not token:
                self.issues.append(
                    ConfigIssue("admin.token_env", "the environment variable is not set", admin.token_env, True)
                )
                return AdminSettings(address)
        if len(token) < MIN_TOKEN_LENGTH:
            # The value itself is never shown: it is a secret even when it is a bad one.
            self.issues.append(
                ConfigIssue(f"admin.{sources[0]}", f"expected a token of at least {MIN_TOKEN_LENGTH} characters")
            )
        return AdminSettings(address, token)

    def _document_root(self, server: ServerSection) -> Path | None:
        if server.document_root is None:
            return None
        root = (self.base / server.document_root).resolve()
        if not root.is_dir():
            self.issues.append(ConfigIssue("server.document_root", "expected an existing directory", str(root), True))
        return root

    def _store_url(self, store: StoreSection) -> str:
        url = store.url
        scheme = urlsplit(url).scheme
        if is_redis_url(url):
            try:
                parse_redis_url(url)
                return url
            except InvalidArgument as exc:
                self.issues.append(ConfigIssue("store.url", str(exc)))
                return url
        if scheme not in ("sqlite", "memory"):
            self.issues.append(
                ConfigIssue(
                    "store.url",
                    "expected sqlite:///path.db (relative to this file), memory://, redis://, rediss://,"
                    " redis+sentinel:// or redis+cluster://",
                    redact(url),
                    True,
                )
            )
            return url
        try:
            if scheme == "memory":
                open_store(url).close()
                return url
            file, _, _ = parse_sqlite_url(url)
        except InvalidArgument as exc:
            message = f"expected {exc.accepted}" if exc.value == url else str(exc)
            self.issues.append(ConfigIssue("store.url", message, url, True))
            return url
        file = self.base / file
        if not file.parent.is_dir():
            self.issues.append(
                ConfigIssue("store.url", f"expected a file in an existing directory: {file.parent} is not", url, True)
            )
        else:
            self._written.append(("store.url", file, True))
        _, sep, query = url.partition("?")
        return f"sqlite:///{file}{sep}{query}"

    def _audit_file(self, audit: AuditSection, key: str, name: str | None) -> Path | None:
        if name is None:
            return None
        file = (self.base / name).resolve()
        if file.is_dir():
            self.issues.append(ConfigIssue(f"audit.{key}", "expected a file, not a directory", str(file), True))
        elif not existing_ancestor(file).is_dir():
            # The audit log creates its missing directories, but none can be made under a file.
            problem = f"expected a file in a directory: {existing_ancestor(file)} is not a directory"
            self.issues.append(ConfigIssue(f"audit.{key}", problem, name, True))
        else:
            self._written.append((f"audit.{key}", file, False))
        return file

    def _check_written(self) -> None:
        """Every file the configuration writes can be written; existing data files are sound (each file once)."""
        seen: set[Path] = set()
        for where, file, data in self._written:
            if file in seen:
                continue
            seen.add(file)
            problem = data_file_problem(file) if data else write_problem(file)
            if problem is not None:
                self.issues.append(ConfigIssue(where, problem))

    # -- the decision endpoint and the access logs ------------------------------------------------

    def _decision(
        self,
        decision: DecisionSection,
        data: Mapping[str, Any],
        trusted: TrustedProxies,
        listeners: tuple[ListenerSpec, ...],
        admin: AdminSettings | None,
    ) -> DecisionConfig:
        raw = data.get("decision", {})
        single = isinstance(raw.get("listen"), str)
        taken = {spec.address: "server.listen" for spec in listeners}
        if admin is not None:
            taken[admin.listen] = "admin.listen"
        addresses: list[ListenAddress] = []
        for i, text in enumerate(decision.listen):
            where = "decision.listen" if single else f"decision.listen[{i}]"
            try:
                address = parse_listen(text)
            except ValueError as exc:
                self.issues.append(ConfigIssue(where, str(exc), text, True))
                continue
            if address in taken and address.port != 0:
                self.issues.append(ConfigIssue(where, f"same address as {taken[address]}", text, True))
                continue
            taken[address] = where
            addresses.append(address)
        proxies: list[str] = []
        single = isinstance(raw.get("proxies"), str)
        for i, text in enumerate(decision.proxies):
            try:
                proxies.append(str(ipaddress.ip_network(text.strip(), strict=False)))
            except ValueError:
                where = "decision.proxies" if single else f"decision.proxies[{i}]"
                self.issues.append(
                    ConfigIssue(where, "expected an IP address or a CIDR network like 10.0.0.0/8", text, True)
                )
        if not decision.proxies:
            self.issues.append(
                ConfigIssue("decision.proxies", 'expected the proxies that may ask, like ["127.0.0.1"]', [], True)
            )
        # Not [proxy] header: a proxy passes its client's own headers along with its check
        # request, and only X-Forwarded-For, which the proxy appends to, is walked past them.
        header = decision.client_header or XFF
        return DecisionConfig(tuple(addresses), DecisionSettings(tuple(proxies), header))

    def _logs(self, logs: LogsSection, data: Mapping[str, Any], decision: bool) -> LogSettings:
        raw = data.get("logs", {})
        single = isinstance(raw.get("files"), str)
        files: list[Path] = []
        for i, name in enumerate(logs.files):
            file = (self.base / name).resolve()
            if file.is_dir() or not file.parent.is_dir():
                where = "logs.files" if single else f"logs.files[{i}]"
                self.issues.append(ConfigIssue(where, "expected a file in an existing directory", str(file), True))
                continue
            files.append(file)
        if not logs.files:
            self.issues.append(ConfigIssue("logs.files", "expected the access logs to follow", [], True))
        fields = dict(DEFAULT_FIELDS)
        for name, key in logs.fields.items():
            if name not in DEFAULT_FIELDS:
                self.issues.append(
                    ConfigIssue(f"logs.fields.{name}", f"unknown field: expected one of {', '.join(FIELD_NAMES)}")
                )
                continue
            fields[name] = key
        if logs.fields and raw.get("format", "combined") == "combined":
            self.issues.append(ConfigIssue("logs.fields", 'only a JSON log has fields: set format = "json"'))
        return LogSettings(
            files=tuple(files),
            format=logs.format,
            fields=fields,
            detect=not decision if logs.detect is None else logs.detect,
            start=logs.start,
            poll_interval=logs.poll_interval,
            rotate_wait=logs.rotate_wait,
            max_line_bytes=logs.max_line_bytes,
        )

    # -- mod_block ------------------------------------------------------------------------------

    def _block(self, block: BlockSection) -> BlockConfig | None:
        if block.conf is not None and (block.rules is not None or block.ip_blocklist is not None):
            self.issues.append(ConfigIssue("block", "expected conf, or rules and ip_blocklist, not both"))
            return None
        hosts_raw = dict(block.hosts)
        default_product = hosts_raw.pop("default_product", None)
        try:
            hosts = HostTable(hosts_raw, default_product)
        except ConfigError as exc:
            self.issues.extend(exc.issues)
            hosts = HostTable({})
        if block.conf is not None:
            conf_file = (self.base / block.conf).resolve()
            try:
                # BFE resolves the data files against the conf root: the parent of mod_block/.
                module = load_module_conf(str(conf_file), str(conf_file.parent.parent))
            except BlockFileError as exc:
                # mod_block.conf lists each of its problems on a line of its own: one issue each.
                self.issues.extend(ConfigIssue("block.conf", line) for line in str(exc).split("\n"))
                return None
            rules_path, blocklist_path = module.product_rule_path, module.ip_blocklist_path
        elif block.rules is not None and block.ip_blocklist is not None:
            rules_path = str((self.base / block.rules).resolve())
            blocklist_path = str((self.base / block.ip_blocklist).resolve())
        else:
            self.issues.append(ConfigIssue("block", "expected conf, or both rules and ip_blocklist"))
            return None
        loaded = None
        if self.load_block:
            # Both files, each on its own, so that a bad blocklist does not hide a bad rule file.
            conf = block.conf is not None
            blocklist = self._block_file("block.conf" if conf else "block.ip_blocklist", load_blocklist, blocklist_path)
            rules = self._block_file("block.conf" if conf else "block.rules", load_rule_file, rules_path)
            if blocklist is None or rules is None:
                return None
            loaded = BlockReloader(BlockTable(rules, blocklist), rules_path, blocklist_path)
        else:
            for where, file in (("block.rules", rules_path), ("block.ip_blocklist", blocklist_path)):
                if not Path(file).is_file():
                    self.issues.append(ConfigIssue(where, "expected a readable file", file, True))
        return BlockConfig(rules_path, blocklist_path, hosts, block.close_status, block.watch, loaded)

    def _block_file(self, where: str, loader: Callable[[str], T], file: str) -> T | None:
        try:
            return loader(file)
        except BlockFileError as exc:
            self.issues.append(ConfigIssue(where, str(exc), cause=exc))
            return None

    # -- bans -----------------------------------------------------------------------------------

    def _bans(self, bans: BansSection, data: Mapping[str, Any]) -> BanSettings:
        raw = data.get("bans", {})
        allow = self._networks("bans.allow", bans.allow, isinstance(raw.get("allow"), str))
        paths, patterns = self._ignore_routes(bans.ignore_routes, isinstance(raw.get("ignore_routes"), str))
        detector_settings, extra = self._detection(bans)
        everything = bans.rules == ["builtin"]
        chosen = () if everything else self._builtin_rules(bans.rules, isinstance(raw.get("rules"), str))
        custom: list[tuple[str, Any]] = []
        names: set[str] = {rule.id for rule in (*BUILTIN, *extra)}
        for i, table in enumerate(bans.additional_rules):
            where = f"bans.additional_rules[{i}]"
            if table.name in names:
                self.issues.append(ConfigIssue(f"{where}.name", "same name as another rule", table.name, True))
            names.add(table.name)
            try:
                custom.append((table.name, compile_condition(table.cond)))
            except ConditionError as exc:
                self.issues.append(ConfigIssue(f"{where}.cond", str(exc)))
        for name, value in bans.resp_headers.items():
            if not _HEADER_NAME.match(name) or any(c in value for c in "\r\n\x00"):
                self.issues.append(
                    ConfigIssue(f"bans.resp_headers.{name}", "expected a header name and a one-line value", value, True)
                )
        escalation = bans.escalation
        policy = BanPolicy(
            threshold=bans.malicious_req_threshold,
            window=bans.window,
            block_duration=bans.block_duration,
            escalation_factor=escalation.factor if escalation else 1.0,
            escalation_max=escalation.max if escalation else bans.block_duration,
            remember=escalation.remember if escalation else 0.0,
        )
        callbacks = self._callbacks("bans", bans.callback, isinstance(raw.get("callback"), str))
        return BanSettings(
            enabled=bans.enabled,
            policy=policy,
            ipv6_prefix=bans.ipv6_prefix,
            allow=allow,
            ignore_paths=paths,
            ignore_patterns=patterns,
            inspect_percentage=bans.inspect_percentage,
            detector=self._detector(everything, chosen, extra, detector_settings, RuleList(custom) if custom else None),
            response_rules=tuple(
                ResponseRule(r.name, frozenset(r.status), r.count, r.window) for r in bans.response_rules
            ),
            resp_status_code=bans.resp_status_code,
            resp_body=bans.resp_body.encode("utf-8"),
            resp_headers=tuple(bans.resp_headers.items()),
            dry_run=bans.dry_run,
            callbacks=callbacks,
        )

    def _detection(self, bans: BansSection) -> tuple[DetectionSettings, tuple[Rule, ...]]:
        """The engine's settings from ``[bans]``; unknown rule ids and profiles are issues."""
        extra: list[Rule] = []
        for i, file in enumerate(bans.rule_files):
            try:
                extra.extend(load_pack(self.base / file))
            except ConfigError as exc:
                for issue in exc.issues:
                    self.issues.append(ConfigIssue(f"bans.rule_files[{i}]", f"{exc.file}: {issue}"))
        known = {rule.id for rule in (*BUILTIN, *extra)}
        for where, ids in (("bans.disabled_rules", bans.disabled_rules), ("bans.rule_scores", list(bans.rule_scores))):
            for rule_id in ids:
                if rule_id not in known:
                    self.issues.append(
                        ConfigIssue(where, "unknown rule id: see `stockade detect rules`", rule_id, True)
                    )
        for i, name in enumerate(bans.profiles):
            if name not in PROFILES:
                self.issues.append(
                    ConfigIssue(f"bans.profiles[{i}]", f"expected one of {', '.join(PROFILES)}", name, True)
                )
        settings = DetectionSettings(
            level=bans.level,
            threshold=bans.threshold,
            disabled=frozenset(r for r in bans.disabled_rules if r in known),
            scores={k: v for k, v in bans.rule_scores.items() if k in known},
            body_limit=bans.body_limit,
            headers=tuple(dict.fromkeys(["user-agent", "referer", *(h.lower() for h in bans.inspect_headers)])),
            profiles=tuple(p for p in bans.profiles if p in PROFILES),
            extra_rules=tuple(extra),
        )
        return settings, tuple(extra)

    @staticmethod
    def _detector(
        everything: bool,
        chosen: tuple[Rule, ...],
        extra: tuple[Rule, ...],
        settings: DetectionSettings,
        custom: RuleList | None,
    ) -> Detector:
        if everything:
            return Detector(Engine(settings), custom)
        return Detector((*chosen, *extra), custom, settings=settings)

    def _builtin_rules(self, names: list[str], single: bool) -> tuple[Rule, ...]:
        """The built-in rules named; every unknown name is an issue, even beside ``"builtin"``."""
        known = {"builtin", *BUILTIN_NAMES, *CATEGORIES, *LEGACY_NAMES}
        accepted = 'expected "builtin", a rule id, a category or a name of the first pack'
        for i, name in enumerate(names):
            if name not in known:
                where = "bans.rules" if single else f"bans.rules[{i}]"
                self.issues.append(ConfigIssue(where, f"unknown rule: {accepted}", name, True))
        return builtin_rules([name for name in names if name in known])

    def _networks(self, where: str, entries: list[str], single: bool) -> NetworkSet:
        good: list[str] = []
        for i, entry in enumerate(entries):
            try:
                NetworkSet.from_strings([entry.strip()])
            except InvalidArgument as exc:
                self.issues.append(
                    ConfigIssue(where if single else f"{where}[{i}]", f"expected {exc.accepted}", entry, True)
                )
                continue
            good.append(entry.strip())
        return NetworkSet.from_strings(good)

    def _ignore_routes(self, entries: list[str], single: bool) -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
        paths: list[str] = []
        patterns: list[re.Pattern[str]] = []
        for i, entry in enumerate(entries):
            where = "bans.ignore_routes" if single else f"bans.ignore_routes[{i}]"
            if entry.startswith("re:"):
                try:
                    patterns.append(re.compile(entry[3:]))
                except re.error as exc:
                    self.issues.append(ConfigIssue(where, f"not a regular expression: {exc}", entry, True))
            elif entry.startswith("/"):
                paths.append(normalize_directory(entry))
            else:
                self.issues.append(ConfigIssue(where, 'expected a path like "/webhooks" or "re:<regexp>"', entry, True))
        return tuple(paths), tuple(patterns)

    # -- directories ------------------------------------------------------------------------

    def _directories(self, sections: list[DirectorySection | None], raw: list[Any]) -> tuple[ProtectedDirectory, ...]:
        directories: list[ProtectedDirectory] = []
        seen: dict[str, int] = {}
        for i, section in enumerate(sections):
            if section is None:
                continue
            where = f"directory[{i}]"
            normalized = normalize_directory(section.path)
            if normalized in seen:
                message = f"same directory as directory[{seen[normalized]}]"
                self.issues.append(ConfigIssue(f"{where}.path", message, section.path, True))
            seen.setdefault(normalized, i)
            users = self._htpasswd(f"{where}.auth_user_file", section.auth_user_file)
            single = isinstance(raw[i].get("callback"), str)
            functions = self._callbacks(where, section.callback, single)
            store_url = self._data_file(f"{where}.data_file", section.data_file)
            if users is not None:
                directories.append(_directory(section, normalized, users, functions, store_url))
        return tuple(directories)

    def _data_file(self, where: str, name: str | None) -> str | None:
        if name is None:
            return None
        file = (self.base / name).resolve()
        if file.is_dir() or not file.parent.is_dir():
            self.issues.append(ConfigIssue(where, "expected a file in an existing directory", str(file), True))
        else:
            self._written.append((where, file, True))
        return f"sqlite:///{file}"

    def _htpasswd(self, where: str, name: str) -> Htpasswd | None:
        file = (self.base / name).resolve()
        if file not in self._users:
            self._users[file] = _read_htpasswd(file, name)
        loaded = self._users[file]
        if isinstance(loaded, ConfigIssue):
            self.issues.append(ConfigIssue(where, loaded.message, loaded.value, loaded.has_value))
            return None
        return loaded

    def _callbacks(self, where: str, names: list[str], single: bool) -> tuple[EventCallback, ...]:
        functions: list[EventCallback] = []
        for j, name in enumerate(names):
            given = self.callbacks.get(name)
            if given is not None:
                functions.append(given)
                continue
            if not self.import_callbacks:
                continue
            try:
                functions.append(resolve_callback(name))
            except ValueError as exc:
                self.issues.append(callback_issue(f"{where}.callback" + ("" if single else f"[{j}]"), name, str(exc)))
        return tuple(functions)


def _read_htpasswd(file: Path, name: str) -> Htpasswd | ConfigIssue:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        return ConfigIssue("", f"cannot read {file}: {exc.strerror or exc}", name, True)
    try:
        return Htpasswd.from_bytes(file, raw)
    except FileFormatError as exc:
        return ConfigIssue("", str(exc))


def _directory(
    section: DirectorySection,
    path: str,
    users: Htpasswd,
    callbacks: tuple[EventCallback, ...],
    store_url: str | None,
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
    return ProtectedDirectory(settings, users, section.auth_name, required, store_url)
