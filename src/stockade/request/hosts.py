"""The canonical host of a request: one spelling for the product table, every rule and the backend.

``Host: Shop.Example.COM. `` and ``shop.example.com`` name the same site to a backend
(servers strip the whitespace, DNS ignores case and the root's trailing dot), so they
must name the same site to the checks. The canonical host is the ``Host`` value with
optional whitespace stripped, lower-cased, one trailing dot dropped and the port split
off; an IPv6 literal is written in its compressed form inside brackets. A value that is
not a host at all (bad characters, empty labels, a bad port) is refused with 400.

The work is native (``native/core/src/canonical/host.rs``); :mod:`stockade.oracle.hosts`
keeps the pure-Python version as the differential tests' oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockade import _native


@dataclass(frozen=True, slots=True)
class CanonicalHost:
    """``name`` is lower case without a trailing dot (``""`` when the request named none); ``port`` as sent."""

    name: str
    port: str = ""

    @property
    def header(self) -> str:
        """The value a backend receives as ``Host``."""
        return f"{self.name}:{self.port}" if self.port else self.name


NO_HOST = CanonicalHost("")


def canonical_host(value: bytes) -> CanonicalHost:
    """The canonical form of a ``Host`` header value (or an absolute-form target's authority).

    Raises :class:`~stockade.errors.BadRequest` for a value that is not a host.
    """
    return CanonicalHost(*_native.canonical_host(value))
