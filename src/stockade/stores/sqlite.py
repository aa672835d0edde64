"""SQLite data file store: the embedded default, safe for several processes on one host.

Each transition runs in one ``BEGIN IMMEDIATE`` transaction, which takes the database's
write lock before reading, so concurrent workers apply transitions one after another and
counts stay exact. The file uses WAL with ``synchronous=FULL`` by default (``NORMAL`` on
request: it survives a killed process but not a power cut). The schema is versioned by
numbered migrations keyed on ``PRAGMA user_version``.

Workers on one host see each other's changes without a query per request: every write
appends the keys it changed to the ``changes`` table (with the writer's ``origin``), and
before answering a login or a ban from its local view (:mod:`stockade.stores.view`) a
store asks its second, read-only connection for ``PRAGMA data_version``, which changes
only when another connection has committed; only then does it read the new ``changes``
rows. It asks at most once every :data:`CATCH_UP_SECONDS` (the question costs four system
calls, more than the rest of a clean request), so another worker's change is seen within
a millisecond, as Redis's feed delivers one. The table keeps the newest
:data:`CHANGES_KEPT` rows; a store that fell further behind forgets its view and starts
afresh.

URL forms: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, with optional
query parameters ``synchronous=full|normal`` and ``busy_timeout`` (milliseconds).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from stockade.clock import monotonic
from stockade.core.bans import BanState
from stockade.core.lockout import LockoutKey, LockoutState
from stockade.errors import InvalidArgument, StoreError
from stockade.stores.base import TransitionStore
from stockade.stores.records import ANY, Scope
from stockade.stores.refresher import SuccessWriter
from stockade.stores.view import BanView, Change, LocalView

# Each entry moves the schema from version i to i + 1. Never edit a released entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE lockout (
        directory     TEXT    NOT NULL,
        user          TEXT    NOT NULL,
        client        TEXT    NOT NULL,
        address       TEXT    NOT NULL,  -- '' when the listener is bound to every address
        port          INTEGER NOT NULL,
        failures      TEXT    NOT NULL,  -- JSON array of failure times, oldest first
        blocked_until REAL,
        auth_until    REAL,
        reservations  TEXT    NOT NULL,  -- JSON array of reservation expiry times
        expires_at    REAL    NOT NULL,
        PRIMARY KEY (directory, user, client, port, address)
    ) WITHOUT ROWID;
    CREATE INDEX lockout_expires_at ON lockout (expires_at);
    CREATE INDEX lockout_user ON lockout (user);
    """,
    """
    CREATE TABLE changes (
        seq       INTEGER PRIMARY KEY,
        origin    INTEGER NOT NULL,  -- the writing store instance
        directory TEXT    NOT NULL,
        user      TEXT    NOT NULL,
        client    TEXT    NOT NULL,
        address   TEXT    NOT NULL,
        port      INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE bans (
        key            TEXT    NOT NULL PRIMARY KEY,  -- an address, an IPv6 prefix or a network
        strikes        TEXT    NOT NULL,  -- JSON array of strike times, oldest first
        banned_until   REAL,
        offences       INTEGER NOT NULL,
        remember_until REAL,
        network        INTEGER NOT NULL,  -- 1: a network banned by hand
        expires_at     REAL    NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX bans_expires_at ON bans (expires_at);
    CREATE INDEX bans_banned_until ON bans (banned_until) WHERE banned_until IS NOT NULL;
    CREATE TABLE ban_changes (
        seq    INTEGER PRIMARY KEY,
        origin INTEGER NOT NULL,
        key    TEXT    NOT NULL
    );
    """,
)
CHANGES_KEPT = 10_000
_LOAD_BAN = "SELECT key, strikes, banned_until, offences, remember_until, network FROM bans WHERE key = ?"
_SAVE_BAN = (
    "INSERT OR REPLACE INTO bans (key, strikes, banned_until, offences, remember_until, network, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_DUMP_BANS = "SELECT key, strikes, banned_until, offences, remember_until, network, expires_at FROM bans ORDER BY key"
_EXPIRED_BANS = (
    "SELECT key, strikes, banned_until, offences, remember_until, network FROM bans"
    " WHERE banned_until IS NOT NULL AND banned_until <= ?"
    " UNION SELECT key, strikes, banned_until, offences, remember_until, network FROM bans"
    " WHERE expires_at < ? LIMIT ?"
)
_BAN_CHANGED = (
    "SELECT c.seq, c.origin, c.key, b.banned_until, b.network FROM ban_changes c"
    " LEFT JOIN bans b USING (key) WHERE c.seq > ? ORDER BY c.seq"
)
_ALL_BANS = "SELECT key, banned_until, network FROM bans WHERE banned_until IS NOT NULL"
_CHANGED = (
    "SELECT c.seq, c.origin, c.directory, c.user, c.client, c.port, c.address,"
    " l.failures, l.blocked_until, l.auth_until, l.reservations"
    " FROM changes c LEFT JOIN lockout l USING (directory, user, client, port, address)"
    " WHERE c.seq > ? ORDER BY c.seq"
)

_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL", "extra": "EXTRA"}
_READS = frozenset(
    {"list_blocked", "list_auth", "peek_success", "export", "ping", "find_ban", "ban_state", "list_bans"}
)


def inspect_data_file(path: Path) -> tuple[int, str]:
    """The schema version of the SQLite data file at ``path`` and what is wrong with it (``""``: nothing).

    The file is opened read-only; SQLite may still create the ``-wal`` and ``-shm`` files
    beside a WAL database, as it does for any reader.
    """
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
            # The first 3 problems, each on one line (SQLite puts a newline inside some).
            problems = [" ".join(str(row[0]).split("\n")) for row in conn.execute("PRAGMA quick_check(3)")]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        return 0, f"not a usable SQLite data file: {exc}"
    if problems != ["ok"]:
        return version, "PRAGMA quick_check failed: " + "; ".join(problems)
    if version > len(MIGRATIONS):
        return version, f"schema version {version} is newer than this stockade ({len(MIGRATIONS)})"
    return version, ""


def parse_sqlite_url(url: str) -> tuple[Path, str, int]:
    """Split ``sqlite:///path?synchronous=..&busy_timeout=..`` into its parts."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc:
        raise InvalidArgument("store url", url, "sqlite:///relative/path.db or sqlite:////absolute/path.db")
    raw_path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not raw_path:
        raise InvalidArgument("store url", url, "a file path after sqlite:///")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - {"synchronous", "busy_timeout"}
    if unknown:
        raise InvalidArgument("store url parameter", sorted(unknown)[0], "synchronous or busy_timeout")
    synchronous = _SYNCHRONOUS.get(query.get("synchronous", "full").lower())
    if synchronous is None:
        raise InvalidArgument("synchronous", query["synchronous"], "full, normal or extra")
    try:
        busy_timeout = int(query.get("busy_timeout", "10000"))
    except ValueError:
        raise InvalidArgument("busy_timeout", query["busy_timeout"], "milliseconds as an integer") from None
    return Path(raw_path), synchronous, busy_timeout


CATCH_UP_SECONDS = 0.001  # the longest another worker's change goes unseen by the local views


class SQLiteStore(TransitionStore):
    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10000,
        catch_up_seconds: float = CATCH_UP_SECONDS,
        catch_up_clock: Callable[[], float] = monotonic,
    ) -> None:
        self.path = Path(path)
        self._url = f"sqlite:///{self.path}"
        self._lock = threading.Lock()
        self._origin = secrets.randbits(62)
        self._watch_lock = threading.Lock()
        self._seen_version: int | None = None
        self._catch_up_seconds = catch_up_seconds
        self._catch_up_clock = catch_up_clock  # paces the catch-up only; decisions use the guard's clock
        self._next_catch_up = 0.0
        self._seen_seq = 0
        self._ban_seq = 0
        try:
            self._conn = sqlite3.connect(
                self.path,
                timeout=busy_timeout_ms / 1000.0,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(self._url, "open", exc) from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._migrate()
            self._watch = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000.0, check_same_thread=False)
            self._seen_seq = int(self._watch.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])
            self._ban_seq = int(self._watch.execute("SELECT coalesce(max(seq), 0) FROM ban_changes").fetchone()[0])
            active_bans = self._watch.execute(_ALL_BANS).fetchall()
            self._seen_version = self._data_version()
        except BaseException as exc:
            # Do not leak the file handle of a store that failed to open.
            self._conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(self._url, "open", exc) from exc
            raise
        self.view = LocalView()
        self.writer = SuccessWriter(self.record_success, self._url)
        self.ban_view = BanView()
        self.ban_view.replace_all(_ban_rows(active_bans))

    @classmethod
    def from_url(cls, url: str, base: Path | None = None) -> SQLiteStore:
        path, synchronous, busy_timeout = parse_sqlite_url(url)
        if base is not None and not path.is_absolute():
            path = base / path
        return cls(path, synchronous=synchronous, busy_timeout_ms=busy_timeout)

    @property
    def url(self) -> str:
        return self._url

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreError(
                    self._url, "open", f"schema version {version} is newer than this stockade ({len(MIGRATIONS)})"
                )
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        super().close()
        with self._lock, self._watch_lock:
            self._conn.close()
            self._watch.close()

    def _data_version(self) -> int:
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def _catch_up(self) -> None:
        view, ban_view = self.view, self.ban_view
        if view is None or ban_view is None:
            return
        now = self._catch_up_clock()
        if now < self._next_catch_up:
            return
        self._next_catch_up = now + self._catch_up_seconds
        with self._watch_lock:
            try:
                version = self._data_version()
                if version == self._seen_version:
                    return
                rows = self._watch.execute(_CHANGED, (self._seen_seq,)).fetchall()
                ban_rows = self._watch.execute(_BAN_CHANGED, (self._ban_seq,)).fetchall()
                behind = not ban_view.trusted or (ban_rows and ban_rows[0][0] > self._ban_seq + 1)
                every_ban = self._watch.execute(_ALL_BANS).fetchall() if behind else None
            except sqlite3.Error:
                # Without the changes neither view can be trusted; the next request asks the file.
                view.forget(trusted=True)
                ban_view.forget(trusted=False)
                self._seen_version = None
                self._next_catch_up = 0.0
                return
            self._seen_version = version
            if rows and rows[0][0] > self._seen_seq + 1 and self._seen_seq:
                view.forget(trusted=True)  # fell behind the kept changes
            for row in rows:
                if row[1] != self._origin:
                    state = LockoutState() if row[7] is None else _state(row[7:])
                    view.apply(Change.of(_key(row[2:7]), state))
            if rows:
                self._seen_seq = int(rows[-1][0])
            if every_ban is not None:
                ban_view.replace_all(_ban_rows(every_ban))
                ban_view.trusted = True
            else:
                for _, origin, key, until, network in ban_rows:
                    if origin != self._origin:
                        ban_view.set(str(key), _real(until), network=None if network is None else bool(network))
            if ban_rows:
                self._ban_seq = int(ban_rows[-1][0])

    @contextmanager
    def _atomic(self, operation: str) -> Iterator[None]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN" if operation in _READS else "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(self._url, operation, exc) from exc
            try:
                yield
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(self._url, operation, exc) from exc
            except BaseException:
                _rollback(conn)
                raise

    def _load(self, key: LockoutKey) -> LockoutState:
        row = self._conn.execute(
            "SELECT failures, blocked_until, auth_until, reservations FROM lockout"
            " WHERE directory = ? AND user = ? AND client = ? AND port = ? AND address = ?",
            (key.directory, key.user, key.client, key.port, key.address or ""),
        ).fetchone()
        if row is None:
            return LockoutState()
        return _state(row)

    def _save(self, key: LockoutKey, state: LockoutState, expires_at: float, now: float) -> None:
        ident = (key.directory, key.user, key.client, key.port, key.address or "")
        self._conn.execute(
            "INSERT INTO changes (origin, directory, user, client, port, address) VALUES (?, ?, ?, ?, ?, ?)",
            (self._origin, *ident),
        )
        if state.is_empty():
            self._conn.execute(
                "DELETE FROM lockout WHERE directory = ? AND user = ? AND client = ? AND port = ? AND address = ?",
                ident,
            )
            return
        self._conn.execute(
            "INSERT OR REPLACE INTO lockout (directory, user, client, port, address, failures,"
            " blocked_until, auth_until, reservations, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *ident,
                json.dumps(list(state.failures)),
                state.blocked_until,
                state.auth_until,
                json.dumps(list(state.reservations)),
                expires_at,
            ),
        )

    def _scan(self, scope: Scope) -> Iterator[tuple[LockoutKey, LockoutState]]:
        where: list[str] = []
        args: list[object] = []
        if scope.directory is not None:
            where.append("directory = ?")
            args.append(scope.directory)
        if scope.user is not None:
            where.append("user = ?")
            args.append(scope.user)
        if scope.client is not None:
            where.append("client = ?")
            args.append(scope.client)
        if scope.address is not ANY:
            where.append("address = ?")
            args.append(scope.address or "")
        if scope.port is not ANY:
            where.append("port = ?")
            args.append(scope.port)
        sql = (
            "SELECT directory, user, client, port, address, failures, blocked_until, auth_until, reservations"
            " FROM lockout"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY directory, user, client, port, address"
        rows = self._conn.execute(sql, args).fetchall()
        return iter([(_key(row), _state(row[5:])) for row in rows])

    # -- ban records ------------------------------------------------------------------------------

    def _load_ban(self, key: str) -> tuple[BanState, bool]:
        row = self._conn.execute(_LOAD_BAN, (key,)).fetchone()
        if row is None:
            return BanState(), False
        return _ban_state(row), bool(row[5])

    def _save_ban(self, key: str, state: BanState, expires_at: float, network: bool, now: float) -> None:
        self._conn.execute("INSERT INTO ban_changes (origin, key) VALUES (?, ?)", (self._origin, key))
        if state.is_empty():
            self._conn.execute("DELETE FROM bans WHERE key = ?", (key,))
            return
        self._conn.execute(
            _SAVE_BAN,
            (
                key,
                json.dumps(list(state.strikes)),
                state.banned_until,
                state.offences,
                state.remember_until,
                int(network),
                expires_at,
            ),
        )

    def _stored(self, key: LockoutKey) -> tuple[LockoutState, float] | None:
        row = self._conn.execute(
            "SELECT failures, blocked_until, auth_until, reservations, expires_at FROM lockout"
            " WHERE directory = ? AND user = ? AND client = ? AND port = ? AND address = ?",
            (key.directory, key.user, key.client, key.port, key.address or ""),
        ).fetchone()
        return None if row is None else (_state(row[:4]), float(row[4]))

    def _stored_ban(self, key: str) -> tuple[BanState, float, bool] | None:
        row = self._conn.execute(
            "SELECT key, strikes, banned_until, offences, remember_until, network, expires_at FROM bans WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else (_ban_state(row), float(row[6]), bool(row[5]))

    def _dump_bans(self) -> Iterator[tuple[str, BanState, float, bool]]:
        rows = self._conn.execute(_DUMP_BANS).fetchall()
        return iter([(str(row[0]), _ban_state(row), float(row[6]), bool(row[5])) for row in rows])

    def _expired_bans(self, now: float, limit: int) -> list[tuple[str, BanState, bool]]:
        self._conn.execute(
            "DELETE FROM ban_changes WHERE seq <= (SELECT max(seq) FROM ban_changes) - ?", (CHANGES_KEPT,)
        )
        rows = self._conn.execute(_EXPIRED_BANS, (now, now, limit)).fetchall()
        return [(str(row[0]), _ban_state(row), bool(row[5])) for row in rows]

    def _network_bans(self) -> Iterator[tuple[str, float]]:
        rows = self._conn.execute("SELECT key, banned_until FROM bans WHERE network = 1 AND banned_until IS NOT NULL")
        return iter([(str(key), float(until)) for key, until in rows.fetchall()])

    def _dump(self) -> Iterator[tuple[LockoutKey, LockoutState, float]]:
        rows = self._conn.execute(
            "SELECT directory, user, client, port, address, failures, blocked_until, auth_until, reservations,"
            " expires_at FROM lockout ORDER BY directory, user, client, port, address"
        ).fetchall()
        return iter([(_key(row), _state(row[5:9]), float(row[9])) for row in rows])

    def _expired(self, now: float, limit: int) -> list[tuple[LockoutKey, LockoutState]]:
        self._conn.execute("DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?", (CHANGES_KEPT,))
        rows = self._conn.execute(
            "SELECT directory, user, client, port, address, failures, blocked_until, auth_until, reservations"
            " FROM lockout WHERE expires_at < ? LIMIT ?",
            (now, limit),
        ).fetchall()
        return [(_key(row), _state(row[5:])) for row in rows]


def _key(row: tuple[object, ...]) -> LockoutKey:
    directory, user, client, port, address = row[:5]
    return LockoutKey(
        directory=str(directory), user=str(user), client=str(client), address=str(address) or None, port=int(str(port))
    )


def _times(text: object) -> tuple[float, ...]:
    if text == "[]":
        return ()
    return tuple(map(float, json.loads(str(text))))


def _real(value: object) -> float | None:
    if value is None or isinstance(value, float):
        return value
    return float(str(value))


def _state(row: tuple[object, ...]) -> LockoutState:
    failures, blocked_until, auth_until, reservations = row
    return LockoutState(
        failures=_times(failures),
        blocked_until=_real(blocked_until),
        auth_until=_real(auth_until),
        reservations=_times(reservations),
    )


def _rollback(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _ban_state(row: tuple[object, ...]) -> BanState:
    _, strikes, banned_until, offences, remember_until = row[:5]
    return BanState(
        strikes=_times(strikes),
        banned_until=_real(banned_until),
        offences=int(str(offences)),
        remember_until=_real(remember_until),
    )


def _ban_rows(rows: list[tuple[object, ...]]) -> Iterator[tuple[str, float, bool]]:
    for key, until, network in rows:
        if until is not None:
            yield str(key), float(str(until)), bool(network)
