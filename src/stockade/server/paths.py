"""Request paths normalised once, for both the protection check and the file lookup.

Using one normalised path for both decisions is what makes ``/%73ecure/``, ``//secure/``,
``/pub/../secure/`` and ``/%2e%2e/secure`` land in the protected directory instead of
slipping past it. The raw path is percent-decoded exactly once, so ``%252e`` stays a
literal ``%2e`` file name and never becomes ``.``.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes


class BadPath(ValueError):
    """The request path cannot name anything under the root (answered 400)."""


def normalize_path(raw_path: bytes) -> str:
    """Decode once, reject NUL and backslash, collapse ``//``, resolve ``.`` and ``..`` within ``/``.

    A trailing slash is kept (it decides between a directory redirect and its index page).
    Bytes that are not UTF-8 are rejected: no file name under the root needs them.
    """
    if not raw_path.startswith(b"/"):
        raise BadPath("the path must start with '/'")
    if b"%" not in raw_path and b"/." not in raw_path and b"//" not in raw_path and b"\\" not in raw_path:
        # Nothing to decode, collapse or resolve: the common path, as it came.
        try:
            path = raw_path.decode("utf-8")
        except UnicodeDecodeError:
            raise BadPath("the path is not UTF-8") from None
        if "\x00" in path:
            raise BadPath("the path contains NUL or a backslash")
        return path
    return _resolve(raw_path)


def _resolve(raw_path: bytes) -> str:
    """:func:`normalize_path` the long way, for any path that starts with ``/``."""
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("the path is not UTF-8") from None
    if "\x00" in path or "\\" in path:
        raise BadPath("the path contains NUL or a backslash")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise BadPath("the path climbs above the root")
            segments.pop()
            continue
        segments.append(segment)
    normalized = "/" + "/".join(segments)
    last = path.rsplit("/", 1)[-1]
    if segments and (path.endswith("/") or last in (".", "..")):
        normalized += "/"
    return normalized
