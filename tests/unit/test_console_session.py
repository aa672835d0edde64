"""The console's sessions and CSRF tokens: signed, expiring, revocable, bound to the admin token."""

from __future__ import annotations

from stockade.console.session import LIFETIME, SKEW, Sessions, same_value

TOKEN = "a-long-enough-admin-token"
T0 = 1_800_000_000.0


def test_a_session_issued_is_accepted_until_it_expires() -> None:
    sessions = Sessions(TOKEN)
    cookie = sessions.issue(T0)
    session = sessions.verify(cookie, T0 + 10)
    assert session is not None
    assert sessions.verify(cookie, T0 + LIFETIME - 1) == session
    assert sessions.verify(cookie, T0 + LIFETIME) is None


def test_a_session_from_the_future_beyond_the_skew_is_refused() -> None:
    sessions = Sessions(TOKEN)
    cookie = sessions.issue(T0 + SKEW + 10)
    assert sessions.verify(cookie, T0) is None


def test_a_forged_or_tampered_cookie_is_refused() -> None:
    sessions = Sessions(TOKEN)
    cookie = sessions.issue(T0)
    issued, nonce, mac = cookie.split(".")
    for bad in (
        None,
        "",
        "garbage",
        f"{int(issued) + 1}.{nonce}.{mac}",  # a later issue time, to live longer
        f"{issued}.{nonce}x.{mac}",
        f"{issued}.{nonce}.{mac[:-1]}",
        f"{issued}.{nonce}.{mac}é",
        "x" * 500,
    ):
        assert sessions.verify(bad, T0 + 1) is None, bad


def test_another_token_makes_other_sessions() -> None:
    cookie = Sessions(TOKEN).issue(T0)
    assert Sessions(TOKEN + "-changed").verify(cookie, T0) is None
    assert Sessions(TOKEN).verify(cookie, T0) is not None  # every server with the token derives the same key


def test_an_empty_token_refuses_every_login_and_session() -> None:
    sessions = Sessions("")
    assert not sessions.token_matches("")
    assert not sessions.token_matches("anything")
    assert sessions.verify(Sessions("").issue(T0), T0) is None


def test_the_token_is_compared_whole() -> None:
    sessions = Sessions(TOKEN)
    assert sessions.token_matches(TOKEN)
    assert not sessions.token_matches(TOKEN[:-1])
    assert not sessions.token_matches(TOKEN + " ")
    assert "a-long" not in repr(sessions)


def test_a_revoked_session_is_refused_here() -> None:
    sessions = Sessions(TOKEN)
    cookie = sessions.issue(T0)
    session = sessions.verify(cookie, T0)
    assert session is not None
    sessions.revoke(session, T0)
    assert sessions.verify(cookie, T0 + 1) is None
    assert sessions.verify(sessions.issue(T0), T0 + 1) is not None
    assert Sessions(TOKEN).verify(cookie, T0 + 1) is None  # a reload builds new Sessions: still revoked


def test_the_csrf_token_belongs_to_its_session() -> None:
    sessions = Sessions(TOKEN)
    one = sessions.verify(sessions.issue(T0), T0)
    two = sessions.verify(sessions.issue(T0), T0)
    assert one is not None
    assert two is not None
    assert sessions.csrf_matches(one, sessions.csrf(one))
    assert not sessions.csrf_matches(one, sessions.csrf(two))
    assert not sessions.csrf_matches(one, None)
    assert not sessions.csrf_matches(one, "")
    assert not sessions.csrf_matches(one, sessions.csrf(one) + "x")


def test_the_login_form_repeats_its_cookie() -> None:
    assert same_value("abc", "abc")
    assert not same_value("abc", "abd")
    assert not same_value(None, "abc")
    assert not same_value("", "")
