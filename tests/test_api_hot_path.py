"""The claim and outcome API as the hot path (docs/benchmarks.md): few queries, answers that
keep their schemas and security headers, and tokens checked afresh on every request."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from phonebank.accounts.models import ApiToken, Role
from phonebank.accounts.services import token_create, token_revoke, user_create, user_role_set
from phonebank.api.schemas import ClaimOut, OutcomeOut
from phonebank.calling.models import Target
from tests.conftest import PASSWORD, make_targets

# Pinned query counts over the API, token check included. Claim: token, campaign and
# membership, then BEGIN, renew, the three candidate queries, COMMIT, and the claimed
# contact (PostgreSQL also locks the caller's row). Outcome: token, target and membership,
# the outcome's facts (row, do-not-call, retry rule, earlier attempts, the contact's
# province and zone) in one statement, then BEGIN, the update, the call, the dashboards'
# four rollups (day, hour, province, caller; one more with objections), the audit entry,
# COMMIT.
CLAIM_QUERIES = 10
OUTCOME_QUERIES = 12


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
    client, token, targets, settings, django_assert_max_num_queries
):
    # As benchmarked: the per-minute limit and the daily cap add their counter row.
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0
    settings.PHONEBANK_CLAIM_DAILY_CAP = 0
    _row, raw = token
    _claim(client, raw)  # the token's last use is written at most once a minute: not here
    client.post(f"/api/targets/{targets[0].pk}/release", **_bearer(raw))
    with django_assert_max_num_queries(CLAIM_QUERIES):
        target = _claim(client, raw).json()["target"]
    with django_assert_max_num_queries(OUTCOME_QUERIES):
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
    assert "default-src 'self'" in response["Content-Security-Policy"]
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
