"""Sign-in, throttling, roles and API tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import time_machine
from django.utils import timezone

from phonebank import settings as production_settings
from phonebank.accounts import services
from phonebank.accounts.models import ApiToken, Role
from phonebank.audit.models import LogEntry
from phonebank.lib.errors import DomainError
from tests.conftest import PASSWORD


def _sign_in(client, username, password=PASSWORD, address="198.51.100.7"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_argon2_hashes_passwords_in_production():
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_signing_in_and_out_is_audited(client, coordinator):
    assert _sign_in(client, "cora")["Location"] == "/"
    client.post("/accounts/logout/")
    actions = list(LogEntry.objects.filter(actor=coordinator).values_list("action", flat=True))
    assert "accounts.signin" in actions and "accounts.signout" in actions


def test_a_wrong_password_re_renders_with_a_message(client, coordinator):
    response = _sign_in(client, "cora", "wrong password!")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_five_failures_lock_that_user_from_that_address_until_the_cool_off(client, coordinator):
    for _ in range(5):
        _sign_in(client, "cora", "wrong password!")
    locked = _sign_in(client, "cora")
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    # Another address is not locked out (no one can lock everyone out) ...
    assert _sign_in(client, "cora", address="203.0.113.9").status_code == 302
    client.post("/accounts/logout/")
    # ... and the lockout expires.
    with time_machine.travel(timezone.now() + production_settings.AXES_COOLOFF_TIME * 1.1):
        assert _sign_in(client, "cora")["Location"] == "/"


def test_throttling_keeps_addresses_only_as_keyed_hashes(client, coordinator):
    from axes.models import AccessAttempt

    _sign_in(client, "cora", "wrong password!", address="198.51.100.7")
    attempt = AccessAttempt.objects.get()
    assert "198.51.100.7" not in attempt.ip_address
    assert attempt.ip_address.startswith("fd")  # a unique-local IPv6 address, not theirs


def test_tokens_are_stored_only_as_hashes_and_authenticate(coordinator):
    token, raw = services.token_create(user=coordinator, actor=None, name="sheet")
    assert raw.startswith("pbt_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in (stored.key_hash, stored.hint, stored.name)
    assert services.token_authenticate(raw) == coordinator
    assert services.token_authenticate(raw + "x") is None
    assert LogEntry.objects.filter(action="accounts.token.created").exists()
    services.token_revoke(token=stored, actor=None)
    assert services.token_authenticate(raw) is None


def test_a_disabled_users_token_stops_working(coordinator):
    _token, raw = services.token_create(user=coordinator, actor=None)
    coordinator.is_active = False
    coordinator.save()
    assert services.token_authenticate(raw) is None


def test_role_changes_are_audited_with_old_and_new(caller, admin):
    services.user_role_set(user=caller, role=Role.COORDINATOR, actor=admin)
    entry = LogEntry.objects.get(action="accounts.role.changed")
    assert entry.data == {"old": "caller", "new": "coordinator"}
    assert entry.actor == admin


def test_role_changes_through_the_django_admin_are_audited(signed_in, admin, caller):
    client = signed_in(admin)
    page = client.get(f"/admin/accounts/user/{caller.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "role": "coordinator",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        }
    )
    data.pop("last_login", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    response = client.post(f"/admin/accounts/user/{caller.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    caller.refresh_from_db()
    assert caller.role == "coordinator"
    assert LogEntry.objects.filter(action="accounts.role.changed", actor=admin).exists()


@pytest.mark.parametrize("password", ["short", "1234567890123", "x" * 129])
def test_weak_or_over_long_passwords_are_refused(db, password):
    with pytest.raises(DomainError):
        services.user_create(username="newbie", password=password, role=Role.CALLER)


def test_usernames_are_unique_regardless_of_case(coordinator):
    with pytest.raises(DomainError, match="taken"):
        services.user_create(username="CORA", password=PASSWORD, role=Role.CALLER)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PHONEBANK_DEBUG", "maybe", "PHONEBANK_DEBUG must be 0 or 1"),
        ("PHONEBANK_CLAIM_RATE_PER_MIN", "fast", "must be a whole number"),
        ("PHONEBANK_LOG_BATCH_SECONDS", "0", "must be at least 1"),
        ("PHONEBANK_SECRET_KEY", "short", "at least 32 characters"),
        ("PHONEBANK_DATA_KEY", "{not json", "PHONEBANK_DATA_KEY"),
        ("DATABASE_URL", "nosuchdb://x", "nosuchdb"),
    ],
)
def test_bad_settings_stop_start_up_loudly(tmp_path, variable, value, message):
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(tmp_path),
        variable: value,
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(("threshold", "expected"), [("", 5), ("0", None), ("1", 1)])
def test_postgresql_binds_on_the_server_and_prepares_repeated_statements(
    tmp_path, threshold, expected
):
    # Settings only: nothing connects to this address.
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(tmp_path),
        "DATABASE_URL": "postgres://someone:secret@127.0.0.1:1/phonebank",
        "PHONEBANK_PG_PREPARE_THRESHOLD": threshold,
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.strip().splitlines()[-1])
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == expected


def test_generated_secrets_are_private_files(tmp_path):
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(tmp_path / "home"),
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    env.pop("PHONEBANK_SECRET_KEY", None)
    env.pop("PHONEBANK_DATA_KEY", None)
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        check=True,
        timeout=60,
    )
    for name in ("secret.key", "data-keys.json"):
        assert (tmp_path / "home" / name).stat().st_mode & 0o777 == 0o600


def test_the_worker_prunes_sign_in_attempts_once_their_cool_off_is_over(client, coordinator):
    from axes.models import AccessAttempt

    from phonebank.contacts.management.commands.worker import Command

    def prune():
        Command()._prune_sign_in_attempts()  # what the worker's loop runs each time round

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(5):
            _sign_in(client, "cora", "wrong password!")
        clock.shift(10 * 60)
        _sign_in(client, "cora", "wrong password!", address="203.0.113.9")
        prune()  # 10 minutes on: both still count
        assert AccessAttempt.objects.count() == 2
        clock.shift(6 * 60)
        prune()  # 16 minutes on: the first address's cool-off is over, the second's is not
        assert list(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == [1]
        clock.shift(10 * 60)
        prune()
        assert not AccessAttempt.objects.exists()
        assert _sign_in(client, "cora")["Location"] == "/"
