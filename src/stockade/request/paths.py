"""The canonical request path: one form that the checks decide on and the backend receives.

A guard that decides on one spelling of a path while the backend routes another can be
walked around: ``/admin/..``, ``/admin/%2e%2e`` or ``/secure/x%252f..`` mean one thing to
a check and another to a router. So every front turns the raw request target into one
canonical target, forwards exactly that, and decides on its decoded form.

The algorithm (RFC 3986 section 6.2.2, as Envoy's ``normalize_path`` and nginx do it):

1. Percent-escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded, once;
   every other escape is kept, its hex digits upper-cased. A ``%`` that starts no escape
   is itself escaped (``%25``). Bytes that may not appear raw in a path are escaped.
2. Segments are split at ``/``. An escaped slash or backslash (``%2F``, ``%5C``) has no
   safe canonical form, since backends disagree on whether it separates segments: it is
   refused (400) unless ``escaped_slashes = "keep"``, which forwards it escaped and
   refuses only the paths in which it would form a dot segment.
3. Dot segments are removed (RFC 3986 section 5.2.4), but a ``..`` above the root is
   refused rather than dropped; a dot segment with parameters (``..;x``, which Java
   servers read as ``..``) is refused. Empty segments (``//``) are merged unless
   ``merge_slashes = false``.
4. The decoded path is the canonical target with every escape decoded. It must be UTF-8
   (so overlong forms such as ``%c0%ae`` are refused) and free of control characters
   (``%00``, ``%0a``, ...) and backslashes.

The work is native (``native/core/src/canonical/path.rs``); the pure-Python version of
the same algorithm, :mod:`stockade.oracle.paths`, is kept only as the differential
tests' oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from stockade import _native

EscapedSlashes = Literal["reject", "keep"]


@dataclass(frozen=True, slots=True)
class PathPolicy:
    """The operator's choices for what has no single reading (``[server]`` settings)."""

    merge_slashes: bool = True
    escaped_slashes: EscapedSlashes = "reject"


DEFAULT_POLICY = PathPolicy()


class CanonicalPath(NamedTuple):
    """``target`` is what the backend receives (escaped); ``path`` is what the checks read (decoded)."""

    target: bytes
    path: str


def canonical_path(raw: bytes, policy: PathPolicy = DEFAULT_POLICY) -> CanonicalPath:
    """The canonical form of a raw request path (the target without its query).

    Raises :class:`~stockade.errors.BadRequest` for a path with no safe canonical form.
    """
    return CanonicalPath(*_native.canonical_path(raw, policy.merge_slashes, policy.escaped_slashes))


def canonical_decoded_path(path: str, policy: PathPolicy = DEFAULT_POLICY) -> CanonicalPath:
    """The canonical form of a path a server has already percent-decoded once (WSGI without a raw URI).

    It is never decoded again: each character is escaped as needed to build the target, so
    ``%2f`` in the given path stays the three characters ``%2f`` (escaped as ``%252f``).
    """
    return CanonicalPath(*_native.canonical_decoded_path(path, policy.merge_slashes, policy.escaped_slashes))
