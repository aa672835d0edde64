"""Apache htpasswd files: bcrypt, apr1-md5, SHA1 and crypt entries.

Verification takes the same path for known and unknown users (an unknown user is checked
against a dummy hash of the file's strongest scheme), so response timing does not reveal
which user names exist. Comparisons are constant-time. bcrypt is slow by design
(70-300 ms): callers run :meth:`Htpasswd.verify` on a worker thread.
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

import bcrypt
from passlib.hash import apr_md5_crypt, des_crypt, md5_crypt, sha256_crypt, sha512_crypt

from stockade.errors import FileFormatError

_DES = re.compile(r"^[./0-9A-Za-z]{13}$")
_BCRYPT = re.compile(r"^\$2[abxy]?\$\d\d\$[./0-9A-Za-z]{53}$")
_USER = re.compile(r"^[^:\s]{1,256}$")


def _verify_bcrypt(password: bytes, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password, hashed.encode("ascii"))
    except ValueError:
        return False


def _verify_sha1(password: bytes, hashed: str) -> bool:
    digest = base64.b64encode(hashlib.sha1(password).digest()).decode("ascii")  # noqa: S324 - htpasswd {SHA} format
    return hmac.compare_digest(digest, hashed[len("{SHA}") :])


def _passlib(handler: object) -> Callable[[bytes, str], bool]:
    def verify(password: bytes, hashed: str) -> bool:
        try:
            return bool(handler.verify(password, hashed))  # type: ignore[attr-defined]
        except ValueError:
            return False

    return verify


@dataclass(frozen=True, slots=True)
class Scheme:
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


def scheme_of(hashed: str) -> Scheme | None:
    """The scheme of a stored hash, or ``None`` when it is not one we accept."""
    if hashed.startswith("$2"):
        return BCRYPT if _BCRYPT.match(hashed) else None
    if hashed.startswith("$apr1$"):
        return APR1
    if hashed.startswith("$1$"):
        return MD5
    if hashed.startswith("$5$"):
        return SHA256
    if hashed.startswith("$6$"):
        return SHA512
    if hashed.startswith("{SHA}"):
        return SHA1 if len(hashed) == 33 else None
    if _DES.match(hashed):
        return CRYPT
    return None


_DUMMY_PASSWORD = b"stockade-dummy-password"


def _dummy_hash(scheme: Scheme, like: str) -> str:
    """A hash of a random-ish password in ``scheme``, with the same cost as ``like``."""
    if scheme is BCRYPT:
        rounds = int(like[4:6])
        return bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(rounds)).decode("ascii")
    if scheme is SHA1:
        return "{SHA}" + base64.b64encode(hashlib.sha1(os.urandom(16)).digest()).decode()  # noqa: S324
    handler = {APR1: apr_md5_crypt, MD5: md5_crypt, SHA256: sha256_crypt, SHA512: sha512_crypt, CRYPT: des_crypt}
    return str(handler[scheme].hash(os.urandom(12).hex()))


class Htpasswd:
    """The entries of one htpasswd file."""

    def __init__(self, path: Path, entries: Mapping[str, tuple[Scheme, str]]) -> None:
        self.path = path
        self.entries = dict(entries)
        strongest = max(self.entries.values(), key=lambda e: e[0].strength, default=(BCRYPT, "$2b$10$"))
        self._dummy = (strongest[0], _dummy_hash(strongest[0], strongest[1]))

    @classmethod
    def load(cls, path: str | Path) -> Htpasswd:
        """Parse a file; the first bad line raises :class:`FileFormatError` naming file and line."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise FileFormatError(str(path), 0, f"cannot read: {exc.strerror or exc}") from None
        return cls(path, parse(raw, str(path)))

    def __contains__(self, user: object) -> bool:
        return user in self.entries

    def verify(self, user: str, password: str) -> bool:
        """True when ``user`` exists and ``password`` matches; same work for unknown users."""
        entry = self.entries.get(user)
        known = entry is not None
        scheme, hashed = entry if entry is not None else self._dummy
        matched = scheme.verify(password.encode("utf-8"), hashed)
        return matched and known


def parse(raw: bytes, name: str) -> dict[str, tuple[Scheme, str]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileFormatError(name, line, "not valid UTF-8") from None
    entries: dict[str, tuple[Scheme, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        user, sep, hashed = stripped.partition(":")
        if not sep:
            raise FileFormatError(name, number, "expected 'user:hash'")
        if not _USER.match(user):
            raise FileFormatError(name, number, f"invalid user name {user!r}")
        if user in entries:
            raise FileFormatError(name, number, f"user {user!r} appears twice")
        scheme = scheme_of(hashed)
        if scheme is None:
            raise FileFormatError(
                name,
                number,
                f"unsupported password hash for user {user!r}: expected bcrypt ($2y$), apr1-md5 ($apr1$), "
                "SHA1 ({SHA}), md5/sha-crypt ($1$, $5$, $6$) or crypt",
            )
        entries[user] = (scheme, hashed)
    return entries
