"""The calling API of SPEC section 3: claim, outcome, release, stats; every error path."""

from __future__ import annotations

import pytest

from phonebank.accounts.models import Role
from phonebank.accounts.services import token_create, user_create
from phonebank.calling.models import CallAttempt, Target, TargetStatus
from tests.conftest import PASSWORD, make_targets

pytestmark = pytest.mark.usefixtures("inside_calling_hours")


def _bearer(user):
    _token, raw = token_create(user=user, actor=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def targets(campaign):
    return make_targets(campaign, "139", province="SH")


@pytest.fixture
def second_caller(campaign):
    return user_create(username="cleo", password=PASSWORD, role=Role.CALLER, campaign=campaign)


def _claim(client, user):
    return client.post("/api/campaigns/spring/claim", **_bearer(user))


def test_claim_gives_one_contact_with_its_number_and_local_time(client, caller, targets):
    response = _claim(client, caller)
    assert response.status_code == 200
    data = response.json()
    assert data["contact"]["phone"].startswith("+86139")
    assert data["contact"]["timezone"] == "Asia/Shanghai"
    assert data["contact"]["local_time"].startswith("2026-11-25T10:00")
    assert data["lease_expires_at"].startswith("2026-11-25T02:20")


def test_claim_answers_204_when_nobody_may_be_called(client, caller, campaign):
    assert _claim(client, caller).status_code == 204


def test_claim_in_a_campaign_the_caller_is_not_in_is_404(client, other_campaign_caller, targets):
    response = _claim(client, other_campaign_caller)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_claim_rate_limit_answers_429(client, caller, targets, settings):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 1
    first = _claim(client, caller).json()["target"]
    client.post(f"/api/targets/{first}/release", **_bearer(caller))
    response = _claim(client, caller)
    assert response.status_code == 429
    assert "Too many" in response.json()["detail"]


def test_outcome_schedules_the_retry(client, caller, targets):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": "no_answer"},
        content_type="application/json",
        **_bearer(caller),
    )
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "open"
    assert data["next_call_at"].startswith("2026-11-25T05:00")


def test_a_declaration_returns_its_receipt_once(client, caller, targets):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome",
        {
            "outcome": "declared",
            "declaration": {
                "alias": "明天会更好",
                "organisations": ["party", "pioneers"],
                "consent": True,
            },
        },
        content_type="application/json",
        **_bearer(caller),
    )
    assert response.status_code == 200
    assert len(response.json()["receipt"]) == 19


def test_a_callback_in_local_time_is_stored_in_utc(client, caller, targets):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": "callback", "callback_at": "2026-11-26T15:00"},
        content_type="application/json",
        **_bearer(caller),
    )
    assert response.status_code == 200
    assert response.json()["next_call_at"] == "2026-11-26T07:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"outcome": "maybe"}, 400, "Unknown outcome"),
        ({"outcome": "callback"}, 400, "callback"),
        ({"outcome": "callback", "callback_at": "2026-11-24T10:00"}, 400, "past"),
        ({"outcome": "callback", "callback_at": "tomorrow"}, 400, "ISO 8601"),
        ({"outcome": "declared"}, 400, "agreement"),
        (
            {
                "outcome": "declared",
                "declaration": {"alias": "a", "organisations": ["party"], "consent": False},
            },
            400,
            "agreement",
        ),
        (
            {
                "outcome": "declared",
                "declaration": {"alias": "", "organisations": ["party"], "consent": True},
            },
            400,
            "alias",
        ),
        ({"outcome": "listened", "objections": [999999]}, 400, "objection"),
        ({"notes": "no outcome"}, 422, "outcome"),
        ({"outcome": "busy", "objections": "x"}, 422, "objections"),
    ],
)
def test_bad_outcomes_get_a_4xx_json_error_and_change_nothing(
    client, caller, targets, body, status, message
):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome", body, content_type="application/json", **_bearer(caller)
    )
    assert response.status_code == status, response.content
    assert message.lower() in response.json()["detail"].lower()
    assert not CallAttempt.objects.exists()
    assert Target.objects.get(pk=target).lease_holder_id == caller.pk


def test_malformed_json_is_a_4xx(client, caller, targets):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome",
        "{not json",
        content_type="application/json",
        **_bearer(caller),
    )
    assert 400 <= response.status_code < 500


def test_an_outcome_on_someone_elses_lease_is_409(client, caller, second_caller, targets):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": "busy"},
        content_type="application/json",
        **_bearer(second_caller),
    )
    assert response.status_code == 409
    assert response.json()["detail"]


def test_an_outcome_on_another_campaigns_target_is_404(
    client, caller, other_campaign_caller, targets
):
    target = _claim(client, caller).json()["target"]
    response = client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": "busy"},
        content_type="application/json",
        **_bearer(other_campaign_caller),
    )
    assert response.status_code == 404


def test_release_returns_the_contact(client, caller, second_caller, targets):
    target = _claim(client, caller).json()["target"]
    assert client.post(f"/api/targets/{target}/release", **_bearer(caller)).json() == {"ok": True}
    assert (
        client.post(f"/api/targets/{target}/release", **_bearer(second_caller)).status_code == 409
    )


def test_stats_are_the_callers_own_and_the_whole_campaign_for_staff(
    client, caller, second_caller, coordinator, targets
):
    for user, outcome in ((caller, "busy"), (second_caller, "refused")):
        target = _claim(client, user).json()["target"]
        client.post(
            f"/api/targets/{target}/outcome",
            {"outcome": outcome},
            content_type="application/json",
            **_bearer(user),
        )
    mine = client.get("/api/campaigns/spring/stats", **_bearer(caller)).json()
    assert mine["scope"] == "caller" and mine["calls"] == 1 and mine["outcomes"]["busy"] == 1
    everyone = client.get("/api/campaigns/spring/stats", **_bearer(coordinator)).json()
    assert everyone["scope"] == "campaign" and everyone["calls"] == 2


def test_the_openapi_document_lists_the_calling_endpoints(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/campaigns/{slug}/claim",
        "/api/targets/{pk}/outcome",
        "/api/targets/{pk}/release",
        "/api/campaigns/{slug}/stats",
    ):
        assert path in paths


def test_statuses_after_outcomes(client, caller, targets):
    target = _claim(client, caller).json()["target"]
    client.post(
        f"/api/targets/{target}/outcome",
        {"outcome": "do_not_call"},
        content_type="application/json",
        **_bearer(caller),
    )
    assert Target.objects.get(pk=target).status == TargetStatus.DNC
