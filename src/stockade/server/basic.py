"""HTTP Basic credentials (RFC 7617), parsed strictly.

A header that does not parse is answered like a missing one (401 with the challenge) and
is never counted as a failed login, whatever its shape: the reference answers several of
these with 500 (its bugs Q5/Q8). Unlike the reference, the scheme name is compared
case-insensitively, as RFC 7617 says.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 4096
MAX_USER_CHARS = 256


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and the password tried; the password never shows in ``repr``."""

    user: str
    password: str = field(repr=False)


def parse_authorization(values: Sequence[bytes]) -> Credentials | None:
    """The credentials of the ``Authorization`` header values, or ``None`` when absent or malformed."""
    if len(values) != 1:
        return None
    value = values[0]
    if len(value) > MAX_HEADER_BYTES:
        return None
    scheme, sep, token = value.strip().partition(b" ")
    if not sep:
        # "Basicxxxx" (no whitespace) is malformed; tabs count as whitespace too.
        scheme, sep, token = value.strip().partition(b"\t")
        if not sep:
            return None
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    user, colon, password = text.partition(":")
    if not colon or len(user) > MAX_USER_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in user):
        return None
    return Credentials(user, password)
