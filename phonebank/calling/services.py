"""Writes for calling: claims under a lease, releases, outcomes and what follows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.audit.services import log_action
from phonebank.calling import selectors
from phonebank.calling.models import CallAttempt, ClaimWindow, Outcome, Target, TargetStatus
from phonebank.campaigns.models import PlaybookEntry, RetryRule
from phonebank.contacts.services import dnc_add
from phonebank.lib.errors import DomainError
from phonebank.registry.models import Source
from phonebank.registry.services import declaration_record

CALLBACK_MAX_DAYS = 60


class LeaseLost(DomainError):
    """The caller does not hold this contact (any more): someone else has it."""


class RateLimited(DomainError):
    """Too many claims in the last minute."""


@dataclass
class Claim:
    target: Target
    renewed: bool  # the caller already held it


def _check_rate(caller, now: datetime) -> None:
    limit = settings.PHONEBANK_CLAIM_RATE_PER_MIN
    if not limit:
        return
    window, _created = ClaimWindow.objects.select_for_update().get_or_create(
        caller=caller, defaults={"window_start": now, "claims": 0}
    )
    if now - window.window_start >= timedelta(minutes=1):
        window.window_start, window.claims = now, 0
    if window.claims >= limit:
        raise RateLimited(
            _(
                "Too many contacts claimed in the last minute; record an outcome "
                "for the one you have, then try again."
            )
        )
    window.claims += 1
    window.save(update_fields=["window_start", "claims"])


@transaction.atomic
def target_claim(*, campaign, caller, now: datetime | None = None) -> Claim | None:
    """Lease the next contact this caller may call now, or None when nobody may be called.

    A caller who holds a contact gets the same one back, with its lease renewed: nobody
    hoards. On SQLite the transaction takes the write lock at its start (IMMEDIATE), so
    claims run one at a time; on PostgreSQL rows are locked with SKIP LOCKED, so concurrent
    claims pass each other. Either way the final UPDATE only succeeds on a free row.
    """
    now = now or timezone.now()
    lease_until = now + timedelta(minutes=campaign.lease_minutes)
    held = selectors.held_target(campaign, caller, now)
    if held is not None:
        Target.objects.filter(pk=held.pk).update(lease_expires_at=lease_until)
        held.lease_expires_at = lease_until
        return Claim(held, renewed=True)
    _check_rate(caller, now)
    for query in selectors.candidates(campaign, caller, now):
        for target in query.select_for_update(skip_locked=True, of=("self",))[:3]:
            taken = (
                Target.objects.filter(pk=target.pk)
                .filter(Q(lease_holder__isnull=True) | Q(lease_expires_at__lte=now))
                .update(lease_holder=caller, lease_expires_at=lease_until, leased_at=now)
            )
            if taken:
                claimed = Target.objects.select_related("contact").get(pk=target.pk)
                return Claim(claimed, renewed=False)
    return None


def _held_by(target: Target, caller, now: datetime) -> Target:
    """The target locked for update, if this caller holds it; LeaseLost otherwise.

    A lease that ran out still belongs to its caller until someone else claims the contact.
    """
    locked = (
        Target.objects.select_for_update().select_related("contact", "campaign").get(pk=target.pk)
    )
    if locked.lease_holder_id != caller.pk:
        raise LeaseLost(_("Someone else has this contact now; take the next one."))
    return locked


@transaction.atomic
def lease_renew(*, target: Target, caller, now: datetime | None = None) -> Target:
    """Keep holding a contact while the workspace is open."""
    now = now or timezone.now()
    locked = _held_by(target, caller, now)
    locked.lease_expires_at = now + timedelta(minutes=locked.campaign.lease_minutes)
    locked.save(update_fields=["lease_expires_at"])
    return locked


@transaction.atomic
def target_release(*, target: Target, caller, now: datetime | None = None) -> None:
    """Give a contact back to the queue without recording a call."""
    now = now or timezone.now()
    locked = _held_by(target, caller, now)
    Target.objects.filter(pk=locked.pk).update(
        lease_holder=None, lease_expires_at=None, leased_at=None
    )


def _callback_time(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        raise DomainError(_("Give the time of the callback."))
    if timezone.is_naive(value):
        raise DomainError(_("The callback time needs a time zone."))
    if value <= now:
        raise DomainError(_("The callback time is in the past."))
    if value > now + timedelta(days=CALLBACK_MAX_DAYS):
        raise DomainError(
            _("A callback can be at most %(days)d days ahead.") % {"days": CALLBACK_MAX_DAYS}
        )
    return value


@transaction.atomic
def outcome_record(
    *,
    target: Target,
    caller,
    outcome: str,
    notes: str = "",
    callback_at: datetime | None = None,
    objections: list[int] | None = None,
    declaration: dict | None = None,
    now: datetime | None = None,
) -> tuple[CallAttempt, str | None]:
    """Ends the caller's lease on target, records the call and schedules what comes next.

    Returns the attempt and, for a declaration, its receipt code (to read to the person;
    it is not stored). Raises LeaseLost when someone else holds the contact, DomainError
    for anything the rules refuse; nothing is written then.
    """
    now = now or timezone.now()
    if outcome not in Outcome.values:
        raise DomainError(_("Unknown outcome %(code)s.") % {"code": outcome})
    if len(notes) > 5000:
        raise DomainError(_("Notes may have at most 5,000 characters."))
    locked = _held_by(target, caller, now)
    campaign = locked.campaign
    playbook = list(
        PlaybookEntry.objects.filter(campaign=campaign, pk__in=objections or []).values_list(
            "pk", flat=True
        )
    )
    if len(playbook) != len(set(objections or [])):
        raise DomainError(_("Unknown objection for this campaign."))

    receipt = None
    locked.attempts += 1
    locked.last_outcome = outcome
    locked.callback_caller = None
    locked.next_call_at = None
    if outcome == Outcome.CALLBACK:
        locked.status = TargetStatus.CALLBACK
        locked.next_call_at = _callback_time(callback_at, now)
        locked.callback_caller = caller
    elif outcome == Outcome.DECLARED:
        declaration = declaration or {}
        allowed = set(campaign.organisations.values_list("code", flat=True))
        _decl, receipt = declaration_record(
            alias=declaration.get("alias", ""),
            organisations=list(declaration.get("organisations") or []),
            allowed=allowed,
            source=Source.PHONE,
            consent=declaration.get("consent") is True,
            province=declaration.get("province", "") or "",
        )
        locked.status = TargetStatus.DONE
    elif outcome == Outcome.DO_NOT_CALL:
        dnc_add(phone=locked.contact.phone, actor=caller, reason="asked on a call")
        locked.status = TargetStatus.DNC
    elif outcome in (Outcome.WRONG_NUMBER, Outcome.INVALID_NUMBER):
        locked.status = TargetStatus.CLOSED
    elif outcome == Outcome.REFUSED:
        locked.status = TargetStatus.DONE
    else:
        rule = RetryRule.objects.filter(campaign=campaign, outcome=outcome).first()
        times = CallAttempt.objects.filter(target=locked, outcome=outcome).count() + 1
        if rule is None or times >= rule.max_attempts:
            locked.status = TargetStatus.EXHAUSTED if rule else TargetStatus.DONE
        else:
            locked.status = TargetStatus.OPEN
            locked.next_call_at = now + timedelta(minutes=rule.delay_minutes)
    locked.lease_holder = None
    locked.lease_expires_at = None
    started = locked.leased_at or now
    locked.leased_at = None
    locked.save()
    attempt = CallAttempt.objects.create(
        target=locked,
        campaign=campaign,
        caller=caller,
        started_at=started,
        ended_at=now,
        outcome=outcome,
        notes=notes,
    )
    if playbook:
        attempt.objections.set(playbook)
    log_action(attempt, "calling.outcome.recorded", actor=caller, outcome=outcome)
    return attempt, receipt
