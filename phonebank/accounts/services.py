"""Writes for accounts: users, roles, campaign membership, API tokens. Each is audited."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.accounts.models import ApiToken, Membership, Role, User, token_hash
from phonebank.audit.services import log_action
from phonebank.lib.errors import DomainError


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    actor=None,
    campaign=None,
    language: str = "",
    timezone_name: str = "",
) -> User:
    """A new user with a checked password; admins get Django admin access."""
    if role not in Role.values:
        raise DomainError(_("Unknown role %(role)s.") % {"role": role})
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(_("The username %(name)s is taken.") % {"name": username})
    user = User(username=username, role=role, language=language, timezone=timezone_name)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages)) from exc
    user.set_password(password)
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save()
    log_action(user, "accounts.user.created", actor=actor, role=role)
    if campaign is not None:
        membership_add(user=user, campaign=campaign, actor=actor)
    return user


@transaction.atomic
def user_role_set(*, user: User, role: str, actor) -> User:
    """Change a user's role; audited with the old and new role."""
    if role not in Role.values:
        raise DomainError(_("Unknown role %(role)s.") % {"role": role})
    old = User.objects.select_for_update().get(pk=user.pk).role
    if old != role:
        user.role = role
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.save(update_fields=["role", "is_staff", "is_superuser"])
        log_action(user, "accounts.role.changed", actor=actor, old=old, new=role)
    return user


@transaction.atomic
def membership_add(*, user: User, campaign, actor) -> Membership:
    membership, created = Membership.objects.get_or_create(user=user, campaign=campaign)
    if created:
        log_action(
            membership,
            "accounts.membership.added",
            actor=actor,
            user=user.pk,
            campaign=campaign.slug,
            role=user.role,
        )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    log_action(
        membership,
        "accounts.membership.removed",
        actor=actor,
        user=membership.user_id,
        campaign=membership.campaign.slug,
    )
    membership.delete()


@transaction.atomic
def token_create(*, user: User, actor, name: str = "") -> tuple[ApiToken, str]:
    """A new API token; returns the row and the token itself, which is never stored."""
    raw = ApiToken.new_raw()
    token = ApiToken.objects.create(
        user=user, name=name[:100], key_hash=token_hash(raw), hint=raw[-6:]
    )
    log_action(token, "accounts.token.created", actor=actor, user=user.pk)
    return token, raw


def token_authenticate(raw: str) -> User | None:
    """The active user a token belongs to, or None."""
    if not raw or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.active().select_related("user").filter(key_hash=token_hash(raw)).first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def token_revoke(*, token: ApiToken, actor) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    log_action(token, "accounts.token.revoked", actor=actor, user=token.user_id)
