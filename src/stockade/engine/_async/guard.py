"""The guard: joins a store to the pure lockout core and turns outcomes into events.

Only the asynchronous flavour is written by hand; the synchronous one is generated from
it by ``scripts/unasync.py``, and a test fails when the two drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from stockade.clock import Clock, SystemClock
from stockade.core.bans import BanStatus
from stockade.core.detection import Detector
from stockade.core.directories import DirectoryTable, normalize_directory
from stockade.core.events import AUTH_FAIL, BANS_DIRECTORY, USER_BLOCK, USER_UNBLOCK, lockout_event
from stockade.core.facts import RequestFacts
from stockade.core.lockout import INFINITY, FailureOutcome, LockoutKey, ReserveOutcome
from stockade.engine._async.bans import AsyncBans
from stockade.engine.events import EventBus, EventSink
from stockade.engine.health import StoreHealth
from stockade.engine.settings import NO_LISTENER, BanSettings, DirectorySettings, GuardSettings, Listener
from stockade.engine.views import Attempt, AuthUser, BannedIp, BlockedUser, WarnedIp, iso_utc
from stockade.errors import InvalidArgument, NoSuchDirectory, NotBlocked, StoreError
from stockade.stores._async.protocol import AsyncLockoutStore
from stockade.stores.base import record_order
from stockade.stores.records import ANY, AddressFilter, LoginResult, PortFilter, Scope, StoreStatus

MAX_USER_LENGTH = 256
# Without a [bans] section nothing is detected, but bans made by hand are enforced.
MANUAL_BANS_ONLY = BanSettings(detector=Detector(()))


class AsyncGuard:
    """Login lockout for protected directories, on any store.

    Applications call :meth:`login_failed` / :meth:`login_succeeded` after checking a
    password themselves, or :meth:`reserve_attempt` before the check and
    :meth:`report_attempt` after it, which guarantees that parallel attempts never get
    more than ``max_retries`` password checks.

    A clean login (valid credentials, nothing counted against the user) is answered from
    the store's local view without waiting on the store. When the store fails, the login
    flow follows ``settings.on_error.lockout`` (:mod:`stockade.engine.health`); the
    administration API always raises :class:`~stockade.errors.StoreError`.
    """

    def __init__(
        self,
        settings: GuardSettings,
        store: AsyncLockoutStore,
        *,
        clock: Clock | None = None,
        sinks: Sequence[EventSink] = (),
        directory_stores: Mapping[str, AsyncLockoutStore] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock: Clock = clock or SystemClock()
        # Normalised once here, so that every key, event and lookup uses the same spelling.
        directories = tuple(replace(d, path=normalize_directory(d.path)) for d in settings.directories)
        self.directories: DirectoryTable[DirectorySettings] = DirectoryTable((d.path, d) for d in directories)
        # A directory may keep its records in a data file of its own (the reference's
        # SecurityDataFile); the others, and directories that share a file, share a store.
        own = {normalize_directory(path): s for path, s in (directory_stores or {}).items()}
        self._stores: dict[str, AsyncLockoutStore] = {d.path: own.get(d.path, store) for d in directories}
        self.stores: tuple[AsyncLockoutStore, ...] = tuple({id(s): s for s in (store, *own.values())}.values())
        ban_settings = settings.bans or MANUAL_BANS_ONLY
        callbacks = {d.path: d.callbacks for d in directories}
        if ban_settings.callbacks:
            callbacks[BANS_DIRECTORY] = ban_settings.callbacks
        self.events = EventBus(sinks, callbacks)
        # Per site, every record is the listener-less one, whichever socket took the request.
        self.site_wide = settings.lockout_scope == "site"
        self.listeners = (NO_LISTENER,) if self.site_wide else settings.listeners
        self.health = StoreHealth()
        self.bans = AsyncBans(
            ban_settings, store, self.clock, self.events, self.health, on_error=settings.on_error.bans
        )
        self._next_sweep = -INFINITY
        self._writes = 0

    # -- lookups ---------------------------------------------------------------------------

    def directory(self, path: str) -> DirectorySettings:
        """The settings of a configured directory, by its exact configured path."""
        found = self.directories.get(path) if path.startswith("/") else None
        if found is None:
            raise NoSuchDirectory(path)
        return found

    def protecting(self, request_path: str) -> DirectorySettings | None:
        """The directory that protects a normalised request path, if any."""
        match = self.directories.match(request_path)
        return match[1] if match else None

    def _keys(self, d: DirectorySettings, user: str, client: str, listener: Listener) -> tuple[LockoutKey, ...]:
        _check_user(user)
        directory = d.path
        if self.site_wide:
            listener = NO_LISTENER
        if d.lockout_by == "user":
            return (LockoutKey(directory, user, "", listener.address, listener.port),)
        if not client:
            raise InvalidArgument("client", client, f"a client address (directory {directory} locks out by IP)")
        primary = LockoutKey(
            directory, user if d.lockout_by == "user_ip" else "", client, listener.address, listener.port
        )
        # Blocks made through the API name a user; they apply whatever the client.
        return (primary, LockoutKey(directory, user, "", listener.address, listener.port))

    def _emit(self, what: str, key: LockoutKey, user: str, client: str, now: float, **data: object) -> None:
        if self.events.listening:
            self.events.emit(lockout_event(what, _with_identity(key, user, client), now, **data))

    # -- the login flow ----------------------------------------------------------------------

    async def login_failed(
        self,
        user: str,
        directory: str,
        *,
        client: str = "",
        listener: Listener = NO_LISTENER,
        request: str | None = None,
    ) -> FailureOutcome:
        """Count a failed login: ``auth_fail``, and ``user_block`` when the limit is reached."""
        d = self.directory(directory)
        keys = self._keys(d, user, client, listener)
        return await self._failed(d, keys, user, client, request, reserved=False)

    async def _failed(
        self,
        d: DirectorySettings,
        keys: tuple[LockoutKey, ...],
        user: str,
        client: str,
        request: str | None,
        *,
        reserved: bool,
    ) -> FailureOutcome:
        now = self.clock.now()
        await self._maybe_sweep(now)
        try:
            outcome = await self._stores[d.path].record_failure(keys[0], now, d.policy, reserved=reserved)
        except StoreError as exc:
            self._store_failed(exc)
            outcome = _NOT_COUNTED
        else:
            self.health.answered()
        self._emit(AUTH_FAIL, keys[0], user, client, now, request=request)
        if outcome.blocked:
            # A re-block keeps a longer block in force: report the real end, not just block_time.
            until = INFINITY if outcome.until is None else outcome.until
            self._emit(USER_BLOCK, keys[0], user, client, now, seconds=_seconds(until - now), until=_until(until))
        return outcome

    async def login_succeeded(
        self,
        user: str,
        directory: str,
        *,
        client: str = "",
        listener: Listener = NO_LISTENER,
        request: str | None = None,
    ) -> LoginResult:
        """Valid credentials: refused while blocked, otherwise recorded (and a stale block lifted)."""
        d = self.directory(directory)
        keys = self._keys(d, user, client, listener)
        return await self._succeeded(d, keys, user, client, request, reserved=False)

    async def _succeeded(
        self,
        d: DirectorySettings,
        keys: tuple[LockoutKey, ...],
        user: str,
        client: str,
        request: str | None,
        *,
        reserved: bool,
    ) -> LoginResult:
        now = self.clock.now()
        store = self._stores[d.path]
        result = None if reserved else store.peek_login(keys, now, d.policy)
        if result is None:
            await self._maybe_sweep(now)
            try:
                result = await store.record_success(keys, now, d.policy, reserved=reserved)
            except StoreError as exc:
                self._store_failed(exc)
                result = _UNCHECKED
            else:
                self.health.answered()
        for key in result.unblocked:
            self._emit(USER_UNBLOCK, key, user, client, now)
        what = "auth_success" if result.accepted else "auth_refused"
        self._emit(what, keys[0], user, client, now, request=request)
        return result

    async def reserve_attempt(
        self,
        user: str,
        directory: str,
        *,
        client: str = "",
        listener: Listener = NO_LISTENER,
        request: str | None = None,
    ) -> Attempt:
        """Take a slot for one password check before doing it.

        A refused attempt (the user is blocked, or ``max_retries`` checks are already
        failed or in flight) must not check the password; answer it as a failure.
        """
        d = self.directory(directory)
        keys = self._keys(d, user, client, listener)
        now = self.clock.now()
        await self._maybe_sweep(now)
        try:
            outcome = await self._stores[d.path].reserve(keys, now, d.policy)
        except StoreError as exc:
            self._store_failed(exc)
            outcome = _GRANTED_UNCHECKED
        else:
            self.health.answered()
        return Attempt(
            granted=outcome.granted,
            directory=d.path,
            user=user,
            keys=keys,
            blocked=outcome.blocked,
            until=outcome.until,
            request=request,
        )

    async def report_attempt(self, attempt: Attempt, *, success: bool) -> FailureOutcome | LoginResult:
        """Report the outcome of a granted attempt, releasing its slot (once)."""
        _settle(attempt)
        d = self.directory(attempt.directory)
        client = attempt.keys[0].client
        if success:
            return await self._succeeded(d, attempt.keys, attempt.user, client, attempt.request, reserved=True)
        return await self._failed(d, attempt.keys, attempt.user, client, attempt.request, reserved=True)

    async def release_attempt(self, attempt: Attempt) -> None:
        """Give back a granted slot without an outcome (the check was abandoned)."""
        if attempt.granted and not attempt.settled:
            _settle(attempt)
            d = self.directory(attempt.directory)
            try:
                await self._stores[d.path].release(attempt.keys[0], self.clock.now(), d.policy)
            except StoreError as exc:
                self._store_failed(exc)  # the reservation expires by itself

    # -- the administration API ----------------------------------------------------------------

    async def block_user(
        self,
        user: str,
        directory: str,
        seconds: float | str | None = None,
        *,
        address: AddressFilter = ANY,
        port: PortFilter = ANY,
    ) -> list[BlockedUser]:
        """Block ``user`` in ``directory`` for ``seconds`` (default ``block_time``; ``"infinity"``).

        Fires ``user_block``. Without ``address``/``port`` the block applies on every listener.
        """
        d = self.directory(directory)
        _check_user(user)
        duration = d.policy.block_time if seconds is None else _duration(seconds)
        now = self.clock.now()
        until = now + duration
        blocked: list[BlockedUser] = []
        for listener in self._listeners(address, port):
            key = LockoutKey(d.path, user, "", listener.address, listener.port)
            await self._stores[d.path].block(key, until, now, d.policy)
            self._emit(USER_BLOCK, key, user, "", now, seconds=_seconds(duration), until=_until(until), by="api")
            blocked.append(BlockedUser(user, key.directory, key.address, key.port, until))
        return blocked

    async def unblock_user(
        self,
        user: str,
        directory: str | None = None,
        *,
        address: AddressFilter = ANY,
        port: PortFilter = ANY,
    ) -> list[BlockedUser]:
        """Remove ``user``'s blocks in ``directory``, or in every directory when it is omitted.

        Returns the blocks removed (expired ones included, as in the reference) and raises
        :class:`NotBlocked` when there was none. As the reference's documentation says, no
        ``user_unblock`` callback fires; the audit log records it.
        """
        return await self._unblock(Scope(self._scope_dir(directory), address, port, user=user), user, directory)

    async def unblock_all_users(
        self, directory: str | None = None, *, address: AddressFilter = ANY, port: PortFilter = ANY
    ) -> list[BlockedUser]:
        """Remove every block in ``directory``, or in every directory; returns what was removed (maybe nothing)."""
        try:
            return await self._unblock(Scope(self._scope_dir(directory), address, port), "", directory)
        except NotBlocked:
            return []

    async def unblock_client(
        self,
        client: str,
        directory: str | None = None,
        *,
        address: AddressFilter = ANY,
        port: PortFilter = ANY,
    ) -> list[BlockedUser]:
        """Remove the blocks of a client IP (directories with ``lockout_by`` ``ip`` or ``user_ip``)."""
        return await self._unblock(Scope(self._scope_dir(directory), address, port, client=client), client, directory)

    async def _unblock(self, scope: Scope, who: str, directory: str | None) -> list[BlockedUser]:
        now = self.clock.now()
        removed = [record for store in self._scoped(scope) for record in await store.unblock(scope, now)]
        removed.sort(key=lambda r: record_order(r.key))
        if not removed:
            raise NotBlocked(who, directory)
        if self.events.listening:
            for record in removed:
                self.events.emit(lockout_event(USER_UNBLOCK, record.key, now, by="api").as_audit_only())
        return [BlockedUser.from_record(r) for r in removed]

    def _scoped(self, scope: Scope) -> tuple[AsyncLockoutStore, ...]:
        """The stores that may hold records in ``scope``: the directory's, or every one."""
        if scope.directory is None:
            return self.stores
        return (self._stores[scope.directory],)

    def _scope_dir(self, directory: str | None) -> str | None:
        return None if directory is None else self.directory(directory).path

    async def list_blocked_users(
        self, directory: str | None = None, *, address: AddressFilter = ANY, port: PortFilter = ANY
    ) -> list[BlockedUser]:
        """Active blocks, one entry per user, directory and listener."""
        scope = Scope(self._scope_dir(directory), address, port)
        now = self.clock.now()
        records = [record for store in self._scoped(scope) for record in await store.list_blocked(scope, now)]
        return [BlockedUser.from_record(r) for r in sorted(records, key=lambda r: record_order(r.key))]

    async def list_auth_users(
        self, directory: str | None = None, *, address: AddressFilter = ANY, port: PortFilter = ANY
    ) -> list[AuthUser]:
        """Users who logged in successfully within ``auth_timeout``, without duplicates."""
        scope = Scope(self._scope_dir(directory), address, port)
        now = self.clock.now()
        records = [record for store in self._scoped(scope) for record in await store.list_auth(scope, now)]
        return [AuthUser.from_record(r) for r in sorted(records, key=lambda r: record_order(r.key))]

    async def sweep(self) -> int:
        """Delete expired records now; each removed block fires ``user_unblock`` once, each ended ban ``ip_unblock``."""
        now = self.clock.now()
        unblocked = [key for store in self.stores for key in await store.sweep(now)]
        for key in unblocked:
            self._emit(USER_UNBLOCK, key, key.user, key.client, now, expired=True)
        return len(unblocked) + await self.bans.sweep()

    # -- IP bans (see stockade.engine._async.bans) -------------------------------------------------

    async def ip_address_status(self, subject: str | RequestFacts | None) -> BanStatus:
        """``safe``, ``warning`` with the count, or ``blocked`` with the seconds left."""
        return await self.bans.ip_address_status(subject)

    async def block_ip_address(self, target: str, seconds: float | None = None, *, force: bool = False) -> BannedIp:
        """Ban an address or a network (CIDR) for ``seconds`` (default ``block_duration``).

        A longer ban in force is kept unless ``force`` (the result carries its end).
        """
        return await self.bans.block_ip_address(target, seconds, force=force)

    async def unblock_ip_address(self, target: str) -> BannedIp:
        """Lift the ban of an address or network (:class:`~stockade.errors.NotBanned` if none)."""
        return await self.bans.unblock_ip_address(target)

    async def list_banned_ips(self) -> list[BannedIp]:
        """Every active ban, sorted."""
        return await self.bans.list_banned_ips()

    async def list_warning_ips(self) -> list[WarnedIp]:
        """Every client in the warning state (malicious requests counted, not banned), sorted."""
        return await self.bans.list_warning_ips()

    async def _maybe_sweep(self, now: float) -> None:
        """Housekeeping on the write paths: every ``sweep_interval`` and every ``sweep_every_writes``."""
        self._writes += 1
        if now >= self._next_sweep or self._writes >= self.settings.sweep_every_writes:
            self._next_sweep = now + self.settings.sweep_interval
            self._writes = 0
            try:
                await self.sweep()
            except StoreError as exc:
                self.health.failed(exc, "open")  # the next sweep catches up

    def _store_failed(self, exc: StoreError) -> None:
        """The login flow's outage policy: ``closed`` raises, ``open`` carries on unchecked."""
        policy = self.settings.on_error.lockout
        self.health.failed(exc, policy)
        if policy == "closed":
            raise exc

    async def store_status(self) -> StoreStatus:
        """The store's latency and local view, with the failures this guard counted."""
        status = await self.store.status()
        return replace(status, errors=status.errors + self.health.errors)

    def _listeners(self, address: AddressFilter, port: PortFilter) -> list[Listener]:
        chosen = [
            listener
            for listener in self.listeners
            if (address is ANY or listener.address == address) and (port is ANY or listener.port == port)
        ]
        if not chosen:
            if self.site_wide:
                raise InvalidArgument(
                    "listener",
                    f"{address}:{port}",
                    "no address or port: [lockout] scope is 'site', one record for every listener",
                )
            accepted = ", ".join(str(listener) for listener in self.listeners)
            raise InvalidArgument("listener", f"{address}:{port}", f"one of {accepted}")
        return chosen

    def flush_events(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event has reached its callbacks (tests, shutdown)."""
        return self.events.flush(timeout)

    async def aclose(self) -> None:
        self.events.close()
        for store in self.stores:
            await store.aclose()


# What the login flow assumes while the store fails and the policy is "open".
_NOT_COUNTED = FailureOutcome(failures=0, blocked=False, until=None)
_UNCHECKED = LoginResult(accepted=True)
_GRANTED_UNCHECKED = ReserveOutcome(granted=True)


def _check_user(user: str) -> None:
    if not isinstance(user, str) or len(user) > MAX_USER_LENGTH or "\x00" in user:
        raise InvalidArgument("user", user, f"a string of at most {MAX_USER_LENGTH} characters without NUL")


def _duration(seconds: float | str) -> float:
    if isinstance(seconds, str):
        if seconds.strip().lower() == "infinity":
            return INFINITY
        try:
            seconds = float(seconds)
        except ValueError:
            raise InvalidArgument("seconds", seconds, "a number of seconds >= 0 or 'infinity'") from None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds) or seconds < 0:
        raise InvalidArgument("seconds", seconds, "a number of seconds >= 0 or 'infinity'")
    return float(seconds)


def _seconds(duration: float) -> float | None:
    return None if math.isinf(duration) else duration


def _until(until: float) -> str | None:
    return iso_utc(until)


def _settle(attempt: Attempt) -> None:
    if not attempt.granted:
        raise InvalidArgument("attempt", attempt.user, "an attempt that reserve_attempt granted")
    if attempt.settled:
        raise InvalidArgument("attempt", attempt.user, "an attempt not yet reported or released")
    attempt.settled = True


def _with_identity(key: LockoutKey, user: str, client: str) -> LockoutKey:
    """Events name the user who tried, and the client, even when the key holds only one of them."""
    if key.user == user and key.client == client:
        return key
    return LockoutKey(key.directory, user, client, key.address, key.port)
