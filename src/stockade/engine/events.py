"""Delivering events to callbacks and to the audit log, isolated from requests.

Each callback runs on a thread of its own behind a bounded queue: a slow callback delays
only itself, a failing one is logged once and counted, and neither ever reaches the
request that caused the event. When a queue is full the event is dropped and counted
rather than letting memory grow or requests wait.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from stockade.core.events import Event
from stockade.engine.settings import EventCallback
from stockade.errors import ConfigIssue

log = logging.getLogger("stockade.events")

# Events that reach user callbacks; the others (logins, refusals, API unblocks) are audit only.
CALLBACK_EVENTS = frozenset(
    {
        "auth_fail",
        "user_block",
        "user_unblock",
        "ip_block",
        "ip_unblock",
        "malicious_request",
        "request_rejected",
        "valid_request",
    }
)
# One per clean or banned request: for callbacks that ask for them, never for the audit log.
CALLBACK_ONLY_EVENTS = frozenset({"valid_request", "request_rejected"})


class EventSink(Protocol):
    def submit(self, event: Event) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class CallbackSink:
    """Calls ``callback(what, address, port, directory, data)`` on its own thread."""

    def __init__(self, callback: EventCallback, *, capacity: int = 10_000) -> None:
        self.callback = callback
        self.name = getattr(callback, "__qualname__", repr(callback))
        self.failures = 0
        self.dropped = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=capacity)
        self._logged_failure = False
        self._thread = threading.Thread(target=self._run, name=f"stockade-callback-{self.name}", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float) -> bool:
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            # The callback is stuck behind a full queue: never hang the shutdown on it (the
            # thread is a daemon and ends with the process).
            log.warning("event callback %s is stuck; closing without waiting for it", self.name)
            return
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._call(event)
            finally:
                self._queue.task_done()

    def _call(self, event: Event) -> None:
        try:
            self.callback(event.what, event.address, event.port, event.directory, dict(event.data))
        except Exception:  # a callback is user code: isolate it, log once, count
            self.failures += 1
            if not self._logged_failure:
                self._logged_failure = True
                log.exception("event callback %s failed (further failures are only counted)", self.name)


class EventBus:
    """Routes each event to the global sinks and to the callbacks of its directory."""

    def __init__(
        self,
        sinks: Sequence[EventSink] = (),
        callbacks: Mapping[str, Sequence[EventCallback]] | None = None,
    ) -> None:
        self._sinks = list(sinks)
        shared: dict[int, CallbackSink] = {}
        self._by_directory: dict[str, list[CallbackSink]] = {}
        for directory, functions in (callbacks or {}).items():
            # One thread per distinct callback, even when several directories share it.
            self._by_directory[directory] = [shared.setdefault(id(fn), CallbackSink(fn)) for fn in functions]
        self._callback_sinks = list(shared.values())

    @property
    def listening(self) -> bool:
        """Whether any sink or callback exists; without one, events need not be built."""
        return bool(self._sinks or self._callback_sinks)

    def has_callbacks(self, directory: str) -> bool:
        return bool(self._by_directory.get(directory))

    def emit(self, event: Event) -> None:
        if event.what not in CALLBACK_ONLY_EVENTS:
            for sink in self._sinks:
                _submit(sink, event)
        if event.what in CALLBACK_EVENTS and not event.audit_only:
            for callback in self._by_directory.get(event.directory, ()):
                callback.submit(event)

    def emit_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.emit(event)

    def flush(self, timeout: float = 5.0) -> bool:
        return all(sink.flush(timeout) for sink in (*self._sinks, *self._callback_sinks))

    def close(self) -> None:
        for sink in (*self._callback_sinks, *self._sinks):
            sink.close()


def _submit(sink: EventSink, event: Event) -> None:
    try:
        sink.submit(event)
    except Exception:  # a sink must never break the request that caused the event
        log.exception("event sink %r failed", sink)


def resolve_callback(spec: str) -> EventCallback:
    """Import ``package.module:function``; raises ``ValueError`` with a readable reason."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError("expected 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r}: {exc}") from None
    target: object = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable")
    fn: Callable[..., object] = target
    return fn


def callback_issue(path: str, spec: str, reason: str) -> ConfigIssue:
    return ConfigIssue(path, f"cannot load callback: {reason}", spec, True)
