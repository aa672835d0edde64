"""Apache htpasswd files: bcrypt, apr1-md5, SHA1 and crypt entries.

Verification takes the same path for known and unknown users (an unknown user is checked
against a dummy hash of the file's strongest scheme, at the same cost), so response timing
does not reveal which user names exist. Comparisons are constant-time. bcrypt is slow by
design (70-300 ms): callers run :meth:`Htpasswd.verify` on a worker thread.

Every entry is parsed when the file loads, so a malformed hash is a load error naming the
file and line rather than a login that can never succeed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
from passlib.hash import apr_md5_crypt, des_crypt, md5_crypt, sha256_crypt, sha512_crypt

from stockade.errors import FileFormatError

_DES = re.compile(r"^[./0-9A-Za-z]{13}$")
_BCRYPT = re.compile(r"^\$2[aby]\$(?P<cost>\d\d)\$[./0-9A-Za-z]{53}$")
_SHA1 = re.compile(r"^\{SHA\}[A-Za-z0-9+/]{27}=$")
_USER = re.compile(r"^[^:\s]{1,256}$")
# bcrypt only ever looks at the first 72 bytes; Apache's htpasswd truncates the same way.
_BCRYPT_MAX_PASSWORD = 72

ACCEPTED = "bcrypt ($2y$, $2b$, $2a$), apr1-md5 ($apr1$), SHA1 ({SHA}), md5/sha-crypt ($1$, $5$, $6$) or crypt"


def _verify_bcrypt(password: bytes, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password[:_BCRYPT_MAX_PASSWORD], hashed.encode("ascii"))
    except ValueError:
        return False


def _verify_sha1(password: bytes, hashed: str) -> bool:
    digest = base64.b64encode(hashlib.sha1(password).digest()).decode("ascii")  # noqa: S324 - htpasswd {SHA} format
    return hmac.compare_digest(digest, hashed[len("{SHA}") :])


def _passlib(handler: Any) -> Callable[[bytes, str], bool]:
    def verify(password: bytes, hashed: str) -> bool:
        try:
            return bool(handler.verify(password, hashed))
        except ValueError:
            return False

    return verify


@dataclass(frozen=True, slots=True)
class Scheme:
    """A password hash format: its name, how costly it is relative to the others, its check."""

    name: str
    strength: int
    verify: Callable[[bytes, str], bool]


BCRYPT = Scheme("bcrypt", 5, _verify_bcrypt)
SHA512 = Scheme("sha512-crypt", 4, _passlib(sha512_crypt))
SHA256 = Scheme("sha256-crypt", 4, _passlib(sha256_crypt))
APR1 = Scheme("apr1-md5", 3, _passlib(apr_md5_crypt))
MD5 = Scheme("md5-crypt", 3, _passlib(md5_crypt))
SHA1 = Scheme("sha1", 2, _verify_sha1)
CRYPT = Scheme("crypt", 1, _passlib(des_crypt))

_PASSLIB: dict[str, Any] = {
    APR1.name: apr_md5_crypt,
    MD5.name: md5_crypt,
    SHA256.name: sha256_crypt,
    SHA512.name: sha512_crypt,
    CRYPT.name: des_crypt,
}


def _well_formed(scheme: Scheme, hashed: str) -> bool:
    handler = _PASSLIB.get(scheme.name)
    if handler is None:
        return True
    try:
        parsed = handler.from_string(hashed)
    except ValueError:
        return False
    return parsed.checksum is not None


def scheme_of(hashed: str) -> Scheme | None:
    """The scheme of a stored hash, or ``None`` when it is not one we accept or it is malformed."""
    scheme: Scheme | None
    if hashed.startswith("$2"):
        match = _BCRYPT.match(hashed)
        return BCRYPT if match and 4 <= int(match["cost"]) <= 31 else None
    if hashed.startswith("$apr1$"):
        scheme = APR1
    elif hashed.startswith("$1$"):
        scheme = MD5
    elif hashed.startswith("$5$"):
        scheme = SHA256
    elif hashed.startswith("$6$"):
        scheme = SHA512
    elif hashed.startswith("{SHA}"):
        return SHA1 if _SHA1.match(hashed) else None
    elif _DES.match(hashed):
        scheme = CRYPT
    else:
        return None
    return scheme if _well_formed(scheme, hashed) else None


def dummy_hash(scheme: Scheme, like: str) -> str:
    """A hash of a random password in ``scheme``, with the same cost as ``like``.

    An unknown user is checked against it, so that the check costs what a known user's does.
    """
    if scheme is BCRYPT:
        match = _BCRYPT.match(like)
        rounds = int(match["cost"]) if match else 10
        return bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(rounds)).decode("ascii")
    if scheme is SHA1:
        return "{SHA}" + base64.b64encode(hashlib.sha1(os.urandom(16)).digest()).decode()  # noqa: S324
    handler = _PASSLIB[scheme.name]
    if scheme in (SHA256, SHA512):
        handler = handler.using(rounds=handler.from_string(like).rounds)
    return str(handler.hash(os.urandom(12).hex()))


class Htpasswd:
    """The entries of one htpasswd file."""

    def __init__(self, path: Path, entries: Mapping[str, tuple[Scheme, str]]) -> None:
        self.path = path
        self.entries = dict(entries)
        strongest = max(self.entries.values(), key=lambda e: e[0].strength, default=(BCRYPT, "$2b$10$"))
        #: What an unknown user is checked against: (scheme, hash of a random password).
        self.dummy: tuple[Scheme, str] = (strongest[0], dummy_hash(strongest[0], strongest[1]))

    @classmethod
    def load(cls, path: str | Path) -> Htpasswd:
        """Parse a file; the first bad line raises :class:`FileFormatError` naming file and line.

        An unreadable file is reported as line 0 of that file.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise FileFormatError(str(path), 0, f"cannot read: {exc.strerror or exc}") from None
        return cls.from_bytes(path, raw)

    @classmethod
    def from_bytes(cls, path: Path, raw: bytes) -> Htpasswd:
        """Parse the content of ``path`` read by the caller (who reports read errors its own way)."""
        return cls(path, parse(raw, str(path)))

    def __contains__(self, user: object) -> bool:
        return user in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def verify(self, user: str, password: str) -> bool:
        """True when ``user`` exists and ``password`` matches; same work for unknown users."""
        entry = self.entries.get(user)
        scheme, hashed = entry if entry is not None else self.dummy
        matched = scheme.verify(password.encode("utf-8", "surrogatepass"), hashed)
        return matched and entry is not None


def parse(raw: bytes, name: str) -> dict[str, tuple[Scheme, str]]:
    """The entries of an htpasswd file's content; ``name`` is the file named in errors."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = raw[: exc.start].count(b"\n") + 1
        raise FileFormatError(name, number, "not valid UTF-8") from None
    entries: dict[str, tuple[Scheme, str]] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        user, sep, hashed = stripped.partition(":")
        if not sep:
            raise FileFormatError(name, number, "expected 'user:hash'")
        if not _USER.match(user):
            raise FileFormatError(
                name, number, f"invalid user name {user!r}: expected 1 to 256 characters without spaces"
            )
        if user in entries:
            raise FileFormatError(name, number, f"user {user!r} appears twice (first on line {first_line[user]})")
        scheme = scheme_of(hashed)
        if scheme is None:
            raise FileFormatError(
                name, number, f"unsupported or malformed password hash for user {user!r}: expected {ACCEPTED}"
            )
        entries[user] = (scheme, hashed)
        first_line[user] = number
    return entries
