"""Static files from the document root, streamed in chunks read on a worker thread.

The path handed in is already normalised (see :mod:`stockade.server.paths`); it is still
resolved and checked to stay inside the root, so a symlink that points out of the root
answers 404 rather than serving what it points to.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 64 * 1024
INDEX = "index.html"


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file to send."""

    path: Path
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class Redirect:
    """A directory named without its trailing slash."""

    location: str


def lookup(root: Path, url_path: str) -> Found | Redirect | None:
    """What ``url_path`` names under ``root``: a file, a redirect to ``path/``, or nothing (404)."""
    target = root.joinpath(url_path.lstrip("/"))
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root):
        return None
    if resolved.is_dir():
        if not url_path.endswith("/"):
            return Redirect(url_path + "/")
        resolved = resolved / INDEX
        try:
            resolved = resolved.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(root):
            return None
    elif url_path.endswith("/"):
        return None
    try:
        st = resolved.stat()
    except OSError:
        return None
    if not os.path.isfile(resolved):
        return None
    content_type, encoding = mimetypes.guess_type(resolved.name)
    if content_type is None or encoding is not None:
        content_type = "application/octet-stream"
    elif content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
        content_type += "; charset=utf-8"
    return Found(resolved, st.st_size, content_type)


async def open_file(path: Path) -> BinaryIO | None:
    """Open before the status line goes out, so an unreadable file is still a clean 404."""
    try:
        return await asyncio.to_thread(open, path, "rb")
    except OSError:
        return None


async def read_chunks(handle: BinaryIO, size: int) -> AsyncIterator[bytes]:
    """The first ``size`` bytes (the size announced in Content-Length), chunk by chunk; closes ``handle``."""
    try:
        remaining = size
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
