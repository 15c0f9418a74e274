"""Practice mode's made-up contacts: objects shaped like a Target and its Contact, never
saved, with no phone number at all (the workspace shows a masked placeholder)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from phonebank.campaigns.demo import GIVEN, ORGS, SURNAMES, TITLES
from phonebank.lib.provinces import PROVINCES


@dataclass
class PracticeContact:
    name: str
    organisation: str
    title: str
    province: str
    timezone: str = "Asia/Shanghai"
    phone: str = ""  # none: practice never shows a number
    city_zh: str = ""
    city_en: str = ""
    notes: str = ""


@dataclass
class PracticeTarget:
    contact: PracticeContact
    campaign: object
    leased_at: datetime = field(default_factory=timezone.now)
    lease_expires_at: datetime | None = None
    pk: None = None
    attempts: int = 0


def practice_target(campaign) -> PracticeTarget:
    rng = secrets.SystemRandom()
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    contact = PracticeContact(
        name=name,
        organisation=rng.choice(ORGS),
        title=rng.choice(TITLES),
        province=rng.choice([p.code for p in PROVINCES if p.code not in ("HK", "MO", "TW")]),
        timezone=campaign.default_timezone or "Asia/Shanghai",
    )
    return PracticeTarget(contact=contact, campaign=campaign)
