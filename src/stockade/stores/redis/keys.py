"""Key names of the Redis store: namespaced, sharded by hash tag, reversible.

A record lives at ``<prefix>lockout:{NN}:<directory>:<user>:<client>:<address>:<port>``
and its shard's index at ``<prefix>index:{NN}``. The fields are percent-encoded, so a
name maps back to exactly one :class:`~stockade.core.lockout.LockoutKey` (no field can
contain ``:``, ``{`` or ``}``); ``NN`` is a CRC-32 of the encoded identity modulo
:data:`SHARDS`. Redis Cluster places a key by its hash tag (the text between the first
``{`` and the next ``}``), so a record and its index always share one slot: every
transition updates both in one script, atomically, and the sweep of a shard is one
script too. Giving each record a slot of its own would have spread keys more finely, but
then no script could keep an index in step with the records.

Ban records live at ``<prefix>ban:{NN}:<key>`` with two sorted sets per shard,
``<prefix>banindex:{NN}`` (for the sweep) and ``<prefix>banned:{NN}`` (every active ban, read
whole when a process loads its view). Networks banned by hand share the shard ``{nt}``, so
that one read finds them all.

The number of shards is part of the key layout: changing it needs a new prefix version.
"""

from __future__ import annotations

import zlib
from urllib.parse import quote, unquote

from stockade.core.lockout import LockoutKey
from stockade.errors import InvalidArgument

SHARDS = 64
NETWORK_SHARD = "nt"
DEFAULT_PREFIX = "stockade:v1:"
_FORBIDDEN = frozenset("{} \t\r\n")


def _encode(field: str) -> str:
    return quote(field, safe="/")


class KeySpace:
    """The key names under one prefix (tenants and tests may share a server)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or _FORBIDDEN & set(prefix):
            raise InvalidArgument("redis key prefix", prefix, "a non-empty prefix without braces or whitespace")
        self.prefix = prefix
        self._records = f"{prefix}lockout:"
        self._bans = f"{prefix}ban:"
        self.indexes: tuple[str, ...] = tuple(f"{prefix}index:{{{shard:02d}}}" for shard in range(SHARDS))

    def locate(self, key: LockoutKey) -> tuple[str, str]:
        """The record's key name and its shard's index key name."""
        identity = ":".join(
            (
                _encode(key.directory),
                _encode(key.user),
                _encode(key.client),
                _encode(key.address or ""),
                str(int(key.port)),
            )
        )
        shard = zlib.crc32(identity.encode("ascii")) % SHARDS
        return f"{self._records}{{{shard:02d}}}:{identity}", self.indexes[shard]

    def locate_ban(self, key: str, *, network: bool) -> tuple[str, str, str]:
        """A ban record's name, its shard's ban index and its shard's banned set."""
        encoded = _encode(key)
        tag = NETWORK_SHARD if network else f"{zlib.crc32(encoded.encode('ascii')) % SHARDS:02d}"
        return f"{self._bans}{{{tag}}}:{encoded}", f"{self.prefix}banindex:{{{tag}}}", f"{self.prefix}banned:{{{tag}}}"

    @property
    def ban_shards(self) -> tuple[tuple[str, str], ...]:
        """(ban index, banned set) of every shard, the networks' last."""
        tags = [f"{shard:02d}" for shard in range(SHARDS)] + [NETWORK_SHARD]
        return tuple((f"{self.prefix}banindex:{{{tag}}}", f"{self.prefix}banned:{{{tag}}}") for tag in tags)

    def parse_ban(self, name: str) -> tuple[str, bool] | None:
        """(ban key, network) of a ban record name; ``None`` for a name this layout never makes."""
        head = self._bans
        if not name.startswith(head) or name[len(head) : len(head) + 1] != "{":
            return None
        tag, close, encoded = name[len(head) + 1 :].partition("}:")
        if not close or not encoded:
            return None
        return unquote(encoded), tag == NETWORK_SHARD

    def index_of(self, name: str) -> str:
        """The index key of the shard that holds the record ``name``."""
        tag = name[len(self._records) + 1 : len(self._records) + 3]
        return self.indexes[int(tag)]

    def parse(self, name: str) -> LockoutKey | None:
        """The key a record name stands for; ``None`` for a name this layout never makes."""
        head = self._records
        if (
            not name.startswith(head)
            or name[len(head) : len(head) + 1] != "{"
            or name[len(head) + 3 : len(head) + 5] != "}:"
        ):
            return None
        parts = name[len(head) + 5 :].split(":")
        if len(parts) != 5 or not parts[4].isdigit():
            return None
        directory, user, client, address = (unquote(part) for part in parts[:4])
        return LockoutKey(directory, user, client, address or None, int(parts[4]))
