"""Dashboards: every figure equals a recount from the calls, pages are for the right people,
and each page takes a pinned number of queries whatever the number of calls."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.audit.models import LogEntry
from phonebank.calling import services as calling
from phonebank.calling.models import CallAttempt, ClaimWindow, Outcome, Target
from phonebank.contacts.models import Contact, DoNotCall
from phonebank.dashboards import rollups, selectors, services
from phonebank.dashboards.models import DayStat, DryReason, QueueDry
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD

# 10:00 in Shanghai on a Wednesday: inside the default hours.
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
PROVINCES = ["BJ", "SH", "GD", ""]
OUTCOMES_SIMPLE = [o for o in Outcome.values if o not in (Outcome.CALLBACK, Outcome.DECLARED)]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _contact(n: int, province: str = "BJ", zone: str = "Asia/Shanghai") -> Contact:
    e164 = f"+86137{n:08d}"
    return Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name=f"名{n}",
        country="CN",
        province=province,
        timezone=zone,
    )


def _targets(campaign, n: int, start: int = 0) -> list[Target]:
    return [
        Target.objects.create(
            campaign=campaign, contact=_contact(start + i, PROVINCES[(start + i) % 4])
        )
        for i in range(n)
    ]


def _call(campaign, caller, outcome: str, now: datetime, objections=()):
    claimed = calling.target_claim(campaign=campaign, caller=caller, now=now)
    assert claimed is not None, "nobody to call"
    extra = {}
    if outcome == Outcome.CALLBACK:
        extra["callback_at"] = now + timedelta(days=1)
    if outcome == Outcome.DECLARED:
        extra["declaration"] = {"alias": "自由", "organisations": ["party"], "consent": True}
    attempt, _receipt = calling.outcome_record(
        target=claimed.target,
        caller=caller,
        outcome=outcome,
        objections=list(objections),
        now=now + timedelta(minutes=3),
        **extra,
    )
    return attempt


def _recount(campaign) -> dict:
    """The figures, counted from the calls themselves, without the rollups."""
    per_day, per_outcome, per_province, per_hour = Counter(), Counter(), Counter(), Counter()
    for a in CallAttempt.objects.filter(campaign=campaign).select_related("target__contact"):
        local = a.ended_at.astimezone(ZoneInfo(a.target.contact.timezone))
        per_day[(local.date(), a.outcome)] += 1
        per_outcome[a.outcome] += 1
        per_province[(a.target.contact.province, a.outcome)] += 1
        per_hour[(local.hour, a.outcome)] += 1
    return {"days": per_day, "outcomes": per_outcome, "provinces": per_province, "hours": per_hour}


@pytest.fixture
def callers(campaign):
    return [
        user_create(username=name, password=PASSWORD, role=Role.CALLER, campaign=campaign)
        for name in ("carl", "cleo")
    ]


def test_each_outcome_adds_to_the_rollups_in_its_own_transaction(campaign, callers):
    _targets(campaign, 3)
    belief = campaign.playbook.create(objection="Freedom of belief?", response="...", order=1)
    _call(campaign, callers[0], Outcome.NO_ANSWER, MORNING)
    _call(campaign, callers[0], Outcome.DECLARED, MORNING, objections=[belief.pk])
    _call(campaign, callers[1], Outcome.REFUSED, MORNING + timedelta(hours=7))
    day = MORNING.astimezone(SHANGHAI).date()
    assert dict(DayStat.objects.filter(campaign=campaign).values_list("outcome", "calls")) == {
        "no_answer": 1,
        "declared": 1,
        "refused": 1,
    }
    assert set(DayStat.objects.values_list("day", flat=True)) == {day}
    data = selectors.campaign_dashboard(campaign, MORNING + timedelta(hours=8))
    assert data.funnel.dialled == 3 and data.funnel.reached == 2 and data.funnel.declared == 1
    assert data.today_funnel.dialled == 3
    assert [h.key for h in data.hours if h.calls] == [10, 17]  # their local hours
    analytics = selectors.objection_analytics(campaign, MORNING)
    assert analytics.rows[0].entry == belief and analytics.rows[0].times == 1
    assert analytics.rows[0].declared_share == 1.0
    assert analytics.reached == 2


def test_a_failed_outcome_adds_nothing(campaign, callers):
    (_target,) = _targets(campaign, 1)
    claimed = calling.target_claim(campaign=campaign, caller=callers[0], now=MORNING)
    with pytest.raises(calling.DomainError):
        calling.outcome_record(
            target=claimed.target,
            caller=callers[0],
            outcome=Outcome.DECLARED,
            declaration={"alias": "x", "organisations": ["party"], "consent": False},
            now=MORNING,
        )
    assert not DayStat.objects.exists()
    assert not CallAttempt.objects.exists()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    calls=st.lists(
        st.tuples(
            st.integers(0, 1),  # which caller
            st.sampled_from([*OUTCOMES_SIMPLE, Outcome.CALLBACK, Outcome.DECLARED]),
            st.integers(0, 60 * 24 * 3),  # minutes after the first morning
            st.lists(st.integers(0, 2), max_size=2, unique=True),  # objections ticked
        ),
        min_size=1,
        max_size=14,
    )
)
def test_every_figure_equals_a_recount_from_the_calls(campaign, callers, calls):
    ClaimWindow.objects.all().delete()
    DoNotCall.objects.all().delete()  # numbers are reused from one example to the next
    CallAttempt.objects.all().delete()
    Target.objects.all().delete()
    Contact.objects.all().delete()
    for model, _keys in rollups.TABLES.values():
        model.objects.all().delete()
    campaign.calling_hours = "00:00-24:00"
    campaign.save(update_fields=["calling_hours"])
    cache.clear()
    entries = list(campaign.playbook.all()[:3]) or [
        campaign.playbook.create(objection=f"objection {i}", response="r", order=i)
        for i in range(3)
    ]
    _targets(campaign, len(calls))
    for who, outcome, minutes, ticked in sorted(calls, key=lambda c: c[2]):
        when = MORNING + timedelta(minutes=minutes)
        with time_machine.travel(when, tick=False):
            _call(campaign, callers[who], outcome, when, [entries[i].pk for i in ticked])

    recount = _recount(campaign)
    stored = rollups.stored(campaign.pk)
    assert stored == rollups.compute(campaign.pk)  # the rebuild's reckoning agrees
    assert services.rollups_rebuild(campaign=campaign, write=False) == {}
    end = max(d for d, _o in recount["days"])
    start = min(d for d, _o in recount["days"])
    series = {r.day: r for r in selectors.day_series([campaign.pk], start, end)}
    for (day, outcome), n in recount["days"].items():
        assert stored.days[(campaign.pk, day, outcome)] == n
    for day, row in series.items():
        assert row.calls == sum(n for (d, _o), n in recount["days"].items() if d == day)
        assert row.declared == recount["days"].get((day, Outcome.DECLARED), 0)
    assert series[end].cumulative == recount["outcomes"][Outcome.DECLARED]
    totals = selectors.outcome_totals([campaign.pk])
    assert {o: n for o, n in totals.items() if n} == dict(recount["outcomes"])
    for row in selectors.province_rows([campaign.pk]):
        assert row.calls == sum(n for (p, _o), n in recount["provinces"].items() if p == row.key)
    for row in selectors.hour_rows([campaign.pk]):
        assert row.calls == sum(n for (h, _o), n in recount["hours"].items() if h == row.key)
    per_caller = Counter(CallAttempt.objects.values_list("caller_id", flat=True))
    summed = Counter()
    for (_c, caller_id, _d, _o), n in stored.callers.items():
        summed[caller_id] += n
    assert summed == per_caller
    ticks = Counter(
        CallAttempt.objections.through.objects.values_list("playbookentry_id", flat=True)
    )
    analytics = selectors.objection_analytics(campaign, MORNING + timedelta(days=3))
    assert {r.entry.pk: r.times for r in analytics.rows if r.times} == dict(ticks)
    statuses = Counter(Target.objects.filter(campaign=campaign).values_list("status", flat=True))
    health = selectors.queue_health(campaign, MORNING + timedelta(days=3))
    assert {s: n for s, n in health.statuses.items() if n} == dict(statuses)


def test_rebuild_puts_back_what_was_lost_and_says_so(campaign, callers, admin):
    _targets(campaign, 4)
    for outcome in (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.LISTENED):
        _call(campaign, callers[0], outcome, MORNING)
    before = rollups.stored(campaign.pk)
    DayStat.objects.filter(campaign=campaign, outcome=Outcome.BUSY).delete()
    DayStat.objects.filter(campaign=campaign, outcome=Outcome.LISTENED).update(calls=7)
    assert services.rollups_rebuild(campaign=campaign, write=False) == {"days": 2}
    assert services.rollups_rebuild(campaign=campaign, actor=admin) == {"days": 2}
    assert rollups.stored(campaign.pk) == before
    entry = LogEntry.objects.get(action="dashboards.rollups.rebuilt")
    assert entry.actor == admin and entry.data == {"differed": {"days": 2}}
    assert services.rollups_rebuild(campaign=campaign) == {}


def test_the_rebuild_command_checks_and_repairs(campaign, callers, capsys):
    _targets(campaign, 2)
    _call(campaign, callers[0], Outcome.REFUSED, MORNING)
    DayStat.objects.all().delete()
    with pytest.raises(SystemExit) as stop:
        call_command("dashboards", "rebuild", "--check")
    assert stop.value.code == 1
    assert "spring: differs" in capsys.readouterr().out
    call_command("dashboards", "rebuild")
    assert "spring: repaired" in capsys.readouterr().out
    call_command("dashboards", "rebuild", "--check")
    assert "spring: matches" in capsys.readouterr().out


def test_queue_health_says_why_nobody_can_be_called(campaign, callers):
    _first, _second = _targets(campaign, 2)
    _call(campaign, callers[0], Outcome.NO_ANSWER, MORNING)  # retry in 3 hours
    _call(campaign, callers[0], Outcome.CALLBACK, MORNING)  # tomorrow
    later = MORNING + timedelta(minutes=10)
    health = selectors.queue_health(campaign, later)
    assert health.statuses["open"] == 1 and health.waiting_retry == 1 and health.due == 0
    assert health.callbacks_later == 1 and health.callable_now == 0
    assert calling.target_claim(campaign=campaign, caller=callers[1], now=later) is None
    dry = QueueDry.objects.get()
    assert dry.reason == DryReason.RETRY and dry.waiting == 2
    assert dry.next_at == MORNING + timedelta(minutes=3, hours=3)
    # A second miss within five minutes is not recorded again.
    assert calling.target_claim(campaign=campaign, caller=callers[1], now=later) is None
    assert QueueDry.objects.count() == 1


def test_outside_calling_hours_is_the_reason_at_midday(campaign, callers):
    _targets(campaign, 2)
    midday = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 13:00 in Shanghai
    health = selectors.queue_health(campaign, midday)
    assert health.due == 2 and health.waiting_hours == 2 and health.callable_now == 0
    reason, waiting, next_at = selectors.dry_reason(health, trusted=False)
    assert reason == DryReason.HOURS and waiting == 2
    assert next_at.astimezone(SHANGHAI).hour == 14


# --- pages and who may see them ------------------------------------------------------------


@pytest.fixture
def history(campaign, callers):
    _targets(campaign, 6)
    belief = campaign.playbook.create(objection="Freedom of belief?", response="...", order=1)
    for i, outcome in enumerate(
        [Outcome.NO_ANSWER, Outcome.DECLARED, Outcome.LISTENED, Outcome.REFUSED]
    ):
        _call(campaign, callers[i % 2], outcome, MORNING + timedelta(minutes=i), [belief.pk])
    return belief


def _pages(slug: str) -> list[str]:
    return [
        reverse("dashboards:campaign", args=[slug]),
        reverse("dashboards:objections", args=[slug]),
        *(reverse("dashboards:chart", args=[slug, name]) for name in ("days", "funnel")),
    ]


def test_a_coordinator_sees_their_campaigns_dashboard(client, coordinator, campaign, history):
    client.force_login(coordinator)
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        page = client.get(reverse("dashboards:campaign", args=[campaign.slug]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="today-calls">4<' in body and 'id="today-declared">1<' in body
    assert "carl" in body and "cleo" in body
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]
    chart = client.get(reverse("dashboards:chart", args=[campaign.slug, "days"]))
    assert chart["Content-Type"].startswith("image/svg+xml")
    assert b"<script" not in chart.content
    assert "script-src 'none'" in chart["Content-Security-Policy"]


@pytest.mark.parametrize("with_history", [False, True])
def test_every_chart_renders_with_and_without_calls(
    client, coordinator, campaign, with_history, request
):
    from phonebank.dashboards.views import CAMPAIGN_CHARTS

    if with_history:
        request.getfixturevalue("history")
    client.force_login(coordinator)
    for name in CAMPAIGN_CHARTS:
        chart = client.get(reverse("dashboards:chart", args=[campaign.slug, name]))
        assert chart.status_code == 200, name
        assert chart["Content-Type"].startswith("image/svg+xml"), name
        assert chart.content.lstrip().startswith((b"<?xml", b"<svg")), name
        if not with_history and name == "weeks":  # no objection heard: no series at all
            assert b'class="no_data"' in chart.content


def test_the_dashboard_refreshes_itself_as_a_fragment(client, coordinator, campaign, history):
    client.force_login(coordinator)
    url = reverse("dashboards:campaign", args=[campaign.slug])
    page = client.get(url, HTTP_HX_REQUEST="true")
    body = page.content.decode()
    assert body.lstrip().startswith('<div id="dashboard"')
    assert "<html" not in body and 'hx-trigger="every 30s"' in body


@pytest.mark.parametrize("value", ["x9", "²", "8", "-7"])
def test_an_unknown_period_says_so_and_shows_thirty_days(
    client, coordinator, campaign, history, value
):
    client.force_login(coordinator)
    page = client.get(reverse("dashboards:campaign", args=[campaign.slug]), {"days": value})
    assert page.status_code == 200
    assert f"Unknown period {value}" in page.content.decode()
    chart = client.get(reverse("dashboards:chart", args=[campaign.slug, "days"]), {"days": value})
    assert chart.status_code == 200


@pytest.mark.parametrize("persona", ["caller", "other_campaign_coordinator"])
def test_callers_and_other_campaigns_staff_cannot_see_the_dashboard(
    client, request, campaign, history, persona
):
    client.force_login(request.getfixturevalue(persona))
    for url in _pages(campaign.slug):
        assert client.get(url).status_code in (403, 404), url


def test_the_overview_is_for_admins(client, admin, coordinator, campaign, history):
    client.force_login(coordinator)
    assert client.get(reverse("dashboards:overall")).status_code == 403
    client.force_login(admin)
    page = client.get(reverse("dashboards:overall"))
    assert page.status_code == 200 and "Spring calls" in page.content.decode()
    assert client.get(reverse("dashboards:overall_chart", args=["days"])).status_code == 200


def test_dashboard_pages_take_a_pinned_number_of_queries(
    client, coordinator, admin, campaign, history, django_assert_max_num_queries
):
    client.force_login(coordinator)
    client.get(reverse("dashboards:campaign", args=[campaign.slug]))  # session, caches warm
    with django_assert_max_num_queries(17):
        client.get(reverse("dashboards:campaign", args=[campaign.slug]))
    with django_assert_max_num_queries(9):
        client.get(reverse("dashboards:objections", args=[campaign.slug]))
    client.force_login(admin)
    client.get(reverse("dashboards:overall"))
    with django_assert_max_num_queries(10):
        client.get(reverse("dashboards:overall"))


def test_the_dashboard_in_chinese(client, coordinator, campaign, history):
    client.force_login(coordinator)
    page = client.get(
        reverse("dashboards:campaign", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "今天" in page.content.decode()
    chart = client.get(
        reverse("dashboards:chart", args=[campaign.slug, "provinces"]),
        HTTP_ACCEPT_LANGUAGE="zh-hant",
    )
    assert "北京" in chart.content.decode()
