"""The guard: joins a store to the pure lockout core and turns outcomes into events.

Only the asynchronous flavour is written by hand; the synchronous one is generated from
it by ``scripts/unasync.py``, and a test fails when the two drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from stockade.clock import Clock, SystemClock
from stockade.core.directories import DirectoryTable, normalize_directory
from stockade.core.events import AUTH_FAIL, USER_BLOCK, USER_UNBLOCK, Event, lockout_event
from stockade.core.lockout import INFINITY, FailureOutcome, LockoutKey
from stockade.engine.events import EventBus, EventSink
from stockade.engine.settings import NO_LISTENER, DirectorySettings, GuardSettings, Listener
from stockade.engine.views import Attempt, AuthUser, BlockedUser
from stockade.errors import InvalidArgument, NoSuchDirectory, NotBlocked
from stockade.stores._async.protocol import AsyncLockoutStore
from stockade.stores.records import ANY, AddressFilter, LoginResult, PortFilter, Scope

MAX_USER_LENGTH = 256


class AsyncGuard:
    """Login lockout for protected directories, on any store.

    Applications call :meth:`login_failed` / :meth:`login_succeeded` after checking a
    password themselves, or :meth:`reserve_attempt` before the check and
    :meth:`report_attempt` after it, which guarantees that parallel attempts never get
    more than ``max_retries`` password checks.
    """

    def __init__(
        self,
        settings: GuardSettings,
        store: AsyncLockoutStore,
        *,
        clock: Clock | None = None,
        sinks: Sequence[EventSink] = (),
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.directories: DirectoryTable[DirectorySettings] = DirectoryTable((d.path, d) for d in settings.directories)
        self.events = EventBus(sinks, {normalize_directory(d.path): d.callbacks for d in settings.directories})
        self.listeners = settings.listeners
        self._next_sweep = -INFINITY

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
        directory = normalize_directory(d.path)
        if d.lockout_by == "user":
            return (LockoutKey(directory, user, "", listener.address, listener.port),)
        if not client:
            raise InvalidArgument("client", client, f"a client address (directory {directory} locks out by IP)")
        primary = LockoutKey(
            directory, user if d.lockout_by == "user_ip" else "", client, listener.address, listener.port
        )
        # Blocks made through the API name a user; they apply whatever the client.
        return (primary, LockoutKey(directory, user, "", listener.address, listener.port))

    def _event(self, what: str, key: LockoutKey, user: str, client: str, **data: object) -> Event:
        return lockout_event(what, _with_identity(key, user, client), self.clock.now(), **data)

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
        outcome = await self.store.record_failure(keys[0], now, d.policy, reserved=reserved)
        self.events.emit(self._event(AUTH_FAIL, keys[0], user, client, request=request))
        if outcome.blocked:
            self.events.emit(self._event(USER_BLOCK, keys[0], user, client, seconds=_seconds(d.policy.block_time)))
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
        await self._maybe_sweep(now)
        result = await self.store.record_success(keys, now, d.policy, reserved=reserved)
        for key in result.unblocked:
            self.events.emit(self._event(USER_UNBLOCK, key, user, client))
        what = "auth_success" if result.accepted else "auth_refused"
        self.events.emit(self._event(what, keys[0], user, client, request=request))
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
        outcome = await self.store.reserve(keys, now, d.policy)
        return Attempt(
            granted=outcome.granted,
            directory=normalize_directory(d.path),
            user=user,
            keys=keys,
            blocked=outcome.blocked,
            until=outcome.until,
            request=request,
        )

    async def report_attempt(self, attempt: Attempt, *, success: bool) -> FailureOutcome | LoginResult:
        """Report the outcome of a granted attempt, releasing its slot."""
        if not attempt.granted:
            raise InvalidArgument("attempt", attempt.user, "an attempt that reserve_attempt granted")
        d = self.directory(attempt.directory)
        client = attempt.keys[0].client
        if success:
            return await self._succeeded(d, attempt.keys, attempt.user, client, attempt.request, reserved=True)
        return await self._failed(d, attempt.keys, attempt.user, client, attempt.request, reserved=True)

    async def release_attempt(self, attempt: Attempt) -> None:
        """Give back a granted slot without an outcome (the check was abandoned)."""
        if attempt.granted:
            d = self.directory(attempt.directory)
            await self.store.release(attempt.keys[0], self.clock.now(), d.policy)

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
            key = LockoutKey(normalize_directory(d.path), user, "", listener.address, listener.port)
            await self.store.block(key, until, now, d.policy)
            self.events.emit(lockout_event(USER_BLOCK, key, now, seconds=_seconds(duration), by="api"))
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

        Raises :class:`NotBlocked` when there was nothing to remove. As the reference's
        documentation says, no ``user_unblock`` callback fires; the audit log records it.
        """
        scope_dir = None if directory is None else normalize_directory(self.directory(directory).path)
        now = self.clock.now()
        removed = await self.store.unblock(Scope(scope_dir, address, port, user), now)
        if not removed:
            raise NotBlocked(user, directory)
        for key in removed:
            self.events.emit(lockout_event(USER_UNBLOCK, key, now, by="api").as_audit_only())
        return [BlockedUser(k.user, k.directory, k.address, k.port, now, k.client) for k in removed]

    async def list_blocked_users(
        self, directory: str | None = None, *, address: AddressFilter = ANY, port: PortFilter = ANY
    ) -> list[BlockedUser]:
        """Active blocks, one entry per user, directory and listener."""
        scope_dir = None if directory is None else normalize_directory(self.directory(directory).path)
        records = await self.store.list_blocked(Scope(scope_dir, address, port), self.clock.now())
        return [BlockedUser.from_record(r) for r in records]

    async def list_auth_users(
        self, directory: str | None = None, *, address: AddressFilter = ANY, port: PortFilter = ANY
    ) -> list[AuthUser]:
        """Users who logged in successfully within ``auth_timeout``, without duplicates."""
        scope_dir = None if directory is None else normalize_directory(self.directory(directory).path)
        records = await self.store.list_auth(Scope(scope_dir, address, port), self.clock.now())
        return [AuthUser.from_record(r) for r in records]

    async def sweep(self) -> int:
        """Delete expired records now; each removed block fires ``user_unblock`` once."""
        now = self.clock.now()
        unblocked = await self.store.sweep(now)
        for key in unblocked:
            self.events.emit(lockout_event(USER_UNBLOCK, key, now, expired=True))
        return len(unblocked)

    async def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self.settings.sweep_interval
            await self.sweep()

    def _listeners(self, address: AddressFilter, port: PortFilter) -> list[Listener]:
        chosen = [
            listener
            for listener in self.listeners
            if (address is ANY or listener.address == address) and (port is ANY or listener.port == port)
        ]
        if not chosen:
            accepted = ", ".join(str(listener) for listener in self.listeners)
            raise InvalidArgument("listener", f"{address}:{port}", f"one of {accepted}")
        return chosen

    def flush_events(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event has reached its callbacks (tests, shutdown)."""
        return self.events.flush(timeout)

    async def aclose(self) -> None:
        self.events.close()
        await self.store.aclose()


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


def _with_identity(key: LockoutKey, user: str, client: str) -> LockoutKey:
    """Events name the user who tried, and the client, even when the key holds only one of them."""
    if key.user == user and key.client == client:
        return key
    return LockoutKey(key.directory, user, client, key.address, key.port)
