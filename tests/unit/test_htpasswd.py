"""htpasswd files: every accepted scheme, the unknown-user dummy check, and bad lines."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest
from passlib.hash import apr_md5_crypt, des_crypt, md5_crypt, sha256_crypt, sha512_crypt

from stockade.auth.htpasswd import APR1, BCRYPT, CRYPT, MD5, SHA1, SHA256, SHA512, Htpasswd, Scheme
from stockade.errors import FileFormatError

PASSWORD = "s3cret pässword"


def _bcrypt(prefix: str) -> Callable[[str], str]:
    def make(password: str) -> str:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
        return prefix + hashed[4:]

    return make


def _sha1(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


MAKERS: dict[str, tuple[Scheme, Callable[[str], str]]] = {
    "bcrypt-2y": (BCRYPT, _bcrypt("$2y$")),
    "bcrypt-2b": (BCRYPT, _bcrypt("$2b$")),
    "bcrypt-2a": (BCRYPT, _bcrypt("$2a$")),
    "apr1": (APR1, apr_md5_crypt.hash),
    "sha1": (SHA1, _sha1),
    "crypt": (CRYPT, des_crypt.hash),
    "md5-crypt": (MD5, md5_crypt.hash),
    "sha256-crypt": (SHA256, sha256_crypt.using(rounds=1000).hash),
    "sha512-crypt": (SHA512, sha512_crypt.using(rounds=1000).hash),
}


def write(tmp_path: Path, content: str | bytes, name: str = "users.htpasswd") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("kind", list(MAKERS))
def test_each_scheme_verifies_the_right_password_only(tmp_path: Path, kind: str) -> None:
    scheme, make = MAKERS[kind]
    password = PASSWORD if kind != "crypt" else "s3cret"  # crypt only reads 8 ASCII characters
    users = Htpasswd.load(write(tmp_path, f"alice:{make(password)}\n"))
    assert users.entries["alice"][0] is scheme
    assert users.verify("alice", password)
    assert not users.verify("alice", password + "x")
    assert not users.verify("alice", "")


def test_known_sha1_vector(tmp_path: Path) -> None:
    # Apache's `htpasswd -s` output for the password "password".
    users = Htpasswd.load(write(tmp_path, "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"))
    assert users.verify("bob", "password")
    assert not users.verify("bob", "Password")


def test_bcrypt_reads_the_first_72_bytes_like_apache(tmp_path: Path) -> None:
    long = "x" * 72
    hashed = bcrypt.hashpw(long.encode(), bcrypt.gensalt(4)).decode()
    users = Htpasswd.load(write(tmp_path, f"carol:{hashed}\n"))
    assert users.verify("carol", long + "ignored")
    assert not users.verify("carol", "x" * 71)


def test_comments_blank_lines_and_crlf(tmp_path: Path) -> None:
    content = f"# users\r\n\r\nalice:{_sha1('a')}\r\n  \r\nbob:{_sha1('b')}"
    users = Htpasswd.load(write(tmp_path, content))
    assert sorted(users.entries) == ["alice", "bob"]
    assert users.verify("bob", "b")
    assert "alice" in users
    assert "carol" not in users


class Spy:
    """Wraps a real scheme's check and records the hashes it was asked about."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.hashes: list[str] = []

    def __call__(self, password: bytes, hashed: str) -> bool:
        self.hashes.append(hashed)
        return self.scheme.verify(password, hashed)


@pytest.mark.parametrize(
    ("kinds", "strongest", "prefix"),
    [
        (["sha1", "bcrypt-2y", "apr1"], BCRYPT, "$2b$04$"),
        (["crypt", "apr1", "sha1"], APR1, "$apr1$"),
        (["sha256-crypt"], SHA256, "$5$rounds=1000$"),
        (["sha512-crypt", "md5-crypt"], SHA512, "$6$rounds=1000$"),
        (["sha1"], SHA1, "{SHA}"),
    ],
)
def test_unknown_user_is_checked_against_a_dummy_of_the_strongest_scheme(
    tmp_path: Path, kinds: list[str], strongest: Scheme, prefix: str
) -> None:
    lines = [f"user{i}:{MAKERS[kind][1]('pw')}" for i, kind in enumerate(kinds)]
    users = Htpasswd.load(write(tmp_path, "\n".join(lines)))
    scheme, dummy = users.dummy
    assert scheme is strongest
    assert dummy.startswith(prefix)
    spy = Spy(scheme)
    users.dummy = (Scheme("spy", scheme.strength, spy), dummy)
    assert not users.verify("nobody", "pw")
    assert spy.hashes == [dummy]


def test_an_empty_file_still_does_bcrypt_work_for_every_user(tmp_path: Path) -> None:
    users = Htpasswd.load(write(tmp_path, "# nobody yet\n"))
    assert len(users) == 0
    assert users.dummy[0] is BCRYPT
    assert not users.verify("alice", "anything")


def test_a_known_user_does_not_touch_the_dummy(tmp_path: Path) -> None:
    users = Htpasswd.load(write(tmp_path, f"alice:{_sha1('pw')}\n"))
    spy = Spy(users.dummy[0])
    users.dummy = (Scheme("spy", 0, spy), users.dummy[1])
    assert users.verify("alice", "pw")
    assert spy.hashes == []


GOOD = "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
BOB_UNSUPPORTED = (
    "unsupported or malformed password hash for user 'bob': expected bcrypt ($2y$, $2b$, $2a$), apr1-md5 ($apr1$), "
    "SHA1 ({SHA}), md5/sha-crypt ($1$, $5$, $6$) or crypt"
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOOD + "bob\n", "2: expected 'user:hash'"),
        (GOOD + "bob:plaintext\n", f"2: {BOB_UNSUPPORTED}"),
        (GOOD + "bob:$2y$03$" + "a" * 53 + "\n", f"2: {BOB_UNSUPPORTED}"),
        (GOOD + "bob:$2x$04$" + "a" * 53 + "\n", f"2: {BOB_UNSUPPORTED}"),
        (GOOD + "bob:{SHA}short\n", f"2: {BOB_UNSUPPORTED}"),
        (GOOD + "bob:$5$salt\n", f"2: {BOB_UNSUPPORTED}"),
        (GOOD + "bob:$apr1$x\n", f"2: {BOB_UNSUPPORTED}"),
        (
            "# c\n\n" + GOOD.replace("alice", "al ice"),
            "3: invalid user name 'al ice': expected 1 to 256 characters without spaces",
        ),
        (
            ":{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
            "1: invalid user name '': expected 1 to 256 characters without spaces",
        ),
        ("# first\n" + GOOD + "\n" + GOOD, "4: user 'alice' appears twice (first on line 2)"),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(FileFormatError) as caught:
        Htpasswd.load(path)
    assert str(caught.value) == f"{path}:{message}"
    assert caught.value.file == str(path)
    assert caught.value.line == int(message.split(":", maxsplit=1)[0])


def test_unsupported_hash_message_in_full(tmp_path: Path) -> None:
    path = write(tmp_path, "bob:plaintext\n")
    with pytest.raises(FileFormatError) as caught:
        Htpasswd.load(path)
    assert str(caught.value) == (
        f"{path}:1: unsupported or malformed password hash for user 'bob': expected bcrypt ($2y$, $2b$, $2a$), "
        "apr1-md5 ($apr1$), SHA1 ({SHA}), md5/sha-crypt ($1$, $5$, $6$) or crypt"
    )


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.encode() + b"b\xffb:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    with pytest.raises(FileFormatError) as caught:
        Htpasswd.load(path)
    assert str(caught.value) == f"{path}:2: not valid UTF-8"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.htpasswd"
    with pytest.raises(FileFormatError) as caught:
        Htpasswd.load(path)
    assert str(caught.value) == f"{path}:0: cannot read: No such file or directory"
