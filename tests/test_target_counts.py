"""Targets by status (queue health, the overview): the figures equal a count of the targets
whoever wrote them. On PostgreSQL they are kept by triggers (dashboards/targetcounts.py),
so every writer is tried: the ORM, the import's INSERTs, outcomes (hand-written UPDATEs),
do-not-call across campaigns, deletes, a campaign deleted with its targets; then folding
and the rebuild's check and repair. On SQLite the same checks hold of the plain counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.audit.models import LogEntry
from phonebank.calling import services as calling
from phonebank.calling.models import Outcome, Target, TargetStatus
from phonebank.campaigns.models import Campaign
from phonebank.campaigns.services import campaign_create
from phonebank.contacts import services as contacts
from phonebank.contacts.models import Contact
from phonebank.dashboards import selectors, targetcounts
from phonebank.dashboards.models import TargetStatusCount
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD

MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the counts are kept by triggers on PostgreSQL"
)


def _contact(n: int) -> Contact:
    e164 = f"+86138{n:08d}"
    return Contact.objects.create(
        blind_index=keyring().blind_index(e164), phone=e164, name=f"名{n}", country="CN",
        province="BJ", timezone="Asia/Shanghai",
    )  # fmt: skip


def _counted(campaign) -> dict[str, int]:
    found = dict.fromkeys(TargetStatus.values, 0)
    found.update(
        Target.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return found


def _agree(*campaigns) -> None:
    kept = targetcounts.status_counts([c.pk for c in campaigns])
    for c in campaigns:
        assert kept[c.pk] == _counted(c), c.slug
        assert selectors.queue_health(c, MORNING).statuses == _counted(c)


def _call(campaign, caller, outcome: str, now: datetime = MORNING):
    claimed = calling.target_claim(campaign=campaign, caller=caller, now=now)
    assert claimed is not None
    extra = {"callback_at": now + timedelta(days=1)} if outcome == Outcome.CALLBACK else {}
    calling.outcome_record(
        target=claimed.target, caller=caller, outcome=outcome, now=now + timedelta(minutes=2),
        **extra,
    )  # fmt: skip


@pytest.fixture
def autumn(db):
    return campaign_create(slug="autumn", name="Autumn", actor=None, calling_hours="00:00-24:00")


def test_every_writer_is_counted(campaign, autumn, tmp_path):
    campaign.calling_hours = "00:00-24:00"
    campaign.save(update_fields=["calling_hours"])
    caller = user_create(username="carl", password=PASSWORD, role=Role.CALLER, campaign=campaign)
    shared = [_contact(i) for i in range(6)]
    for contact in shared:  # the ORM, one INSERT each
        Target.objects.create(campaign=campaign, contact=contact)
        Target.objects.create(campaign=autumn, contact=contact)
    _agree(campaign, autumn)

    rows = "".join(f"+86139{i:08d},名{i}\n" for i in range(25))
    (tmp_path / "list.csv").write_text("手机,姓名\n" + rows, encoding="utf-8")
    job = contacts.contacts_import_file(path=tmp_path / "list.csv", campaign=campaign, actor=None)
    assert job.counts()["imported"] == 25  # the import's multi-row INSERT … ON CONFLICT
    _agree(campaign, autumn)

    for outcome in (Outcome.NO_ANSWER, Outcome.CALLBACK, Outcome.REFUSED, Outcome.WRONG_NUMBER):
        _call(campaign, caller, outcome)  # the outcome's UPDATE: open → callback, done, closed
    _call(campaign, caller, Outcome.DO_NOT_CALL)  # and every campaign's target of the number
    _agree(campaign, autumn)
    assert _counted(autumn)[TargetStatus.DNC] == 1

    Target.objects.filter(campaign=campaign, status=TargetStatus.OPEN).order_by(
        "pk"
    ).first().delete()
    Target.objects.filter(campaign=campaign, status=TargetStatus.OPEN).update(
        status=TargetStatus.EXHAUSTED
    )  # one statement, many rows
    _agree(campaign, autumn)


def test_a_failed_outcome_changes_no_count(campaign):
    caller = user_create(username="carl", password=PASSWORD, role=Role.CALLER, campaign=campaign)
    Target.objects.create(campaign=campaign, contact=_contact(1))
    claimed = calling.target_claim(campaign=campaign, caller=caller, now=MORNING)
    with pytest.raises(calling.DomainError):
        calling.outcome_record(
            target=claimed.target, caller=caller, outcome=Outcome.DECLARED, now=MORNING,
            declaration={"alias": "x", "organisations": ["party"], "consent": False},
        )  # fmt: skip
    _agree(campaign)


def test_a_deleted_campaign_leaves_nothing_once_folded(campaign, autumn):
    for i in range(3):
        Target.objects.create(campaign=campaign, contact=_contact(i))
        Target.objects.create(campaign=autumn, contact=_contact(10 + i))
    gone = autumn.pk
    Campaign.objects.filter(pk=gone).delete()  # its targets with it, in the same transaction
    targetcounts.compact()
    assert not TargetStatusCount.objects.filter(campaign_id=gone).exists()
    _agree(campaign)


@POSTGRESQL
def test_folding_keeps_the_sums_in_one_row_per_status(campaign):
    targets = [Target.objects.create(campaign=campaign, contact=_contact(i)) for i in range(5)]
    for t in targets[:3]:
        Target.objects.filter(pk=t.pk).update(status=TargetStatus.DONE)
    assert TargetStatusCount.objects.filter(campaign=campaign).count() > 2
    before = targetcounts.status_counts([campaign.pk])
    assert targetcounts.compact() == 2  # open 2, done 3
    assert targetcounts.status_counts([campaign.pk]) == before
    assert set(
        TargetStatusCount.objects.filter(campaign=campaign).values_list("status", "targets")
    ) == {("open", 2), ("done", 3)}


@POSTGRESQL
def test_the_rebuild_finds_and_repairs_wrong_counts(campaign, capsys):
    for i in range(4):
        Target.objects.create(campaign=campaign, contact=_contact(i))
    TargetStatusCount.objects.create(campaign=campaign, status=TargetStatus.DONE, targets=7)
    assert targetcounts.rebuild(campaign, write=False) == {"done": 7}
    with pytest.raises(SystemExit):
        call_command("dashboards", "rebuild", "--check")
    assert "spring: differs (targets 1 counters)" in capsys.readouterr().out
    call_command("dashboards", "rebuild")
    assert "spring: repaired (targets 1 counters)" in capsys.readouterr().out
    assert LogEntry.objects.filter(action="dashboards.targetcounts.repaired").count() == 1
    assert targetcounts.rebuild(campaign) == {}
    _agree(campaign)


def test_sqlite_keeps_no_counts(campaign):
    if targetcounts.kept():
        pytest.skip("PostgreSQL keeps them")
    Target.objects.create(campaign=campaign, contact=_contact(1))
    assert not TargetStatusCount.objects.exists()
    assert targetcounts.compact() == 0 and targetcounts.rebuild(campaign) == {}
    _agree(campaign)
