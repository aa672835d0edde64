"""The native data plane (Rust, built by maturin from ``native/``): tables built once from Python.

Every class and function of ``stockade._native`` is declared here, so that mypy checks the
Python side against the boundary. Native errors are the classes of :mod:`stockade.errors`
(a panic inside a call is :class:`~stockade.errors.NativeError`).
"""

from collections.abc import Iterable
from typing import final

@final
class IPSet:
    """An immutable set of IPv4 and IPv6 addresses and ranges, as sorted merged ranges.

    IPv4-mapped IPv6 (``::ffff:a.b.c.d``) is IPv4; an IPv6 range over ``::ffff:0:0/96``
    also holds the IPv4 addresses it maps, so ``::/0`` holds every address.
    """

    @property
    def version(self) -> str:
        """The blocklist meta header's version, or ``""``."""
    @property
    def singles(self) -> int:
        """Blocklist entries of one address."""
    @property
    def pairs(self) -> int:
        """Blocklist entries of more than one address."""
    @property
    def entries(self) -> int:
        """How many ranges or entries it was built from."""
    @staticmethod
    def from_ranges(ranges: Iterable[tuple[int, int]], /) -> IPSet:
        """A set of inclusive ranges of the 16-byte space (IPv4 as ``::ffff:a.b.c.d``).

        Raises :class:`~stockade.errors.InvalidArgument` for an item that is not a pair of
        ints ``0 <= start <= end < 2**128``.
        """
    def contains(self, address: str | bytes, /) -> bool:
        """Whether the address is in the set.

        A str in any spelling :func:`stockade.netaddr.normalize_ip` accepts (a zone must be
        printable ASCII), or 4 or 16 packed bytes; anything else is not in the set.
        """
    def __contains__(self, address: object, /) -> bool: ...
    def __len__(self) -> int:
        """The number of disjoint ranges after merging."""
    def ranges(self) -> list[tuple[int, int]]:
        """Every merged range in the 16-byte space, IPv4 first."""
    def heap_bytes(self) -> int:
        """The bytes the set's arrays take."""

def parse_ip_blocklist(data: bytes, file: str) -> IPSet:
    """BFE's ``ip_blocklist.data`` content as a set; ``version``, ``singles`` and ``pairs`` describe the file.

    Raises :class:`~stockade.errors.BlocklistError` naming ``file`` and the line, with the
    texts of :mod:`stockade.rules.ip_blocklist`.
    """

def _panic(message: str) -> None:
    """Panic inside a native call (the tests prove that it raises NativeError)."""
