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
    RetryRule,
)
from phonebank.lib import hours
from phonebank.lib.errors import DomainError


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
