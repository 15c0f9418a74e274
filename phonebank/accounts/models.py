from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from phonebank.lib.fields import EncryptedTextField


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    COORDINATOR = "coordinator", _("Coordinator")
    CALLER = "caller", _("Caller")


class CallerStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    SUSPENDED = "suspended", _("Suspended")


class User(AbstractUser):
    """A person who signs in. Email is optional: volunteers need not give one.

    Vetting is per campaign (``Membership.status`` and ``trusted``): a coordinator decides
    who gets real contacts in their own campaign only. What stays here is installation-wide:
    ``suspended`` by an admin stops the caller in every campaign. `session_version` is part
    of the session hash: raising it ends every session of the user at once.
    """

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CALLER)
    language = models.CharField(max_length=10, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    suspended = models.BooleanField(default=False)  # by an admin, in every campaign
    session_version = models.PositiveIntegerField(default=0)

    def _get_session_auth_hash(self, secret=None):
        key_salt = "phonebank.accounts.User.session_auth_hash"
        value = f"{self.password}:{self.session_version}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR

    @property
    def is_staff_role(self) -> bool:
        return self.role in (Role.ADMIN, Role.COORDINATOR)


class Membership(models.Model):
    """A user's place in one campaign. The user's role says what they may do there; for a
    caller, ``status`` and ``trusted`` are that campaign's coordinators' vetting, which no
    other campaign sees or shares. A caller starts *pending* in each campaign they join."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="memberships"
    )
    status = models.CharField(
        max_length=16, choices=CallerStatus.choices, default=CallerStatus.PENDING
    )
    trusted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "campaign"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.campaign}"


def caller_standing(user: User, status: str | None) -> str:
    """What ``user`` may do in one campaign, as a CallerStatus value, given the status of
    their membership there (None: no membership). Staff are always approved; a caller an
    admin suspended is suspended everywhere; otherwise the membership says (none: pending).
    Only APPROVED gets real contacts."""
    if user.role != Role.CALLER:
        return CallerStatus.APPROVED
    if user.suspended:
        return CallerStatus.SUSPENDED
    return status or CallerStatus.PENDING


TOKEN_PREFIX = "pbt_"  # noqa: S105 - a visible prefix, not a secret  # nosec B105


def token_hash(raw: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to guess.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """An API token. Only its hash is stored; the token itself is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    key_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8)  # last characters, to tell tokens apart in lists
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}…{self.hint}"

    @staticmethod
    def new_raw() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


class InvitationQuerySet(models.QuerySet):
    def usable(self, now):
        return self.filter(
            revoked_at__isnull=True, expires_at__gt=now, uses__lt=models.F("max_uses")
        )


class Invitation(models.Model):
    """A sign-up link for a campaign. Only its hash is kept; the link is shown once."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="invitations"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=200, blank=True, default="")  # who it was for
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    def __str__(self) -> str:
        return f"invitation {self.pk} to {self.campaign_id}"

    def state(self, now) -> str:
        """usable, revoked, expired or used (in that order of precedence)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.uses >= self.max_uses:
            return "used"
        return "usable"

    @staticmethod
    def new_raw() -> str:
        return secrets.token_urlsafe(24)


class SecondFactor(models.Model):
    """A staff member's TOTP authenticator (RFC 6238: 6 digits, 30 s, SHA-1, as every app
    expects). The secret is encrypted at rest; `last_step` makes each code single-use."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="second_factor")
    secret = EncryptedTextField(purpose="accounts.totp")  # "" until the first confirmation
    pending_secret = EncryptedTextField(purpose="accounts.totp.pending")  # being set up
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"second factor of {self.user_id}"


class BackupCode(models.Model):
    """A one-time recovery code; only its hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"backup code of {self.user_id}"
