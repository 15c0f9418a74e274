"""Two-factor sign-in for staff: TOTP (RFC 6238) and one-time backup codes.

TOTP comes from `cryptography` (6 digits, 30-second steps, SHA-1: what authenticator apps
use); secrets are encrypted at rest like other personal data; a code is accepted once (the
step it matched is remembered, and only later steps count); backup codes are stored as
SHA-256 hashes. Five wrong codes lock the second factor for 15 minutes. No SMS: a phone
network is exactly what the adversary controls.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import timedelta

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.accounts.models import BackupCode, SecondFactor, User
from phonebank.audit.services import log_action
from phonebank.lib.errors import DomainError

STEP = 30
DIGITS = 6
WINDOW = 1  # steps either side, for clocks a little off
MAX_FAILURES = 5
LOCK = timedelta(minutes=15)
BACKUP_CODES = 10
ISSUER = "phonebank"


def _totp(secret: str) -> TOTP:
    # SHA-1 is what RFC 6238 and every authenticator app use for TOTP; as an HMAC it is sound.
    return TOTP(base64.b32decode(secret), DIGITS, SHA1(), STEP, enforce_key_length=False)  # noqa: S303 - HMAC-SHA1 as RFC 6238 specifies  # nosec B303


def _normal_backup(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def _backup_hash(code: str) -> str:
    return hashlib.sha256(b"phonebank backup code\n" + _normal_backup(code).encode()).hexdigest()


def enabled(user) -> bool:
    device = getattr(user, "second_factor", None) if user.pk else None
    return device is not None and device.confirmed_at is not None and bool(device.secret)


def setup_start(user: User) -> str:
    """A new secret to confirm (replacing the device only once confirmed); returns it."""
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    device, _created = SecondFactor.objects.get_or_create(user=user)
    device.pending_secret = secret
    device.save(update_fields=["pending_secret"])
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    return _totp(secret).get_provisioning_uri(user.username, ISSUER)


def _step(now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // STEP)


def _matching_step(secret: str, code: str, last_step: int, now: float | None) -> int | None:
    code = "".join(c for c in code if c.isdigit())
    if len(code) != DIGITS:
        return None
    totp, current = _totp(secret), _step(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step <= last_step:
            continue  # a code is good once: replays and older codes are refused
        try:
            totp.verify(code.encode(), step * STEP)
        except InvalidToken:
            continue
        return step
    return None


def _new_backup_codes(user: User) -> list[str]:
    BackupCode.objects.filter(user=user).delete()
    codes = []
    for _i in range(BACKUP_CODES):
        raw = base64.b32encode(secrets.token_bytes(6)).decode().rstrip("=")[:10]
        codes.append(f"{raw[:5]}-{raw[5:]}")
    BackupCode.objects.bulk_create(BackupCode(user=user, code_hash=_backup_hash(c)) for c in codes)
    return codes


@transaction.atomic
def setup_confirm(user: User, code: str, *, now: float | None = None) -> list[str]:
    """Confirms the pending secret with a code from the app; returns new backup codes
    (shown once)."""
    device = SecondFactor.objects.select_for_update().filter(user=user).first()
    if device is None or not device.pending_secret:
        raise DomainError(_("Start the set-up again."))
    step = _matching_step(device.pending_secret, code, 0, now)
    if step is None:
        raise DomainError(_("That code is not right. Check the time on your phone and try again."))
    replaced = device.confirmed_at is not None
    device.secret, device.pending_secret = device.pending_secret, ""
    device.confirmed_at = timezone.now()
    device.last_step, device.failures, device.locked_until = step, 0, None
    device.save()
    log_action(user, "accounts.2fa.replaced" if replaced else "accounts.2fa.enabled", actor=user)
    return _new_backup_codes(user)


@transaction.atomic
def verify(user: User, code: str, *, now: float | None = None) -> bool:
    """Checks a TOTP or backup code at sign-in; counts failures and locks after five."""
    device = SecondFactor.objects.select_for_update().filter(user=user).first()
    if device is None or device.confirmed_at is None:
        return False
    moment = timezone.now()
    if device.locked_until is not None and device.locked_until > moment:
        raise DomainError(_("Too many wrong codes. Try again in 15 minutes."))
    step = _matching_step(device.secret, code, device.last_step, now)
    if step is not None:
        device.last_step, device.failures, device.locked_until = step, 0, None
        device.save(update_fields=["last_step", "failures", "locked_until"])
        return True
    backup = (
        BackupCode.objects.select_for_update()
        .filter(user=user, code_hash=_backup_hash(code), used_at__isnull=True)
        .first()
        if len(_normal_backup(code)) == 10
        else None
    )
    if backup is not None:
        backup.used_at = moment
        backup.save(update_fields=["used_at"])
        device.failures, device.locked_until = 0, None
        device.save(update_fields=["failures", "locked_until"])
        log_action(user, "accounts.2fa.backup_code_used", actor=user)
        return True
    device.failures += 1
    if device.failures >= MAX_FAILURES:
        device.failures, device.locked_until = 0, moment + LOCK
        log_action(user, "accounts.2fa.locked", actor=None)
    device.save(update_fields=["failures", "locked_until"])
    return False


@transaction.atomic
def backup_codes_renew(user: User) -> list[str]:
    log_action(user, "accounts.2fa.backup_codes_renewed", actor=user)
    return _new_backup_codes(user)


@transaction.atomic
def reset(*, user: User, actor) -> None:
    """An admin removes a staff member's lost authenticator: they set up a new one at their
    next sign-in (which their password still guards)."""
    SecondFactor.objects.filter(user=user).delete()
    BackupCode.objects.filter(user=user).delete()
    user.session_version += 1
    user.save(update_fields=["session_version"])
    log_action(user, "accounts.2fa.reset", actor=actor)
