"""GET /api/campaigns/{slug}/stats: read from the rollups, equal to a recount of the calls,
a caller's own figures only, a pinned number of queries, and a per-user rate limit."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache

from phonebank.accounts.models import Role
from phonebank.accounts.services import token_create, user_create
from phonebank.calling import services as calling
from phonebank.calling.models import CallAttempt, Outcome, Target
from phonebank.contacts.models import Contact
from phonebank.dashboards.selectors import LISTENED, REACHED
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD

MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday
STATS = "/api/campaigns/spring/stats"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _bearer(user) -> dict:
    _token, raw = token_create(user=user, actor=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def second_caller(campaign):
    return user_create(username="cleo", password=PASSWORD, role=Role.CALLER, campaign=campaign)


@pytest.fixture
def history(campaign, caller, second_caller):
    """Calls of every outcome by two callers, yesterday and today (Shanghai days)."""
    outcomes = [o for o in Outcome.values if o != Outcome.CALLBACK]
    for n in range(2 * len(outcomes)):
        e164 = f"+86139{n:08d}"
        contact = Contact.objects.create(
            blind_index=keyring().blind_index(e164), phone=e164, province="SH",
            timezone="Asia/Shanghai",
        )  # fmt: skip
        Target.objects.create(campaign=campaign, contact=contact)
    for n, outcome in enumerate(outcomes * 2):
        who = caller if n % 3 else second_caller
        at = MORNING - timedelta(days=1) if n < 5 else MORNING
        claimed = calling.target_claim(campaign=campaign, caller=who, now=at)
        extra = {}
        if outcome == Outcome.DECLARED:
            extra["declaration"] = {"alias": "新生", "organisations": ["party"], "consent": True}
        calling.outcome_record(
            target=claimed.target, caller=who, outcome=outcome, now=at + timedelta(minutes=2),
            **extra,
        )  # fmt: skip


def _recount(campaign, caller=None) -> dict:
    calls = CallAttempt.objects.filter(campaign=campaign)
    if caller is not None:
        calls = calls.filter(caller=caller)
    by = Counter(calls.values_list("outcome", flat=True))
    today = Counter(
        calls.filter(ended_at__gte=datetime(2026, 11, 24, 16, 0, tzinfo=UTC)).values_list(
            "outcome", flat=True
        )
    )
    dialled = sum(by.values())
    reached = sum(n for o, n in by.items() if o in REACHED)
    return {
        "outcomes": {o: by.get(o, 0) for o in Outcome.values},
        "calls": dialled,
        "funnel": {
            "dialled": dialled,
            "reached": reached,
            "listened": sum(n for o, n in by.items() if o in LISTENED),
            "declared": by[Outcome.DECLARED],
        },
        "contact_rate": reached / dialled,
        "calls_today": sum(today.values()),
        "declared_today": today[Outcome.DECLARED],
    }


def _get(client, user, **extra):
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        return client.get(STATS, **_bearer(user), **extra)


def test_the_campaigns_stats_equal_a_recount_of_its_calls(client, campaign, coordinator, history):
    answer = _get(client, coordinator)
    assert answer.status_code == 200
    data = answer.json()
    assert data["campaign"] == "spring" and data["scope"] == "campaign"
    assert data["day"] == "2026-11-25"
    expected = _recount(campaign)
    assert {k: data[k] for k in expected} == expected
    assert data["today"]["dialled"] == data["calls_today"] > 0


def test_a_caller_sees_only_their_own(client, campaign, caller, second_caller, history):
    data = _get(client, caller).json()
    assert data["scope"] == "caller"
    expected = _recount(campaign, caller)
    assert {k: data[k] for k in expected} == expected
    assert data["calls"] < CallAttempt.objects.filter(campaign=campaign).count()


def test_the_fields_of_before_stay(client, coordinator, history):
    data = _get(client, coordinator).json()
    assert set(data["outcomes"]) == set(Outcome.values)
    assert data["calls"] == sum(data["outcomes"].values())


def test_others_are_refused(client, campaign, other_campaign_caller, other_campaign_coordinator):
    assert client.get(STATS).status_code == 401
    for outsider in (other_campaign_caller, other_campaign_coordinator):
        assert _get(client, outsider).status_code == 404


def test_a_pinned_number_of_queries_whatever_the_calls(
    client, coordinator, caller, history, django_assert_num_queries
):
    for user in (coordinator, caller):
        headers = _bearer(user)
        with (
            time_machine.travel(MORNING, tick=False),
            django_assert_num_queries(5),  # token, user, campaign, two rollup sums
        ):
            assert client.get(STATS, **headers).status_code == 200


def test_429_after_the_limit_per_user_and_minute(client, settings, coordinator, caller, campaign):
    settings.PHONEBANK_STATS_RATE_PER_MIN = 3
    mine, theirs = _bearer(coordinator), _bearer(caller)
    with time_machine.travel(MORNING, tick=False) as clock:
        assert [client.get(STATS, **mine).status_code for _ in range(3)] == [200] * 3
        refused = client.get(STATS, **mine)
        assert refused.status_code == 429
        assert refused.json() == {"detail": "Too many stats requests; try again in a minute."}
        assert client.get(STATS, **theirs).status_code == 200  # per user
        clock.shift(timedelta(seconds=61))
        assert client.get(STATS, **mine).status_code == 200


def test_the_openapi_document_describes_the_new_fields(client, db):
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert {"funnel", "contact_rate", "calls_today", "declared_today"} <= set(
        schemas["StatsOut"]["properties"]
    )
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "429" in paths["/api/campaigns/{slug}/stats"]["get"]["responses"]
