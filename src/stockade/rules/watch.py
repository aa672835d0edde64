"""Call back when mod_block's files change on disk (``watchfiles``), for the server to reload them.

The directories of the files are watched, not the files: editors and deploy tools replace
a file by renaming a new one over it, which a watch on the old file would miss. Changes
are debounced (``debounce_ms``) and handed to ``on_change`` as the names of the files that
changed, in a stable order; the watch goes on while ``on_change`` runs (a later change
waits for it). The watcher holds no table: the server reloads whatever is in force when
a change arrives, so a watcher started before a reload keeps serving the site after it.

``ready`` is called once the watch is in place: a change made after that is seen. watchfiles
installs its watch (``RustNotify``) synchronously when its generator first runs, before
its first ``await``; one turn of the loop after the generator was started, it is there.
Stop the watcher with ``stop_event`` (seen within 50 ms): cancelling the task waits for
watchfiles' thread, which looks up from its wait only every few seconds.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import watchfiles

__all__ = ["watch_files"]

T = TypeVar("T")


async def watch_files(
    targets: Mapping[str, T],
    on_change: Callable[[list[T]], Awaitable[None]],
    *,
    ready: Callable[[], object] | None = None,
    stop_event: asyncio.Event | None = None,
    debounce_ms: int = 200,
    force_polling: bool | None = None,
) -> None:
    """Call ``on_change`` with the names (``targets``' values) of the files that changed, until stopped.

    ``targets`` maps a file's path to its name. Runs until ``stop_event`` is set or the task
    is cancelled.
    """
    names = {os.path.realpath(path): name for path, name in targets.items()}
    directories = sorted({os.path.dirname(path) for path in names})

    def relevant(_change: watchfiles.Change, path: str) -> bool:
        return os.path.realpath(path) in names

    changes = watchfiles.awatch(
        *directories,
        watch_filter=relevant,
        debounce=debounce_ms,
        stop_event=stop_event,
        recursive=False,
        force_polling=force_polling,
    )
    order = list(dict.fromkeys(names.values()))
    pending = asyncio.ensure_future(anext(changes, None))
    try:
        await asyncio.sleep(0)  # the generator runs up to its first await: the watch is in place
        if ready is not None:
            ready()
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(anext(changes, None))
            changed = {names[os.path.realpath(path)] for _change, path in batch}
            await on_change([name for name in order if name in changed])
    finally:
        pending.cancel()
        await asyncio.wait([pending])  # the generator must be idle before it can be closed
        await changes.aclose()
