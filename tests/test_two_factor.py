"""Two-factor sign-in for admins and coordinators: TOTP set-up, single-use codes, backup
codes, lockout, and the middleware that puts it in front of every staff page."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from django.urls import reverse

from phonebank.accounts import twofactor
from phonebank.accounts.models import BackupCode, SecondFactor
from phonebank.audit.models import LogEntry
from phonebank.lib.errors import DomainError
from tests.conftest import PASSWORD

NOW = 1_795_000_000.0  # a fixed moment, on a step boundary plus a little


@pytest.fixture(autouse=True)
def _required(settings):
    settings.PHONEBANK_REQUIRE_2FA = True


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _code(secret: str, at: float) -> str:
    return twofactor._totp(secret).generate(at).decode()


def _sign_in(client, user):
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return response


def _enrol(user, at=NOW) -> tuple[str, list[str]]:
    secret = twofactor.setup_start(user)
    codes = twofactor.setup_confirm(user, _code(secret, at), now=at)
    return secret, codes


def test_staff_must_set_up_a_second_factor_before_anything_else(client, coordinator, frozen):
    _sign_in(client, coordinator)
    for path in (reverse("campaigns:list"), "/admin/", reverse("accounts:profile")):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:2fa_setup"))
    page = client.get(reverse("accounts:2fa_setup"), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)[1].replace(" ", "")
    assert SecondFactor.objects.get(user=coordinator).secret == ""  # not active until confirmed
    wrong = client.post(
        reverse("accounts:2fa_setup"), {"code": "000000"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    done = client.post(
        reverse("accounts:2fa_setup"), {"code": _code(secret, NOW)}, HTTP_ACCEPT_LANGUAGE="en"
    )
    codes = re.findall(r"<li>([A-Z2-7]{5}-[A-Z2-7]{5})</li>", done.content.decode())
    assert len(codes) == 10 and "no-store" in done["Cache-Control"]
    assert client.get(reverse("campaigns:list")).status_code == 200
    assert LogEntry.objects.filter(action="accounts.2fa.enabled").count() == 1
    # Stored encrypted and hashed, never as given.
    device = SecondFactor.objects.get(user=coordinator)
    assert device.secret == secret
    raw = SecondFactor.objects.filter(pk=device.pk).values_list("secret", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_secondfactor")
        assert secret not in cursor.fetchone()[0]
    assert list(raw)
    assert codes[0].replace("-", "") not in str(list(BackupCode.objects.values()))


def test_each_sign_in_asks_for_a_fresh_code_and_a_code_works_once(client, coordinator, frozen):
    secret, _codes = _enrol(coordinator)
    _sign_in(client, coordinator)
    assert client.get(reverse("campaigns:list"))["Location"].startswith(
        reverse("accounts:2fa_verify")
    )
    before = client.session.session_key
    # The code that confirmed the set-up cannot be used again.
    replay = client.post(
        reverse("accounts:2fa_verify"), {"code": _code(secret, NOW)}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert replay.status_code == 400 and "used already" in replay.content.decode()
    frozen.shift(30)
    ok = client.post(
        reverse("accounts:2fa_verify"), {"code": _code(secret, NOW + 30), "next": "/campaigns/"}
    )
    assert ok.status_code == 302 and ok["Location"] == "/campaigns/"
    assert client.session.session_key != before  # a new session key once proved
    assert client.get(reverse("campaigns:list")).status_code == 200


def test_a_backup_code_works_once(client, coordinator, frozen):
    _secret, codes = _enrol(coordinator)
    _sign_in(client, coordinator)
    assert (
        client.post(reverse("accounts:2fa_verify"), {"code": codes[3].lower()}).status_code == 302
    )
    client.logout()
    _sign_in(client, coordinator)
    again = client.post(reverse("accounts:2fa_verify"), {"code": codes[3]})
    assert again.status_code == 400
    assert LogEntry.objects.filter(action="accounts.2fa.backup_code_used").count() == 1


def test_five_wrong_codes_lock_the_second_factor(coordinator, frozen):
    secret, _codes = _enrol(coordinator)
    for _ in range(twofactor.MAX_FAILURES):
        assert twofactor.verify(coordinator, "123456", now=NOW + 60) is False
    with pytest.raises(DomainError, match="Too many"):
        twofactor.verify(coordinator, _code(secret, NOW + 60), now=NOW + 60)
    frozen.shift(16 * 60)
    assert twofactor.verify(coordinator, _code(secret, NOW + 16 * 60), now=NOW + 16 * 60)


def test_codes_from_a_neighbouring_step_count_but_not_older_ones(coordinator):
    secret, _codes = _enrol(coordinator, at=NOW)
    assert twofactor.verify(coordinator, _code(secret, NOW + 60), now=NOW + 90)  # one step late
    assert not twofactor.verify(coordinator, _code(secret, NOW + 30), now=NOW + 90)  # older
    assert not twofactor.verify(coordinator, "12345", now=NOW + 120)  # wrong length


def test_callers_are_not_asked(client, caller):
    _sign_in(client, caller)
    assert client.get(reverse("calling:home")).status_code in (200, 302)
    assert not client.get(reverse("calling:home")).get("Location", "").startswith("/accounts/2fa")


def test_replacing_the_authenticator_needs_the_second_factor_first(client, coordinator, frozen):
    secret, _codes = _enrol(coordinator)
    _sign_in(client, coordinator)
    assert client.get(reverse("accounts:2fa_setup"))["Location"].startswith(
        reverse("accounts:2fa_verify")
    )
    frozen.shift(30)
    client.post(reverse("accounts:2fa_verify"), {"code": _code(secret, NOW + 30)})
    page = client.get(reverse("accounts:2fa_setup"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    new = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)[1].replace(" ", "")
    frozen.shift(30)
    client.post(reverse("accounts:2fa_setup"), {"code": _code(new, NOW + 60)})
    assert SecondFactor.objects.get(user=coordinator).secret == new
    assert LogEntry.objects.filter(action="accounts.2fa.replaced").count() == 1
    profile = client.get(reverse("accounts:profile"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "10 backup codes left" in profile
    renewed = client.post(reverse("accounts:2fa_codes"), HTTP_ACCEPT_LANGUAGE="en")
    assert (
        renewed.status_code == 200
        and len(re.findall(r"<li>[A-Z2-7]{5}-", renewed.content.decode())) == 10
    )


def test_an_admin_reset_removes_the_device_and_ends_sessions(client, admin, coordinator, frozen):
    _enrol(coordinator)
    client.force_login(coordinator)
    twofactor.reset(user=coordinator, actor=admin)
    assert not SecondFactor.objects.filter(user=coordinator).exists()
    assert client.get(reverse("campaigns:list"))["Location"].startswith(reverse("accounts:login"))
    assert LogEntry.objects.get(action="accounts.2fa.reset").actor == admin


def test_the_next_parameter_cannot_send_elsewhere(client, coordinator, frozen):
    secret, _codes = _enrol(coordinator)
    _sign_in(client, coordinator)
    frozen.shift(30)
    response = client.post(
        reverse("accounts:2fa_verify"),
        {"code": _code(secret, NOW + 30), "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("home")


def test_the_clock_check_helper_is_real_time_by_default():
    assert abs(twofactor._step() - int(time.time() // 30)) <= 1


def test_an_admin_resets_a_lost_authenticator_from_the_admin(client, admin, coordinator, frozen):
    _enrol(coordinator)
    secret, _codes = _enrol(admin)
    _sign_in(client, admin)
    frozen.shift(30)
    client.post(reverse("accounts:2fa_verify"), {"code": _code(secret, NOW + 30)})
    response = client.post(
        "/admin/accounts/user/",
        {"action": "reset_second_factor", "_selected_action": [coordinator.pk]},
    )
    assert response.status_code == 302
    assert not SecondFactor.objects.filter(user=coordinator).exists()
    assert SecondFactor.objects.filter(user=admin).exists()
