"""Writes for accounts: users, roles, campaign membership, API tokens, invitations and the
vetting of callers (per campaign; an admin's suspension is installation-wide). Each is
audited."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.accounts.models import (
    ApiToken,
    CallerStatus,
    Invitation,
    Membership,
    Role,
    User,
    token_hash,
)
from phonebank.audit.services import log_action
from phonebank.lib import rawsql
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
    """A new user with a checked password; admins get Django admin access. Given a campaign
    (the admin's command line), the user joins it approved: the admin vouches for them."""
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
        membership_add(user=user, campaign=campaign, actor=actor, status=CallerStatus.APPROVED)
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
def membership_add(
    *, user: User, campaign, actor, status: str = CallerStatus.PENDING
) -> Membership:
    """The user joins the campaign (if not yet a member); a caller there starts ``status``,
    pending unless said otherwise: vetting elsewhere counts for nothing here."""
    membership, created = Membership.objects.get_or_create(
        user=user, campaign=campaign, defaults={"status": status}
    )
    if created:
        log_action(
            membership,
            "accounts.membership.added",
            actor=actor,
            user=user.pk,
            campaign=campaign.slug,
            role=user.role,
            status=membership.status,
        )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    """The user leaves the campaign: the contacts they hold there go back to the queue and
    their callbacks there go to other callers at once."""
    from phonebank.calling.services import callbacks_hand_over, leases_release_all

    campaign = membership.campaign
    released = leases_release_all(caller=membership.user, campaign=campaign)
    handed = callbacks_hand_over(caller=membership.user, campaign=campaign)
    log_action(
        membership,
        "accounts.membership.removed",
        actor=actor,
        user=membership.user_id,
        campaign=campaign.slug,
        contacts_released=released,
        callbacks_handed_over=handed,
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


@functools.lru_cache(maxsize=8)
def _token_sql(vendor: str) -> tuple[str, rawsql.Columns, rawsql.Columns]:
    token, user = rawsql.columns(ApiToken, "t", "id", "last_used_at"), rawsql.columns(User, "u")
    sql = (
        f"SELECT {token.sql}, {user.sql} FROM {rawsql.table(ApiToken)} t "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"INNER JOIN {rawsql.table(User)} u ON u.id = t.user_id "
        "WHERE t.key_hash = %s AND t.revoked_at IS NULL AND u.is_active = %s"
    )
    return sql, token, user


def token_authenticate(raw: str) -> User | None:
    """The active user an unrevoked token belongs to, or None.

    Checked against the database on every request (no cache), so a revoked token, a
    disabled or suspended user, or a changed role takes effect on the next request. It
    runs on every API call: one hand-written statement on the unique key_hash index,
    the same conditions as ``ApiToken.objects.active()``.
    """
    if not raw or len(raw) > 100:
        return None
    sql, token, user = _token_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_hash(raw), True])
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, last_used_at = token.values(row)
    now = timezone.now()
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return user.load(row, token.width)


@transaction.atomic
def token_revoke(*, token: ApiToken, actor) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    log_action(token, "accounts.token.revoked", actor=actor, user=token.user_id)


# --- invitations --------------------------------------------------------------------------

INVITATION_MAX_DAYS = 90
INVITATION_MAX_USES = 100


@transaction.atomic
def invitation_create(
    *, campaign, actor, note: str = "", days: int = 7, max_uses: int = 1
) -> tuple[Invitation, str]:
    """A sign-up link for a campaign; returns the row and the secret part of the link
    (shown once: only its hash is stored). phonebank sends nothing: the coordinator shares
    the link through their own channels."""
    if not 1 <= days <= INVITATION_MAX_DAYS:
        raise DomainError(
            _("An invitation is valid for 1 to %(n)d days.") % {"n": INVITATION_MAX_DAYS}
        )
    if not 1 <= max_uses <= INVITATION_MAX_USES:
        raise DomainError(
            _("An invitation can be used 1 to %(n)d times.") % {"n": INVITATION_MAX_USES}
        )
    raw = Invitation.new_raw()
    invitation = Invitation.objects.create(
        campaign=campaign,
        key_hash=token_hash(raw),
        note=note.strip()[:200],
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=days),
        max_uses=max_uses,
    )
    log_action(
        invitation,
        "accounts.invitation.created",
        actor=actor,
        campaign=campaign.slug,
        days=days,
        max_uses=max_uses,
    )
    return invitation, raw


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> Invitation:
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        log_action(invitation, "accounts.invitation.revoked", actor=actor)
    return invitation


def invitation_find(raw: str) -> Invitation | None:
    if not raw or len(raw) > 64:
        return None
    return Invitation.objects.select_related("campaign").filter(key_hash=token_hash(raw)).first()


def _check_timezone(name: str) -> str:
    if name not in zoneinfo.available_timezones():
        raise DomainError(_("Unknown time zone: %(zone)s.") % {"zone": name})
    return name


@transaction.atomic
def invitation_accept(
    *, raw: str, username: str, password: str, language: str, timezone_name: str
) -> User:
    """Sign up through an invitation: a new caller of its campaign, pending approval."""
    from django.conf import settings

    found = invitation_find(raw)
    invitation = (
        Invitation.objects.select_for_update().get(pk=found.pk) if found is not None else None
    )
    if invitation is None or invitation.state(timezone.now()) != "usable":
        raise DomainError(_("This invitation link is no longer valid."))
    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("Unknown language."))
    user = user_create(
        username=username.strip(),
        password=password,
        role=Role.CALLER,
        actor=None,
        language=language,
        timezone_name=_check_timezone(timezone_name),
    )
    membership_add(user=user, campaign=invitation.campaign, actor=user)
    invitation.uses += 1
    invitation.save(update_fields=["uses"])
    log_action(
        invitation, "accounts.invitation.used", actor=user, campaign=invitation.campaign.slug
    )
    return user


# --- vetting: per campaign, by that campaign's coordinators -------------------------------


def _vetted(membership: Membership) -> Membership:
    """The membership locked for update, with its user and campaign; a caller's only."""
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "campaign")
        .get(pk=membership.pk)
    )
    if locked.user.role != Role.CALLER:
        raise DomainError(_("Only callers are approved, trusted or suspended."))
    return locked


def _audit_vetting(locked: Membership, action: str, actor, **data) -> None:
    # Logged on the user, as before the move, with the campaign the decision holds in.
    log_action(locked.user, action, actor=actor, campaign=locked.campaign.slug, **data)


@transaction.atomic
def caller_approve(*, membership: Membership, actor) -> Membership:
    """A pending (or suspended) caller may now receive real contacts in this membership's
    campaign, and in no other. An admin's installation-wide suspension still holds."""
    locked = _vetted(membership)
    old = locked.status
    if old != CallerStatus.APPROVED:
        locked.status = CallerStatus.APPROVED
        locked.save(update_fields=["status"])
        _audit_vetting(locked, "accounts.caller.approved", actor, old=old)
    return locked


def _sessions_and_tokens_end(user: User) -> int:
    """Ends every session of ``user`` (a locked row: its session version is part of the
    session hash, so every session's hash stops verifying) and revokes its API tokens;
    how many tokens were revoked."""
    user.session_version += 1
    user.save(update_fields=["session_version"])
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def caller_suspend(*, membership: Membership, actor) -> Membership:
    """At once, in this membership's campaign: no more claims or outcomes there, the
    contacts the caller holds there go back to the queue and their callbacks there go to
    other callers.

    If the caller is approved in no other campaign, their sessions end and their API
    tokens are revoked too: nothing they may still do needs them, and whatever a planted
    volunteer had open stops at once. A caller approved in another campaign keeps both,
    since one campaign's coordinator must not stop their work there (an admin's
    ``user_suspend`` ends them everywhere)."""
    from phonebank.calling.services import callbacks_hand_over, leases_release_all

    locked = _vetted(membership)
    # The caller's row too: a claim locks it (calling.services._one_claim_at_a_time), so a
    # claim under way finishes first and its lease is released below, and a later claim
    # sees this suspension.
    user = User.objects.select_for_update().get(pk=locked.user_id)
    old = locked.status
    locked.status = CallerStatus.SUSPENDED
    locked.save(update_fields=["status"])
    released = leases_release_all(caller=locked.user, campaign=locked.campaign)
    handed = callbacks_hand_over(caller=locked.user, campaign=locked.campaign)
    elsewhere = (
        Membership.objects.filter(user_id=locked.user_id, status=CallerStatus.APPROVED)
        .exclude(pk=locked.pk)
        .exists()
    )
    revoked = 0 if elsewhere else _sessions_and_tokens_end(user)
    _audit_vetting(
        locked,
        "accounts.caller.suspended",
        actor,
        old=old,
        contacts_released=released,
        callbacks_handed_over=handed,
        sessions_ended=not elsewhere,
        tokens_revoked=revoked,
    )
    return locked


@transaction.atomic
def caller_trust_set(*, membership: Membership, trusted: bool, actor) -> Membership:
    """Marks a caller trusted in this membership's campaign (or not): there, and only there,
    they also take over other callers' callbacks after the grace period and receive the
    contacts reserved for trusted callers. Audited with the campaign."""
    locked = _vetted(membership)
    if locked.trusted != trusted:
        locked.trusted = trusted
        locked.save(update_fields=["trusted"])
        _audit_vetting(locked, "accounts.caller.trusted", actor, trusted=trusted)
    return locked


# --- suspension installation-wide, by an admin ------------------------------------------------


def _caller_locked(user: User, actor) -> User:
    if actor is not None and not actor.is_admin:
        raise DomainError(_("Only an admin may suspend an account in every campaign."))
    if user.role != Role.CALLER:
        raise DomainError(_("Only callers are approved, trusted or suspended."))
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def user_suspend(*, user: User, actor) -> User:
    """An admin's suspension, at once and in every campaign: ends the caller's sessions,
    revokes their API tokens, returns every contact they hold to the queue and hands all
    their callbacks to other callers. Each campaign's own vetting is kept for when it is
    lifted."""
    from phonebank.calling.services import callbacks_hand_over, leases_release_all

    locked = _caller_locked(user, actor)
    locked.suspended = True
    locked.save(update_fields=["suspended"])
    revoked = _sessions_and_tokens_end(locked)
    released = leases_release_all(caller=locked)
    handed = callbacks_hand_over(caller=locked)
    log_action(
        locked,
        "accounts.user.suspended",
        actor=actor,
        tokens_revoked=revoked,
        contacts_released=released,
        callbacks_handed_over=handed,
    )
    return locked


@transaction.atomic
def user_unsuspend(*, user: User, actor) -> User:
    """Lifts an admin's suspension: each campaign's own approval counts again."""
    locked = _caller_locked(user, actor)
    if locked.suspended:
        locked.suspended = False
        locked.save(update_fields=["suspended"])
        log_action(locked, "accounts.user.unsuspended", actor=actor)
    return locked


@transaction.atomic
def profile_update(*, user: User, language: str, timezone_name: str) -> User:
    from django.conf import settings

    if language and language not in dict(settings.LANGUAGES):
        raise DomainError(_("Unknown language."))
    user.language = language
    user.timezone = _check_timezone(timezone_name) if timezone_name else ""
    user.save(update_fields=["language", "timezone"])
    return user
