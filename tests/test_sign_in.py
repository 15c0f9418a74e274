"""Sign-in and password change: over-long input is refused before any hashing, and the
session key changes when someone signs in (no session fixation)."""

from __future__ import annotations

import pytest
from django.contrib.auth import hashers

from phonebank.accounts.validators import MAX_PASSWORD
from tests.conftest import PASSWORD

TOO_LONG = "x" * (MAX_PASSWORD + 1)


@pytest.fixture
def hashing(monkeypatch) -> list[str]:
    """Every call into a configured password hasher (hash, verify, timing padding)."""
    calls: list[str] = []
    for hasher in hashers.get_hashers():
        for method in ("encode", "verify", "harden_runtime"):
            real = getattr(type(hasher), method)

            def spy(self, *args, _real=real, _name=f"{hasher.algorithm}.{method}", **kwargs):
                calls.append(_name)
                return _real(self, *args, **kwargs)

            monkeypatch.setattr(type(hasher), method, spy)
    return calls


def _sign_in(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("username", ["cora", "nobody-of-that-name"])
def test_an_over_long_password_at_sign_in_is_refused_before_hashing(
    client, coordinator, hashing, username
):
    response = _sign_in(client, username, TOO_LONG)
    assert response.status_code == 200
    assert hashing == []
    body = response.content.decode()
    assert f"This password is too long: use at most {MAX_PASSWORD} characters." in body
    assert "_auth_user_id" not in client.session


def test_the_longest_allowed_password_is_checked_as_usual(client, coordinator, hashing):
    """The control: at the limit the hasher runs (and says no), so the test above can fail."""
    response = _sign_in(client, "cora", "x" * MAX_PASSWORD)
    assert response.status_code == 200 and hashing != []
    assert "too long" not in response.content.decode()


def test_the_refusal_is_translated(client, coordinator, hashing):
    response = _sign_in(client, "cora", TOO_LONG, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert f"密码太长：最多使用 {MAX_PASSWORD} 个字符。" in response.content.decode()
    assert hashing == []


def test_an_over_long_username_is_refused_before_hashing(client, coordinator, hashing):
    response = _sign_in(client, "u" * 151, PASSWORD)
    assert response.status_code == 200 and hashing == []
    assert "at most 150 characters" in response.content.decode()


def test_an_over_long_old_password_is_refused_before_hashing(signed_in, caller, hashing):
    client = signed_in(caller)
    response = client.post(
        "/accounts/password/",
        {"old_password": TOO_LONG, "new_password1": TOO_LONG, "new_password2": TOO_LONG},
    )
    assert response.status_code == 200
    assert hashing == []
    body = response.content.decode()
    assert f"This password is too long: use at most {MAX_PASSWORD} characters." in body
    caller.refresh_from_db()
    assert caller.check_password(PASSWORD)


def test_a_password_change_still_works(signed_in, caller):
    client = signed_in(caller)
    new = "a new and long passphrase"
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    caller.refresh_from_db()
    assert caller.check_password(new)


def test_the_session_key_changes_at_password_sign_in(client, caller):
    """Session fixation: a key planted (or seen) before sign-in is worthless after it."""
    from django.contrib.sessions.backends.db import SessionStore

    session = client.session
    session["planted"] = "before sign-in"
    session.save()
    before = session.session_key
    client.cookies["sessionid"] = before
    response = _sign_in(client, "cal", PASSWORD)
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after and after != before
    assert not SessionStore().exists(before)  # the old key is gone, not just unused
    assert client.session["_auth_user_id"] == str(caller.pk)
    # The planted key signs nobody in.
    client.cookies["sessionid"] = before
    assert "_auth_user_id" not in client.session


def test_the_django_admin_s_password_change_is_the_site_s_bounded_one(signed_in, admin, hashing):
    client = signed_in(admin)
    for response in (
        client.get("/admin/password_change/"),
        client.post(
            "/admin/password_change/",
            {"old_password": TOO_LONG, "new_password1": TOO_LONG, "new_password2": TOO_LONG},
        ),
    ):
        assert response.status_code == 302 and response["Location"] == "/accounts/password/"
    assert hashing == []
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)
    assert client.get("/accounts/password/").status_code == 200
