"""A campaign's time zones (CampaignZone): noted by whatever adds targets, read by the claim
instead of a scan of the queue, and exact however the targets came."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phonebank.calling import selectors, services
from phonebank.calling.models import CampaignZone
from phonebank.contacts.models import Contact
from phonebank.contacts.services import contacts_import_file
from tests.conftest import make_targets

# 15:00 UTC: 10:00 in New York, 15:00 in London, 23:00 in Shanghai (default hours).
LONDON_AFTERNOON = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
# 02:00 UTC: 10:00 in Shanghai, 02:00 in London.
SHANGHAI_MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _import(tmp_path: Path, campaign, *numbers: str):
    path = tmp_path / f"list-{campaign.pk}-{len(numbers)}.csv"
    path.write_text("phone,name\n" + "".join(f"{n},someone\n" for n in numbers), "utf-8")
    job = contacts_import_file(path=path, campaign=campaign, actor=None)
    assert job.imported + job.duplicates == len(numbers), job.error
    return job


def _noted(campaign) -> list[str]:
    return sorted(CampaignZone.objects.filter(campaign=campaign).values_list("timezone", flat=True))


@pytest.mark.django_db
def test_an_import_notes_its_contacts_zones_and_claims_read_them_without_a_scan(
    tmp_path, campaign, caller
):
    # A mainland mobile and a number in London (Ofcom's range for drama: not anyone's).
    _import(tmp_path, campaign, "13800138000", "+442079460958")
    assert _noted(campaign) == ["Asia/Shanghai", "Europe/London"]
    cache.clear()
    with CaptureQueriesContext(connection) as read:
        assert selectors.campaign_zones(campaign) == ["Asia/Shanghai", "Europe/London"]
    assert [q["sql"] for q in read.captured_queries if "calling_target" in q["sql"]] == []
    got = services.target_claim(campaign=campaign, caller=caller, now=LONDON_AFTERNOON)
    assert got is not None and got.target.contact.timezone == "Europe/London"


@pytest.mark.django_db
def test_contacts_known_from_another_campaign_are_noted_with_their_stored_zone(
    tmp_path, campaign, other_campaign
):
    _import(tmp_path, other_campaign, "13800138000")
    # Stored before phonenumbers' data changed, say: the stored zone is the one that counts.
    Contact.objects.update(timezone="Asia/Urumqi")
    _import(tmp_path, campaign, "13800138000")
    assert _noted(campaign) == ["Asia/Urumqi"]
    assert _noted(other_campaign) == ["Asia/Shanghai"]


@pytest.mark.django_db
def test_a_second_import_adds_only_new_zones(tmp_path, campaign):
    _import(tmp_path, campaign, "13800138000")
    _import(tmp_path, campaign, "13800138001", "+442079460958")
    assert _noted(campaign) == ["Asia/Shanghai", "Europe/London"]


@pytest.mark.django_db
def test_without_noted_zones_the_queue_is_read(campaign, caller):
    """Targets written by the ORM (as tests and the admin do) note nothing: the zones
    are read from the queue then, so those contacts are still handed out."""
    make_targets(campaign, "139", n=2)
    assert _noted(campaign) == []
    assert selectors.campaign_zones(campaign) == ["Asia/Shanghai"]
    got = services.target_claim(campaign=campaign, caller=caller, now=SHANGHAI_MORNING)
    assert got is not None


class _Editor:
    """What the migration's function uses of a schema editor (SQLite's real one cannot open
    inside a test's transaction)."""

    def execute(self, sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


@pytest.mark.django_db
def test_the_migration_notes_the_zones_of_targets_already_there(campaign, other_campaign):
    first, _second = make_targets(campaign, "139", n=2)
    make_targets(other_campaign, "137", n=1)
    Contact.objects.filter(pk=first.contact_id).update(timezone="")
    fill = importlib.import_module("phonebank.calling.migrations.0006_campaign_zones").fill
    fill(None, _Editor())
    assert _noted(campaign) == ["", "Asia/Shanghai"]
    assert _noted(other_campaign) == ["Asia/Shanghai"]
