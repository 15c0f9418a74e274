"""Writes for campaigns."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from phonebank.accounts.services import membership_add
from phonebank.audit.services import log_action
from phonebank.campaigns.models import (
    DEFAULT_ORGANISATIONS,
    DEFAULT_RETRY_RULES,
    Campaign,
    Organisation,
    PlaybookEntry,
    RetryRule,
)
from phonebank.lib import hours
from phonebank.lib.errors import DomainError

RESERVED_SLUGS = {"when", "new"}  # URL words beside /call/<slug>/ and /campaigns/<slug>/


def _checked_hours(text: str) -> str:
    try:
        return hours.normalise(text)
    except hours.HoursError as exc:
        raise DomainError(_("Calling hours: %(reason)s.") % {"reason": exc}) from exc


@transaction.atomic
def campaign_create(
    *, slug: str, name: str, actor, calling_hours: str = hours.DEFAULT, **fields
) -> Campaign:
    """A new campaign; a coordinator who creates one becomes its member."""
    if slug != slugify(slug) or not slug:
        raise DomainError(_("The short name may use only lower-case letters, digits and hyphens."))
    if slug in RESERVED_SLUGS:
        raise DomainError(_("The short name %(slug)s is reserved.") % {"slug": slug})
    if Campaign.objects.filter(slug=slug).exists():
        raise DomainError(_("A campaign with the short name %(slug)s exists.") % {"slug": slug})
    campaign = Campaign.objects.create(
        slug=slug, name=name, calling_hours=_checked_hours(calling_hours), **fields
    )
    RetryRule.objects.bulk_create(
        RetryRule(campaign=campaign, outcome=o, delay_minutes=d, max_attempts=m)
        for o, (d, m) in DEFAULT_RETRY_RULES.items()
    )
    Organisation.objects.bulk_create(
        Organisation(
            campaign=campaign, code=c, name_en=en, name_zh_hans=hans, name_zh_hant=hant, order=i
        )
        for i, (c, en, hans, hant) in enumerate(DEFAULT_ORGANISATIONS)
    )
    log_action(campaign, "campaigns.campaign.created", actor=actor, slug=slug)
    if actor is not None and actor.is_coordinator:
        membership_add(user=actor, campaign=campaign, actor=actor)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor, **fields) -> Campaign:
    """Change a campaign's settings; the audit entry names the fields changed."""
    if "calling_hours" in fields:
        fields["calling_hours"] = _checked_hours(fields["calling_hours"])
    changed = [f for f, v in fields.items() if getattr(campaign, f) != v]
    for f in changed:
        setattr(campaign, f, fields[f])
    if changed:
        campaign.save(update_fields=changed)
        log_action(campaign, "campaigns.campaign.updated", actor=actor, fields=changed)
    return campaign


@transaction.atomic
def retry_rules_set(*, campaign: Campaign, rules: dict[str, tuple[int, int]], actor) -> None:
    """Replace the campaign's retry policy; outcomes left out are not retried."""
    RetryRule.objects.filter(campaign=campaign).exclude(outcome__in=rules).delete()
    for outcome, (delay, most) in rules.items():
        RetryRule.objects.update_or_create(
            campaign=campaign,
            outcome=outcome,
            defaults={"delay_minutes": delay, "max_attempts": most},
        )
    log_action(
        campaign,
        "campaigns.retry_rules.changed",
        actor=actor,
        rules={k: list(v) for k, v in rules.items()},
    )


@transaction.atomic
def playbook_entry_save(
    *, campaign: Campaign, actor, entry: PlaybookEntry | None = None, **fields
) -> PlaybookEntry:
    """Add an objection to the playbook, or change one."""
    entry = entry or PlaybookEntry(campaign=campaign)
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save()
    log_action(entry, "campaigns.playbook.saved", actor=actor, campaign=campaign.slug)
    return entry


@transaction.atomic
def playbook_entry_delete(*, entry: PlaybookEntry, actor) -> None:
    log_action(entry, "campaigns.playbook.deleted", actor=actor, campaign=entry.campaign.slug)
    entry.delete()


@transaction.atomic
def organisation_save(*, campaign: Campaign, actor, **fields) -> Organisation:
    """Offer one more organisation in declarations (codes are permanent once used)."""
    if Organisation.objects.filter(campaign=campaign, code=fields["code"]).exists():
        raise DomainError(_("The code %(code)s is in use.") % {"code": fields["code"]})
    org = Organisation.objects.create(campaign=campaign, **fields)
    log_action(org, "campaigns.organisation.added", actor=actor, code=org.code)
    return org


@transaction.atomic
def organisation_delete(*, organisation: Organisation, actor) -> None:
    log_action(organisation, "campaigns.organisation.removed", actor=actor, code=organisation.code)
    organisation.delete()


def member_add(*, campaign: Campaign, username: str, actor):
    """Add an existing user to a campaign; a caller starts pending there. Admins may add
    anyone. A coordinator may add only a caller already in another campaign of theirs: new
    volunteers come in through invitation links, and a caller of a campaign they cannot see
    stays out of their reach. The refusal never tells whether the username exists."""
    from django.db.models import Exists, OuterRef

    from phonebank.accounts.models import Membership, Role, User

    found = User.objects.filter(username__iexact=username.strip(), is_active=True)
    if actor.role != Role.ADMIN:
        theirs = Membership.objects.filter(user=actor).values("campaign_id")
        shared = Membership.objects.filter(user=OuterRef("pk"), campaign_id__in=theirs)
        found = found.filter(Exists(shared), role=Role.CALLER)
    user = found.first()
    if user is None:
        if actor.role == Role.ADMIN:
            raise DomainError(_("No active user is called %(name)s.") % {"name": username})
        raise DomainError(
            _(
                "You can add %(name)s only if they are a caller in another of your "
                "campaigns. Invite anyone else with an invitation link."
            )
            % {"name": username}
        )
    return membership_add(user=user, campaign=campaign, actor=actor)
