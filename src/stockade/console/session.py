"""The console's sessions and CSRF tokens, derived from the admin token alone.

Logging in with the admin token gives a session cookie ``<issued>.<nonce>.<mac>``: the
moment it was issued, a random nonce and an HMAC-SHA256 of both under a key derived from
the token. Nothing is stored on the server, so every server with the same token accepts
the sessions of the others, and changing the token (and reloading) ends every session. A session lasts
:data:`LIFETIME` seconds from the login.

Each form of a page carries a CSRF token, the HMAC of the session's nonce under the same
key: a page of another site cannot know it. The login form has its own pair, a random
value in a short-lived cookie that the form repeats (the double-submit pattern), since
there is no session yet.

Logging out clears the cookie and revokes the nonce in this process (a copied cookie then
stops working here at once, across reloads too; other servers with the same token accept
it until it expires). The token itself is never kept: only its digest and the
derived key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

LIFETIME: Final = 12 * 3600.0
SKEW: Final = 300.0  # a cookie issued up to this far in the future (a clock step) still counts
_MAX_REVOKED: Final = 10_000
# Revoked nonces by session key, for the whole process: a reload builds a new console (and
# new Sessions) but must not bring a logged-out session back.
_REVOKED: dict[bytes, dict[str, float]] = {}


@dataclass(frozen=True, slots=True)
class Session:
    issued: int
    nonce: str

    def expires(self) -> float:
        return self.issued + LIFETIME


class Sessions:
    """Issues and checks session cookies and CSRF tokens for one admin token (see the module docstring)."""

    __slots__ = ("_digest", "_key", "_revoked")

    def __init__(self, token: str) -> None:
        # An empty token refuses every login, as the API refuses every call.
        self._digest = hashlib.sha256(token.encode("utf-8")).digest() if token else None
        self._key = hmac.new(self._digest or bytes(32), b"stockade console session v1", hashlib.sha256).digest()
        self._revoked = _REVOKED.setdefault(hashlib.sha256(self._key).digest(), {})

    def __repr__(self) -> str:
        return "Sessions(***)"

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the admin token, in constant time."""
        digest = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
        expected = self._digest or bytes(len(digest))
        return hmac.compare_digest(digest, expected) and self._digest is not None

    def issue(self, now: float) -> str:
        issued = int(now)
        nonce = secrets.token_urlsafe(18)
        return f"{issued}.{nonce}.{self._mac(f'{issued}.{nonce}')}"

    def verify(self, value: str | None, now: float) -> Session | None:
        """The session of a cookie value, or ``None`` if it is missing, forged, expired or revoked."""
        if not value or self._digest is None or len(value) > 200:
            return None
        issued_text, _, rest = value.partition(".")
        nonce, _, mac = rest.partition(".")
        if not issued_text.isdigit() or not nonce or not mac:
            return None
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(f"{issued_text}.{nonce}").encode()):
            return None
        session = Session(int(issued_text), nonce)
        if session.issued > now + SKEW or session.expires() <= now or nonce in self._revoked:
            return None
        return session

    def revoke(self, session: Session, now: float) -> None:
        revoked = self._revoked
        for nonce, until in list(revoked.items()):
            if until <= now:
                del revoked[nonce]
        if len(revoked) >= _MAX_REVOKED:
            revoked.pop(next(iter(revoked)))
        revoked[session.nonce] = session.expires()

    def csrf(self, session: Session) -> str:
        """The CSRF token of a session's forms."""
        return self._mac(f"csrf.{session.nonce}")

    def csrf_matches(self, session: Session, given: str | None) -> bool:
        if not given:
            return False
        return hmac.compare_digest(given.encode("ascii", "replace"), self.csrf(session).encode())

    def _mac(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode("ascii", "replace"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def login_nonce() -> str:
    """A fresh value for the login form's double-submit cookie."""
    return secrets.token_urlsafe(18)


def same_value(cookie: str | None, field: str | None) -> bool:
    """The login form's check: the cookie and the form carry the same non-empty value."""
    if not cookie or not field:
        return False
    return hmac.compare_digest(cookie.encode("ascii", "replace"), field.encode("ascii", "replace"))
