"""The claim and outcome API as the hot path (docs/benchmarks.md): few queries, answers that
keep their schemas and security headers, and tokens checked afresh on every request."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from phonebank.accounts.models import ApiToken, Role
from phonebank.accounts.services import token_create, token_revoke, user_create, user_role_set
from phonebank.api.middleware import API_CONTENT_SECURITY_POLICY
from phonebank.api.schemas import ClaimOut, OutcomeOut
from phonebank.calling.models import Target
from tests.conftest import PASSWORD, make_targets


# Pinned query counts over the API, token check included (docs/benchmarks.md, "Claims").
# Claim: token, campaign and membership, BEGIN, then on SQLite the renewal and one lease
# statement trying the candidate queries in turn (COALESCE), COMMIT, and the claimed
# contact read after it: 7. On PostgreSQL the caller's row lock, then one statement that
# renews or leases and answers the contact: 6. Outcome: token, then the target with
# everything the outcome is worked out from (visibility, row, do-not-call, retry rule,
# earlier attempts, the contact's province and zone, the caller's membership) in one
# statement; then on SQLite BEGIN, the update, the call, the dashboards' four rollups (day,
# hour, province, caller; one more with objections), the audit entry, COMMIT: 11. On
# PostgreSQL those writes are one statement (a data-modifying WITH, atomic by itself): 3.
def _pinned() -> tuple[int, int]:
    from django.db import connection

    return (6, 3) if connection.vendor == "postgresql" else (7, 11)


pytestmark = pytest.mark.usefixtures("inside_calling_hours")


@pytest.fixture
def targets(campaign):
    return make_targets(campaign, "139", province="SH")


@pytest.fixture
def token(caller):
    return token_create(user=caller, actor=None)


def _bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _claim(client, raw: str, **extra):
    return client.post("/api/campaigns/spring/claim", **_bearer(raw), **extra)


def _outcome(client, raw: str, target: int, outcome: str = "no_answer", **extra):
    return client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": outcome},
        content_type="application/json",
        **_bearer(raw),
        **extra,
    )


def test_a_claim_and_its_outcome_take_a_pinned_number_of_queries(
    client, token, targets, settings, django_assert_num_queries
):
    # As benchmarked: the per-minute limit and the daily cap add their counter row.
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0
    settings.PHONEBANK_CLAIM_DAILY_CAP = 0
    _row, raw = token
    _claim(client, raw)  # the token's last use is written at most once a minute: not here
    client.post(f"/api/targets/{targets[0].pk}/release", **_bearer(raw))
    claim_queries, outcome_queries = _pinned()
    with django_assert_num_queries(claim_queries):
        target = _claim(client, raw).json()["target"]
    with django_assert_num_queries(outcome_queries):
        assert _outcome(client, raw, target).status_code == 200


def test_claim_and_outcome_answers_match_their_schemas(client, token, targets):
    _row, raw = token
    claimed = _claim(client, raw)
    assert claimed["Content-Type"] == "application/json; charset=utf-8"
    ClaimOut.model_validate(claimed.json(), strict=True)
    recorded = _outcome(client, raw, claimed.json()["target"], "callback")
    assert recorded.status_code == 400  # a callback needs its time: the error path still works
    recorded = _outcome(client, raw, claimed.json()["target"])
    OutcomeOut.model_validate(recorded.json(), strict=True)
    assert recorded.json()["status"] == "open"


def test_a_revoked_token_is_refused_on_the_very_next_request(client, token, targets):
    row, raw = token
    assert _claim(client, raw).status_code == 200
    token_revoke(token=row, actor=None)
    assert _claim(client, raw).status_code == 401


def test_a_disabled_user_or_a_changed_role_takes_effect_on_the_next_request(
    client, caller, token, targets, admin
):
    _row, raw = token
    assert client.get("/api/campaigns/spring/contacts", **_bearer(raw)).status_code == 403
    user_role_set(user=caller, role=Role.COORDINATOR, actor=admin)
    assert client.get("/api/campaigns/spring/contacts", **_bearer(raw)).status_code == 200
    caller.is_active = False
    caller.save(update_fields=["is_active"])
    assert _claim(client, raw).status_code == 401


def test_the_token_check_loads_the_whole_user(caller, token):
    from phonebank.accounts.services import token_authenticate

    _row, raw = token
    found = token_authenticate(raw)
    assert found == caller
    assert (found.username, found.role, found.is_active) == (caller.username, "caller", True)
    assert timezone.is_aware(found.date_joined)
    assert ApiToken.objects.get(user=caller).last_used_at is not None


def test_api_answers_keep_the_security_headers_without_sessions_or_csrf(client, token, targets):
    _row, raw = token
    response = _claim(client, raw)
    assert response.status_code == 200  # a POST without a CSRF token: bearer tokens need none
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Content-Security-Policy"] == API_CONTENT_SECURITY_POLICY
    assert response["Cache-Control"] == "no-store, private"
    assert int(response["Content-Length"]) == len(response.content)
    assert not response.cookies  # no session, no CSRF cookie


def test_api_requests_are_refused_for_a_host_not_allowed(client, token, targets):
    _row, raw = token
    assert _claim(client, raw, HTTP_HOST="evil.example").status_code == 400
    assert not Target.objects.exclude(lease_holder=None).exists()


def test_unknown_api_paths_are_404_and_bad_tokens_401(client, token):
    _row, raw = token
    assert client.post("/api/nowhere", **_bearer(raw)).status_code == 404
    assert _claim(client, raw + "x").status_code == 401


def test_api_errors_speak_the_callers_language(client, caller, token, targets, campaign):
    _row, raw = token
    target = _claim(client, raw).json()["target"]
    other = user_create(username="cleo", password=PASSWORD, role=Role.CALLER, campaign=campaign)
    _other_row, other_raw = token_create(user=other, actor=None)
    refused = _outcome(client, other_raw, target, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert refused.status_code == 409
    assert refused.json()["detail"] == "这位联系人现已由其他志愿者接手，请领取下一位。"
    assert refused["Content-Language"] == "zh-hans"


def test_a_page_s_time_zone_does_not_leak_into_the_api(client, token, targets):
    _row, raw = token
    with timezone.override("Asia/Shanghai"), translation.override("en"):
        data = _claim(client, raw).json()
        assert timezone.get_current_timezone_name() == "UTC"  # the API reset it
    assert data["lease_expires_at"].endswith("+00:00")


def test_an_outcome_with_objections_records_the_call_objections_rollups_and_audit(
    client, caller, token, targets, campaign
):
    # On PostgreSQL all of it is written by one statement (calling.services._record_at_once).
    from phonebank.audit.models import LogEntry
    from phonebank.calling.models import CallAttempt
    from phonebank.dashboards import rollups
    from phonebank.dashboards.models import ObjectionStat

    _row, raw = token
    belief = campaign.playbook.create(objection="Freedom of belief?", response="...", order=1)
    time = campaign.playbook.create(objection="No time", response="...", order=2)
    target = _claim(client, raw).json()["target"]
    answer = client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": "listened", "objections": [belief.pk, time.pk], "notes": "warm"},
        content_type="application/json",
        **_bearer(raw),
    )
    assert answer.status_code == 200
    attempt = CallAttempt.objects.get()
    assert answer.json()["attempt"] == attempt.pk
    assert (attempt.caller, attempt.outcome, attempt.notes) == (caller, "listened", "warm")
    assert set(attempt.objections.values_list("pk", flat=True)) == {belief.pk, time.pk}
    assert ObjectionStat.objects.filter(calls=1).count() == 2
    entry = LogEntry.objects.get(action="calling.outcome.recorded")
    assert (entry.actor, entry.object_type, entry.object_id) == (
        caller,
        "calling.callattempt",
        str(attempt.pk),
    )
    assert entry.data == {"outcome": "listened"}
    assert rollups.differences(rollups.compute(campaign.pk), rollups.stored(campaign.pk)) == {}
    held = Target.objects.get(pk=target)
    assert (held.lease_holder, held.attempts, held.status) == (None, 1, answer.json()["status"])


def test_an_outcome_on_a_row_changed_since_it_was_read_is_worked_out_afresh(
    caller, targets, campaign
):
    from phonebank.calling import services
    from phonebank.calling.models import CallAttempt
    from phonebank.dashboards.models import DayStat

    claimed = services.target_claim(campaign=campaign, caller=caller)
    facts = services.outcome_facts_for_member(caller, claimed.target.pk, "no_answer")
    # Meanwhile the row changes while the caller still holds it: the facts are stale.
    Target.objects.filter(pk=claimed.target.pk).update(attempts=4)
    attempt, _receipt = services.outcome_record(
        target=facts.target, caller=caller, outcome="no_answer", facts=facts
    )
    assert attempt.target.attempts == 5
    assert Target.objects.get(pk=claimed.target.pk).attempts == 5
    assert CallAttempt.objects.count() == 1
    assert DayStat.objects.get().calls == 1


def test_a_claim_the_rate_limit_refuses_leaves_no_lease(client, caller, token, targets, settings):
    # The limit is checked after the claim statement; refused, the whole claim rolls back.
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 1
    _row, raw = token
    first = _claim(client, raw).json()["target"]
    assert _claim(client, raw).json()["target"] == first  # a renewal is not counted
    client.post(f"/api/targets/{first}/release", **_bearer(raw))
    assert _claim(client, raw).status_code == 429
    assert not Target.objects.exclude(lease_holder=None).exists()


def test_outcome_facts_are_only_for_members_or_admins(
    caller, other_campaign_caller, admin, targets
):
    from phonebank.calling import services

    pk = targets[0].pk
    assert services.outcome_facts_for_member(caller, pk, "busy").target.pk == pk
    assert services.outcome_facts_for_member(admin, pk, "busy").target.pk == pk
    assert services.outcome_facts_for_member(other_campaign_caller, pk, "busy") is None
    assert services.outcome_facts_for_member(caller, 2**62, "busy") is None


def _indexes(table: str) -> dict[str, list[str]]:
    """A table's indexes (primary key included) and their columns, as the database has them."""
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {name: c["columns"] for name, c in found.items() if c["index"] or c["primary_key"]}


@pytest.mark.django_db
def test_outcomes_write_no_redundant_index():
    """Every outcome writes a call and an audit entry: no index of theirs is one another
    index already serves (a single-column index on the leading column of a composite one)
    and none is PostgreSQL's LIKE twin of a CharField's index, which nothing here uses."""
    for table in ("calling_callattempt", "audit_logentry"):
        indexes = _indexes(table)
        assert not [n for n in indexes if n.endswith("_like")], indexes
        composite_leads = {cols[0] for cols in indexes.values() if len(cols) > 1}
        single = [n for n, cols in indexes.items() if len(cols) == 1 and cols[0] != "id"]
        assert not [n for n in single if indexes[n][0] in composite_leads], indexes
    assert sorted(map(tuple, _indexes("calling_callattempt").values())) == [
        ("caller_id", "ended_at"),
        ("campaign_id", "ended_at"),
        ("id",),
        ("target_id",),
    ]
