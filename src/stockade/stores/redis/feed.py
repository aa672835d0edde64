"""The change feed of a Redis store: keeps a process's local view current.

Every transition script announces the key it changed on ``<prefix>changes``
(``lua/common.lua``); a daemon thread per store subscribes to that channel and applies each
announcement to the store's :class:`~stockade.stores.view.LocalView`. Pub/sub delivers
messages in order and loses them only with the connection, so:

* the view is trusted only while the subscription stands: a dropped connection forgets
  the view (requests then go to Redis, under the store's outage policy) and the thread
  reconnects with a growing pause, up to :data:`MAX_BACKOFF`;
* a heartbeat published every :data:`BEAT` seconds measures the delivery delay (``lag``)
  and exposes a half-open connection: no heartbeat back within :data:`DEAD_AFTER` seconds
  counts as a lost connection;
* every ``resync`` seconds the states of the keys the view holds are read again, a repair
  for anything a notification could not carry (a record that Redis expired by its TTL).

Both store flavours use this one threaded implementation, with a synchronous
:class:`~stockade.stores._sync.redis_store.RedisStore` of its own; the same store writes
the success records that the view answered off the request path
(:class:`~stockade.stores.refresher.SuccessWriter`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisClusterException, RedisError

from stockade.clock import monotonic
from stockade.core.lockout import LockoutKey, LockoutPolicy
from stockade.errors import StoreError
from stockade.stores.redis import RedisTarget
from stockade.stores.redis.scripts import optional_number
from stockade.stores.refresher import SuccessWriter
from stockade.stores.view import BanView, Change, LocalView

if TYPE_CHECKING:
    from stockade.stores._sync.redis_store import RedisStore

log = logging.getLogger("stockade.store")

BEAT = 1.0
DEAD_AFTER = 5.0
MAX_BACKOFF = 2.0
_POLL = 0.05
_ERRORS = (RedisError, RedisClusterException, OSError, StoreError)


class ChangeFeed:
    """Subscribes to a store's announcements on a daemon thread and applies them to ``view``."""

    def __init__(self, target: RedisTarget, view: LocalView, bans: BanView, *, resync: float = 30.0) -> None:
        self.target = target
        self._store: RedisStore | None = None
        self.view = view
        self.bans = bans
        self.channel = f"{target.prefix}changes"
        self.resync = resync
        self.lag: float | None = None
        self.errors = 0
        self.writer = SuccessWriter(self._write, target.url)
        self._id = secrets.token_hex(8)
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._measured = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stockade-feed {target.url}", daemon=True)
        self._thread.start()

    def wait_subscribed(self, timeout: float) -> bool:
        """True once the view is trusted (tests, start-up)."""
        return self._subscribed.wait(timeout)

    @property
    def store(self) -> RedisStore:
        """The feed's own synchronous store, opened on first use (a cluster client connects when made)."""
        if self._store is None:
            from stockade.stores._sync.redis_store import RedisStore  # noqa: PLC0415 - the generated twin imports us

            self._store = RedisStore(self.target, watch=False)
        return self._store

    def _write(self, keys: Sequence[LockoutKey], now: float, policy: LockoutPolicy) -> None:
        self.store.record_success(keys, now, policy)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def wait_measured(self, timeout: float) -> bool:
        """True once a heartbeat has come back, so that ``lag`` holds a measurement."""
        return self._measured.wait(timeout)

    def close(self) -> None:
        self.writer.close()
        self._stop.set()
        self._thread.join(DEAD_AFTER)
        if self._store is not None:
            self._store.close()

    def _run(self) -> None:
        pause = _POLL
        failing = False
        while not self._stop.is_set():
            try:
                self._listen()
            except _ERRORS as exc:
                self._subscribed.clear()
                self.view.forget(trusted=False)
                self.bans.forget(trusted=False)
                self.errors += 1
                if not failing:
                    failing = True
                    log.error("%s: change feed lost, the local view is off until it returns: %s", self.channel, exc)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_BACKOFF)
                continue
            if failing:
                failing = False
                pause = _POLL
                log.warning("%s: change feed back", self.channel)

    def _listen(self) -> None:
        pubsub: Any = self.store.client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            deadline = monotonic() + DEAD_AFTER
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=_POLL)
                if message is not None and message["type"] == "subscribe":
                    break
                if monotonic() > deadline:
                    raise StoreError(self.target.url, "subscribe", "no confirmation from the server")
            self.view.forget(trusted=True)
            # Subscribed first, then every active ban read: a ban made meanwhile arrives as a
            # message and is applied after the load, so none is missed.
            self.bans.replace_all(self.store.all_bans())
            self.bans.trusted = True
            self._subscribed.set()
            self._follow(pubsub)
        finally:
            try:
                pubsub.close()
            except _ERRORS:
                log.debug("closing a broken subscription failed", exc_info=True)

    def _follow(self, pubsub: Any) -> None:
        started = monotonic()
        next_beat = started
        heard = started
        next_resync = started + self.resync
        beat_prefix = f"beat {self._id} "
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=_POLL)
            now = monotonic()
            if message is not None and message["type"] == "message":
                data = message["data"]
                text = data.decode() if isinstance(data, bytes) else str(data)
                if text.startswith(beat_prefix):
                    self.lag = now - float(text[len(beat_prefix) :])
                    heard = now
                    self._measured.set()
                elif text.startswith("ban\t"):
                    self._apply_ban(text)
                elif not text.startswith("beat "):
                    self._apply(text)
            if now >= next_beat:
                self.store.client.publish(self.channel, f"{beat_prefix}{now!r}")
                next_beat = now + BEAT
            if now - heard > DEAD_AFTER:
                raise StoreError(self.target.url, "subscribe", f"no heartbeat for {DEAD_AFTER:g} s")
            if now >= next_resync:
                self._resync()
                next_resync = monotonic() + self.resync

    def _apply(self, text: str) -> None:
        name, _, rest = text.partition("\t")
        blocked, busy, auth = [*rest.split("\t"), "", "", ""][:3]
        key = self.store.keys.parse(name)
        if key is None:
            return
        self.view.apply(Change(key, optional_number(blocked), busy == "1", optional_number(auth)))

    def _apply_ban(self, text: str) -> None:
        _, name, until, network = [*text.split("\t"), "", "", ""][:4]
        parsed = self.store.keys.parse_ban(name)
        if parsed is not None:
            self.bans.set(parsed[0], optional_number(until), network=network == "1")

    def _resync(self) -> None:
        keys = self.view.known_keys()
        for key, state in zip(keys, self.store.read_states(keys), strict=True):
            self.view.apply(Change.of(key, state))
