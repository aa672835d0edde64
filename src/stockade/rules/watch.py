"""Reload mod_block's files when they change on disk (``watchfiles``), for the server to start.

The directories of the two files are watched, not the files: editors and deploy tools
replace a file by renaming a new one over it, which a watch on the old file would miss.
Changes are debounced (``debounce_ms``) and reloads run in a worker thread, so the event
loop never waits for a large blocklist to load. Each reload's :class:`ReloadResult` goes
to ``on_result`` (the server logs it and answers it in its status); an error leaves the
old table in force, as every reload does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import watchfiles

from stockade.rules.reload import BlockReloader, ReloadResult, Target

__all__ = ["watch_block_files"]


def _targets(reloader: BlockReloader) -> dict[str, Target]:
    return {
        os.path.realpath(reloader.rules_path): "block_rules",
        os.path.realpath(reloader.blocklist_path): "ip_blocklist",
    }


async def watch_block_files(
    reloader: BlockReloader,
    on_result: Callable[[ReloadResult], None],
    *,
    stop_event: asyncio.Event | None = None,
    debounce_ms: int = 200,
    force_polling: bool | None = None,
) -> None:
    """Reload whichever file changes until ``stop_event`` is set (or the task is cancelled)."""
    targets = _targets(reloader)
    directories = sorted({os.path.dirname(path) for path in targets})

    def relevant(_change: watchfiles.Change, path: str) -> bool:
        return os.path.realpath(path) in targets

    async for changes in watchfiles.awatch(
        *directories,
        watch_filter=relevant,
        debounce=debounce_ms,
        stop_event=stop_event,
        recursive=False,
        force_polling=force_polling,
    ):
        changed = sorted({targets[os.path.realpath(path)] for _change, path in changes})
        for target in changed:
            result = await asyncio.to_thread(reloader.reload, target)
            on_result(result)
