"""Redis, Redis Sentinel and Redis Cluster store.

Every transition runs on the server as one Lua script (``stores/redis/lua``), so it is
atomic however many workers share the server; the scripts mirror
:mod:`stockade.core.lockout` expression for expression. A record and the index of its
shard share a hash tag (:mod:`stockade.stores.redis.keys`), so a script touches one
cluster slot. Listings read the shard indexes and then the records, pipelined; they are
not one snapshot, which an admin listing does not need.

Two operations consult several keys: a login (``record_success``) and ``reserve`` with
secondary keys, which for IP-keyed directories carry the blocks set through the API on
user names. The secondary keys are checked first, one script or read each, then the
primary key's transition runs; each step is atomic, the whole is not. That is enough:
the secondary keys only hold API blocks, and a block set a moment after the check would
equally have come a moment after a single transaction.

Each record's TTL is its ``expires_at`` plus a day's grace (so a sweep can still report a
block's end); a record that never expires (a block or a duration of infinity) has no TTL.
The shard indexes have none either; the sweep trims them.

Errors of every kind the client raises become one :class:`~stockade.errors.StoreError`
in :meth:`AsyncRedisStore._failure`, through the ``_errors`` wrapper of every operation;
the password never shows. A lost connection is retried once at once (a pooled connection
the server closed); should the connection drop after a script ran but before its reply
arrived, that transition is applied twice, the one way counts can exceed the exact ones.

Each store keeps a local view of blocks and clean users (:mod:`stockade.stores.view`),
followed by a :class:`~stockade.stores.redis.feed.ChangeFeed`: a clean login is answered
by :meth:`AsyncRedisStore.peek_login` without a round trip, and its success record is
written off the request path. ``watch=False`` (the command line, the feed's own store)
goes without.

Only this file is written by hand: ``scripts/unasync.py`` generates the synchronous twin,
``RedisStore``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from stockade.clock import monotonic
from stockade.core import lockout as core
from stockade.core.bans import BanPolicy, BanState, NetworkBans, StrikeOutcome
from stockade.core.lockout import FailureOutcome, LockoutKey, LockoutPolicy, LockoutState, ReserveOutcome
from stockade.errors import StoreError
from stockade.stores.base import record_order
from stockade.stores.records import (
    AuthRecord,
    BanPeek,
    BanRecord,
    BlockRecord,
    LoginResult,
    Scope,
    StoredBan,
    StoredRecord,
    StoreStatus,
)
from stockade.stores.redis import RedisTarget, parse_redis_url
from stockade.stores.redis.feed import ChangeFeed
from stockade.stores.redis.keys import KeySpace
from stockade.stores.redis.scripts import (
    ban_policy_args,
    load_scripts,
    number,
    optional_number,
    parse_ban_state,
    parse_state,
    policy_args,
)
from stockade.stores.view import BanView, LocalView

_SCRIPTS = load_scripts()
_ERRORS = (RedisError, RedisClusterException, OSError)
_ACCEPTED = LoginResult(accepted=True)


class AsyncRedisStore:
    """A lockout store on Redis: a single server, a Sentinel-watched master or a cluster."""

    def __init__(self, target: RedisTarget, *, watch: bool = True) -> None:
        self.target = target
        self.keys = KeySpace(target.prefix)
        self._sentinel: Sentinel | None = None
        self._started = False
        self._start_lock = asyncio.Lock()
        try:
            self.client = self._connect()
        except _ERRORS as exc:
            error = self._failure("open", exc)
            raise error from (exc if error.cause is exc else None)
        self._scripts: dict[str, AsyncScript] = {
            name: self.client.register_script(text) for name, text in _SCRIPTS.items()
        }
        self.view = LocalView(trusted=False)
        self.ban_view = BanView(trusted=False)
        self.feed = ChangeFeed(target, self.view, self.ban_view) if watch else None

    @classmethod
    def from_url(cls, url: str, *, watch: bool = True) -> AsyncRedisStore:
        return cls(parse_redis_url(url), watch=watch)

    @property
    def url(self) -> str:
        return self.target.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _connect(self) -> Redis | RedisCluster:
        target = self.target
        options: dict[str, Any] = {
            "username": target.username,
            "password": target.password.reveal() if target.password is not None else None,
            "socket_timeout": target.timeout,
            "socket_connect_timeout": target.timeout,
            "decode_responses": True,
            # One immediate retry replaces a pooled connection the server has closed; a single
            # server's client never retries after a timeout, when the script may have run.
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        }
        if target.kind == "cluster":
            return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in target.hosts], **options)
        if target.kind == "sentinel":
            # Without a retry of its own, a sentinel that is down costs seconds of backoff.
            asking = {key: options[key] for key in ("socket_timeout", "socket_connect_timeout", "retry")}
            self._sentinel = Sentinel(list(target.hosts), sentinel_kwargs=asking, **options)
            master: Redis = self._sentinel.master_for(str(target.service_name), db=target.db)
            return master
        if target.tls:
            options.update(
                ssl=True,
                ssl_cert_reqs=target.ssl_cert_reqs,
                ssl_ca_certs=target.ssl_ca_certs,
                ssl_check_hostname=target.ssl_cert_reqs == "required",
            )
        host, port = target.hosts[0]
        return Redis(host=host, port=port, db=target.db, **options)

    def _failure(self, operation: str, exc: BaseException) -> StoreError:
        """The one place where the client's failures become :class:`StoreError`, password removed."""
        secret = self.target.password.reveal() if self.target.password is not None else ""
        if secret and secret in str(exc):
            return StoreError(self.url, operation, str(exc).replace(secret, "***"))
        return StoreError(self.url, operation, exc)

    @asynccontextmanager
    async def _errors(self, operation: str, *, start: bool = True) -> AsyncIterator[None]:
        """Wraps every operation: connects on first use, turns client errors into StoreError."""
        try:
            if start and not self._started:
                await self._start()
            yield
        except _ERRORS as exc:
            error = self._failure(operation, exc)
            raise error from (exc if error.cause is exc else None)

    async def _start(self) -> None:
        """Reach the server once, before the first operation, one caller at a time.

        redis-py's asyncio cluster client (8.1) breaks connections when commands race its lazy
        start-up; the ping makes that start-up happen once, first. Elsewhere it only costs one
        round trip in the store's lifetime.
        """
        async with self._start_lock:
            if not self._started:
                await self.client.ping()
                self._started = True

    async def _run(self, script: str, key: LockoutKey, now: float, policy: LockoutPolicy, *extra: str) -> Any:
        """Run a transition script on ``key``'s record; returns the script's reply."""
        name, index = self.keys.locate(key)
        return await self._scripts[script](keys=[name, index], args=[number(now), *policy_args(policy), *extra])

    def peek_login(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> LoginResult | None:
        """Valid credentials answered from the local view, or ``None`` when Redis must decide."""
        if self.feed is None:
            return None
        peek = self.view.peek_login(keys, now, policy)
        if peek is None:
            return None
        if peek.refresh:
            self.feed.writer.submit(keys, now, policy)
        return peek.result

    async def record_failure(
        self, key: LockoutKey, now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> FailureOutcome:
        self.view.touched(key)  # even when the write fails: this key is not known clean any more
        async with self._errors("record_failure"):
            count, blocked, until = await self._run("record_failure", key, now, policy, _flag(reserved))
        outcome = FailureOutcome(int(count), bool(blocked), optional_number(until))
        self.view.failed(key, outcome)
        return outcome

    async def record_success(
        self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy, *, reserved: bool = False
    ) -> LoginResult:
        primary, *others = keys
        unblocked: list[LockoutKey] = []
        refused: float | None = None
        async with self._errors("record_success"):
            if not reserved and await self._needs_no_write(primary, others, now, policy):
                self.view.logged_in(keys, _ACCEPTED, now, policy)
                return _ACCEPTED
            for other in others:
                status, until = await self._run("check_block", other, now, policy)
                if status == "unblocked":
                    unblocked.append(other)
                elif status == "blocked":
                    end = float(until)
                    refused = end if refused is None else max(refused, end)
            accepted, until, lifted = await self._run(
                "record_success", primary, now, policy, _flag(reserved), "" if refused is None else number(refused)
            )
        if int(lifted):
            unblocked.insert(0, primary)
        result = LoginResult(accepted=bool(int(accepted)), until=optional_number(until), unblocked=tuple(unblocked))
        self.view.logged_in(keys, result, now, policy)
        return result

    async def _needs_no_write(
        self, primary: LockoutKey, others: list[LockoutKey], now: float, policy: LockoutPolicy
    ) -> bool:
        """A repeated login that changes nothing costs one pipelined read (core.login_needs_no_write)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hmget(self.keys.locate(primary)[0], ["f", "b", "a", "r"])
            for other in others:
                pipe.hget(self.keys.locate(other)[0], "b")
            fields, *blocks = await pipe.execute()
        return core.login_needs_no_write(parse_state(*fields), now, policy) and all(b is None for b in blocks)

    async def reserve(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> ReserveOutcome:
        primary, *others = keys
        self.view.touched(primary)
        async with self._errors("reserve"):
            for other in others:
                blocked_until = optional_number(await self.client.hget(self.keys.locate(other)[0], "b") or "")
                if blocked_until is not None and blocked_until - now > 0:
                    return ReserveOutcome(granted=False, blocked=True, until=blocked_until)
            granted, blocked, until = await self._run("reserve", primary, now, policy)
        return ReserveOutcome(granted=bool(int(granted)), blocked=bool(int(blocked)), until=optional_number(until))

    async def release(self, key: LockoutKey, now: float, policy: LockoutPolicy) -> None:
        async with self._errors("release"):
            await self._run("release", key, now, policy)

    async def block(self, key: LockoutKey, until: float, now: float, policy: LockoutPolicy) -> None:
        async with self._errors("block"):
            await self._run("block", key, now, policy, number(until))
        self.view.blocked(key, until)

    async def unblock(self, scope: Scope, now: float) -> list[BlockRecord]:
        removed: list[BlockRecord] = []
        async with self._errors("unblock"):
            for key, name in await self._members(scope):
                until = optional_number(
                    await self._scripts["unblock"](keys=[name, self.keys.index_of(name)], args=[number(now)])
                )
                if until is not None:
                    removed.append(BlockRecord(key, until))
        for record in removed:
            self.view.touched(record.key)
        return removed

    async def list_blocked(self, scope: Scope, now: float) -> list[BlockRecord]:
        async with self._errors("list_blocked"):
            found = await self._members(scope)
            ends = await self._field([name for _, name in found], "b")
        return [
            BlockRecord(key, until)
            for (key, _), until in zip(found, ends, strict=True)
            if until is not None and until - now > 0
        ]

    async def list_auth(self, scope: Scope, now: float) -> list[AuthRecord]:
        if self.feed is not None:
            await self.feed.writer.asettle()
        async with self._errors("list_auth"):
            found = await self._members(scope)
            ends = await self._field([name for _, name in found], "a")
        return [
            AuthRecord(key, until)
            for (key, _), until in zip(found, ends, strict=True)
            if until is not None and until > now
        ]

    async def sweep(self, now: float, limit: int = 1000) -> list[LockoutKey]:
        ended: list[LockoutKey] = []
        if limit <= 0:
            return ended
        async with self._errors("sweep"):
            async with self.client.pipeline(transaction=False) as pipe:
                for index in self.keys.indexes:
                    pipe.zcount(index, "-inf", f"({number(now)}")
                counts = await pipe.execute()
            remaining = limit
            for index, count in zip(self.keys.indexes, counts, strict=True):
                if not int(count) or remaining <= 0:
                    continue
                deleted, names = await self._scripts["sweep"](keys=[index], args=[number(now), str(remaining)])
                remaining -= int(deleted)
                ended.extend(key for key in map(self.keys.parse, names) if key is not None)
        return ended

    # -- IP bans ----------------------------------------------------------------------------------

    def peek_ban(self, ip: str, key: str, now: float) -> BanPeek:
        """Whether ``ip`` is banned, from the view of every active ban (no round trip)."""
        return self.ban_view.peek(ip, key, now)

    async def find_ban(self, ip: str, key: str, now: float) -> float | None:
        name = self.keys.locate_ban(key, network=False)[0]
        networks_set = self.keys.ban_shards[-1][1]
        async with self._errors("find_ban"), self.client.pipeline(transaction=False) as pipe:
            pipe.hget(name, "b")
            pipe.zrange(networks_set, 0, -1, withscores=True)
            own, nets = await pipe.execute()
        until = optional_number(own or "")
        best = until if until is not None and until - now > 0 else None
        networks = NetworkBans()
        for member, score in nets:
            parsed = self.keys.parse_ban(member)
            if parsed is not None:
                networks.set(parsed[0], float(score))
        covering = networks.lookup(ip, now) if networks else None
        if covering is not None and (best is None or covering > best):
            best = covering
        return best

    async def record_strike(self, key: str, now: float, policy: BanPolicy) -> StrikeOutcome:
        names = list(self.keys.locate_ban(key, network=False))
        async with self._errors("record_strike"):
            count, banned, until = await self._scripts["ban_strike"](
                keys=names, args=[number(now), *ban_policy_args(policy)]
            )
        outcome = StrikeOutcome(int(count), bool(int(banned)), optional_number(until))
        if outcome.banned:
            self.ban_view.set(key, outcome.until, network=False)
        return outcome

    async def ban_ip(
        self, key: str, until: float, now: float, policy: BanPolicy, *, network: bool = False, keep_longer: bool = False
    ) -> float:
        names = list(self.keys.locate_ban(key, network=network))
        async with self._errors("ban_ip"):
            end = await self._scripts["ban_set"](
                keys=names,
                args=[number(now), *ban_policy_args(policy), number(until), _flag(network), _flag(keep_longer)],
            )
        in_force = optional_number(end)
        in_force = until if in_force is None else in_force
        self.ban_view.set(key, in_force, network=network)
        return in_force

    async def unban_ip(self, key: str, now: float) -> float | None:
        removed: float | None = None
        async with self._errors("unban_ip"):
            for network in (False, True):
                names = list(self.keys.locate_ban(key, network=network))
                until = optional_number(await self._scripts["ban_unban"](keys=names, args=[number(now)]))
                if until is not None:
                    removed = until if removed is None else max(removed, until)
        self.ban_view.set(key, None, network=None)
        return removed

    async def ban_state(self, key: str, now: float) -> BanState:
        async with self._errors("ban_state"):
            fields: list[str | None] = await self.client.hmget(
                self.keys.locate_ban(key, network=False)[0], ["s", "b", "o", "m"]
            )  # type: ignore[assignment]  # decode_responses: str, never bytes
        return parse_ban_state(*fields)

    async def list_bans(self, now: float) -> list[BanRecord]:
        async with self._errors("list_bans"):
            found = await self._all_bans()
        return sorted(
            (BanRecord(key, until, network) for key, until, network in found if until - now > 0),
            key=lambda record: record.key,
        )

    async def all_bans(self) -> list[tuple[str, float, bool]]:
        """Every ban record with a ban (ended ones included): what a process loads into its view."""
        async with self._errors("all_bans"):
            return await self._all_bans()

    async def _all_bans(self) -> list[tuple[str, float, bool]]:
        """Every ban record with a ban (ended ones included), from the shards' banned sets."""
        async with self.client.pipeline(transaction=False) as pipe:
            for _, banned in self.keys.ban_shards:
                pipe.zrange(banned, 0, -1, withscores=True)
            replies = await pipe.execute()
        found: list[tuple[str, float, bool]] = []
        for members in replies:
            for member, score in members:
                parsed = self.keys.parse_ban(member)
                if parsed is not None:
                    found.append((parsed[0], float(score), parsed[1]))
        return found

    async def sweep_bans(self, now: float, limit: int = 1000) -> list[str]:
        ended: list[str] = []
        if limit <= 0:
            return ended
        async with self._errors("sweep_bans"):
            async with self.client.pipeline(transaction=False) as pipe:
                for index, _ in self.keys.ban_shards:
                    pipe.zcount(index, "-inf", number(now))
                counts = await pipe.execute()
            remaining = limit
            for (index, banned), count in zip(self.keys.ban_shards, counts, strict=True):
                if not int(count) or remaining <= 0:
                    continue
                handled, names = await self._scripts["ban_sweep"](
                    keys=[index, banned], args=[number(now), str(remaining)]
                )
                remaining -= int(handled)
                for name in names:
                    parsed = self.keys.parse_ban(name)
                    if parsed is not None:
                        ended.append(parsed[0])
                        self.ban_view.set(parsed[0], None, network=parsed[1])
        return ended

    async def export_bans(self, now: float) -> list[StoredBan]:
        async with self._errors("export"):
            async with self.client.pipeline(transaction=False) as pipe:
                for index, _ in self.keys.ban_shards:
                    pipe.zrange(index, 0, -1)
                replies = await pipe.execute()
            names = sorted({name for members in replies for name in members})
            async with self.client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hmget(name, ["s", "b", "o", "m", "n", "e"])
                rows = await pipe.execute()
        records = []
        for name, fields in zip(names, rows, strict=True):
            parsed = self.keys.parse_ban(name)
            if parsed is None or fields[5] is None:
                continue
            state, expires_at = parse_ban_state(*fields[:4]), float(fields[5])
            if not expires_at < now and not state.is_empty():
                records.append(StoredBan(parsed[0], state, expires_at, fields[4] == "1"))
        return sorted(records, key=lambda record: record.key)

    async def import_bans(self, records: Sequence[StoredBan], now: float) -> int:
        """Write ban records, each merged with what its key holds (``lua/ban_put.lua``); returns how many."""
        async with self._errors("import"):
            for record in records:
                state = record.state
                merged = await self._scripts["ban_put"](
                    keys=list(self.keys.locate_ban(record.key, network=record.network)),
                    args=[
                        number(now),
                        " ".join(map(number, state.strikes)),
                        "" if state.banned_until is None else number(state.banned_until),
                        str(state.offences),
                        "" if state.remember_until is None else number(state.remember_until),
                        _flag(record.network),
                        number(record.expires_at),
                    ],
                )
                self.ban_view.set(record.key, optional_number(merged), network=record.network)
        return len(records)

    async def read_states(self, keys: Sequence[LockoutKey]) -> list[LockoutState]:
        """The current state of each of ``keys`` (one pipelined read)."""
        if not keys:
            return []
        async with self._errors("read"), self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self.keys.locate(key)[0], ["f", "b", "a", "r"])
            rows = await pipe.execute()
        return [parse_state(*fields) for fields in rows]

    async def export_records(self, now: float) -> list[StoredRecord]:
        """Every record that still holds something live, in listing order."""
        if self.feed is not None:
            await self.feed.writer.asettle()
        async with self._errors("export"):
            found = await self._members(Scope())
            async with self.client.pipeline(transaction=False) as pipe:
                for _, name in found:
                    pipe.hmget(name, ["f", "b", "a", "r", "e"])
                rows = await pipe.execute()
        records = []
        for (key, _), fields in zip(found, rows, strict=True):
            if fields[4] is None:
                continue  # expired by its TTL since the index was read
            state, expires_at = parse_state(*fields[:4]), float(fields[4])
            if not expires_at < now and not state.is_empty():
                records.append(StoredRecord(key, state, expires_at))
        return records

    async def import_records(self, records: Sequence[StoredRecord], now: float) -> int:
        """Write ``records``, each merged with what its key holds (``lua/put.lua``); returns how many."""
        async with self._errors("import"):
            for record in records:
                name, index = self.keys.locate(record.key)
                state = record.state
                await self._scripts["put"](
                    keys=[name, index],
                    args=[
                        number(now),
                        " ".join(map(number, state.failures)),
                        "" if state.blocked_until is None else number(state.blocked_until),
                        "" if state.auth_until is None else number(state.auth_until),
                        " ".join(map(number, state.reservations)),
                        number(record.expires_at),
                    ],
                )
                self.view.touched(record.key)
        return len(records)

    async def ping(self) -> float:
        """One round trip to the server, timed (seconds)."""
        async with self._errors("ping"):
            started = monotonic()
            await self.client.ping()
            return monotonic() - started

    async def status(self) -> StoreStatus:
        feed = self.feed
        return StoreStatus(
            url=self.url,
            latency=await self.ping(),
            view_entries=len(self.view) if feed is not None else None,
            view_trusted=self.view.trusted if feed is not None else None,
            view_lag=feed.lag if feed is not None else None,
            pending_writes=feed.writer.pending if feed is not None else 0,
            errors=feed.errors if feed is not None else 0,
        )

    async def _members(self, scope: Scope) -> list[tuple[LockoutKey, str]]:
        """The records in ``scope``, as (key, record name), in listing order."""
        async with self.client.pipeline(transaction=False) as pipe:
            for index in self.keys.indexes:
                pipe.zrange(index, 0, -1)
            replies = await pipe.execute()
        found: list[tuple[LockoutKey, str]] = []
        for names in replies:
            for name in names:
                key = self.keys.parse(name)
                if key is not None and scope.matches(key):
                    found.append((key, name))
        found.sort(key=lambda item: record_order(item[0]))
        return found

    async def _field(self, names: list[str], field: str) -> list[float | None]:
        if not names:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(name, field)
            values = await pipe.execute()
        return [None if value is None else optional_number(value) for value in values]

    async def aclose(self) -> None:
        if self.feed is not None:
            await self.feed.aclose()
        async with self._errors("close", start=False):
            await self.client.aclose()
            if self._sentinel is not None:
                for sentinel in self._sentinel.sentinels:
                    await sentinel.aclose()


def _flag(value: bool) -> str:
    return "1" if value else "0"
