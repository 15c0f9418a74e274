"""Bringing volunteers in: invitations, sign-up, vetting (pending, approved, trusted,
suspended), the caller profile, practice mode and the coordinator API for all of it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from phonebank.accounts import services
from phonebank.accounts.models import ApiToken, CallerStatus, Invitation, Membership, Role, User
from phonebank.audit.models import LogEntry
from phonebank.calling import services as calling
from phonebank.calling.models import CallAttempt, Target
from phonebank.contacts.models import Contact
from phonebank.lib.errors import DomainError
from phonebank.lib.fields import keyring
from phonebank.registry.models import Declaration
from tests.conftest import PASSWORD, make_targets

pytestmark = pytest.mark.usefixtures("inside_calling_hours")


@pytest.fixture
def targets(campaign):
    return make_targets(campaign, "137")


def _link(campaign, coordinator, **kwargs) -> str:
    _invitation, raw = services.invitation_create(campaign=campaign, actor=coordinator, **kwargs)
    return reverse("join", args=[raw])


def _sign_up(client, link, username="xiaoming", password=PASSWORD, **extra):
    data = {
        "username": username,
        "password1": password,
        "password2": password,
        "language": "zh-hans",
        "timezone": "Europe/Berlin",
        **extra,
    }
    return client.post(link, data, HTTP_ACCEPT_LANGUAGE="en")


def _bearer(user):
    _token, raw = services.token_create(user=user, actor=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- invitations and sign-up ----------------------------------------------------------------


def test_an_invitation_signs_up_a_pending_caller_of_its_campaign(client, campaign, coordinator):
    link = _link(campaign, coordinator, note="for Li, via Signal")
    page = client.get(link, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and "加入" in page.content.decode()
    response = _sign_up(client, link)
    assert response.status_code == 302 and response["Location"] == reverse("calling:home")
    user = User.objects.get(username="xiaoming")
    assert (user.role, user.memberships.get().status, user.language, user.timezone) == (
        Role.CALLER,
        CallerStatus.PENDING,
        "zh-hans",
        "Europe/Berlin",
    )
    assert list(user.memberships.values_list("campaign__slug", flat=True)) == [campaign.slug]
    assert client.get(reverse("calling:workspace", args=[campaign.slug])).wsgi_request.user == user
    assert Invitation.objects.get().uses == 1
    actions = set(LogEntry.objects.values_list("action", flat=True))
    assert {"accounts.invitation.created", "accounts.invitation.used"} <= actions
    # Only the link's hash is stored.
    assert link.split("/")[-2] not in str(list(Invitation.objects.values()))


@pytest.mark.parametrize("state", ["expired", "used", "revoked", "unknown"])
def test_an_unusable_invitation_gives_a_clear_page_never_a_sign_up(
    client, campaign, coordinator, state
):
    link = _link(campaign, coordinator, days=1)
    invitation = Invitation.objects.get()
    if state == "expired":
        invitation.expires_at = timezone.now() - timedelta(seconds=1)
        invitation.save()
    elif state == "used":
        invitation.uses = invitation.max_uses
        invitation.save()
    elif state == "revoked":
        services.invitation_revoke(invitation=invitation, actor=coordinator)
    else:
        link = reverse("join", args=["not-a-real-invitation"])
    page = client.get(link, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == (404 if state == "unknown" else 410)
    assert "This invitation link cannot be used" in page.content.decode()
    assert 'name="password1"' not in page.content.decode()
    assert _sign_up(client, link).status_code in (404, 410)
    assert not User.objects.filter(username="xiaoming").exists()


def test_a_multi_use_invitation_stops_at_its_limit(client, campaign, coordinator):
    link = _link(campaign, coordinator, max_uses=2)
    assert _sign_up(client, link, username="one").status_code == 302
    client.logout()
    assert _sign_up(client, link, username="two").status_code == 302
    client.logout()
    assert _sign_up(client, link, username="three").status_code == 410


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"username": "cora"}, "is taken"),
        ({"password1": "123", "password2": "123"}, "too short"),
        ({"password1": "x" * 129, "password2": "x" * 129}, "too long"),
        ({"password2": "something else entirely"}, "differ"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone: Mars/Olympus"),
        ({"language": "fr"}, "not one of the available choices"),
        ({"username": ""}, "This field is required"),
    ],
)
def test_bad_sign_up_values_re_render_with_a_message(client, campaign, coordinator, extra, message):
    link = _link(campaign, coordinator)
    response = _sign_up(client, link, **extra)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Invitation.objects.get().uses == 0
    assert not User.objects.filter(role=Role.CALLER).exists()


def test_invitation_limits_are_checked(campaign, coordinator):
    with pytest.raises(DomainError):
        services.invitation_create(campaign=campaign, actor=coordinator, days=0)
    with pytest.raises(DomainError):
        services.invitation_create(campaign=campaign, actor=coordinator, max_uses=1000)


# --- vetting ----------------------------------------------------------------------------


@pytest.fixture
def newcomer(campaign, coordinator):
    _inv, raw = services.invitation_create(campaign=campaign, actor=coordinator)
    return services.invitation_accept(
        raw=raw, username="newbie", password=PASSWORD, language="en", timezone_name="UTC"
    )


def test_a_pending_caller_gets_no_real_contact(client, campaign, newcomer, targets):
    with pytest.raises(calling.NotApproved, match="not approved"):
        calling.target_claim(campaign=campaign, caller=newcomer)
    api = client.post(f"/api/campaigns/{campaign.slug}/claim", **_bearer(newcomer))
    assert api.status_code == 403 and "approved" in api.json()["detail"]
    client.force_login(newcomer)
    page = client.post(
        reverse("calling:next", args=[campaign.slug]),
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 403 and "not approved your account yet" in page.content.decode()
    assert not Target.objects.filter(lease_holder=newcomer).exists()


def test_approval_lets_the_caller_claim_and_is_audited(campaign, coordinator, newcomer, targets):
    services.caller_approve(membership=newcomer.memberships.get(), actor=coordinator)
    assert calling.target_claim(campaign=campaign, caller=newcomer) is not None
    entry = LogEntry.objects.get(action="accounts.caller.approved")
    assert entry.actor == coordinator and entry.object_id == str(newcomer.pk)
    assert entry.data == {"campaign": campaign.slug, "old": "pending"}


def test_an_admin_s_suspension_ends_sessions_revokes_tokens_and_releases_contacts(
    client, campaign, admin, caller, targets
):
    client.force_login(caller)
    assert client.get(reverse("calling:workspace", args=[campaign.slug])).status_code == 200
    headers = _bearer(caller)
    held = calling.target_claim(campaign=campaign, caller=caller).target
    services.user_suspend(user=caller, actor=admin)
    # The session is over: the next request is anonymous and sent to sign in.
    page = client.get(reverse("calling:workspace", args=[campaign.slug]))
    assert page.status_code == 302 and reverse("accounts:login") in page["Location"]
    # The token no longer works.
    assert client.post(f"/api/campaigns/{campaign.slug}/claim", **headers).status_code == 401
    assert not ApiToken.objects.active().filter(user=caller).exists()
    # The contact is back in the queue.
    held.refresh_from_db()
    assert held.lease_holder is None
    entry = LogEntry.objects.get(action="accounts.user.suspended")
    assert entry.data["tokens_revoked"] == 1 and entry.data["contacts_released"] == 1
    assert entry.actor == admin
    # Even with a new token (an admin made one) and a fresh sign-in, no claim, no outcome.
    caller.refresh_from_db()
    fresh = _bearer(caller)
    claim = client.post(f"/api/campaigns/{campaign.slug}/claim", **fresh)
    assert claim.status_code == 403 and "suspended" in claim.json()["detail"]
    outcome = client.post(
        f"/api/targets/{held.pk}/outcome",
        {"outcome": "no_answer"},
        content_type="application/json",
        **fresh,
    )
    assert outcome.status_code in (403, 409)
    assert outcome.json()["detail"]


def test_an_outcome_by_a_suspended_caller_holding_a_lease_is_refused(
    client, campaign, coordinator, caller, targets
):
    held = calling.target_claim(campaign=campaign, caller=caller).target
    # Mid-call, and without the release suspension does: the outcome itself checks.
    Membership.objects.filter(user=caller).update(status=CallerStatus.SUSPENDED)
    response = client.post(
        f"/api/targets/{held.pk}/outcome",
        {"outcome": "no_answer"},
        content_type="application/json",
        **_bearer(caller),
    )
    assert response.status_code == 403 and "suspended" in response.json()["detail"]
    assert not CallAttempt.objects.exists()


def test_trust_is_audited_and_only_callers_are_vetted(campaign, coordinator, caller, admin):
    services.caller_trust_set(membership=caller.memberships.get(), trusted=True, actor=coordinator)
    assert caller.memberships.get().trusted
    entry = LogEntry.objects.get(action="accounts.caller.trusted")
    assert entry.data == {"campaign": campaign.slug, "trusted": True}
    with pytest.raises(DomainError):
        services.caller_suspend(membership=coordinator.memberships.get(), actor=coordinator)
    with pytest.raises(DomainError):
        services.user_suspend(user=coordinator, actor=admin)


def test_the_people_page_vets_callers_and_makes_invitation_links(
    client, campaign, coordinator, newcomer
):
    client.force_login(coordinator)
    url = reverse("campaigns:people", args=[campaign.slug])
    membership = newcomer.memberships.get()
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "newbie" in page and "Waiting for approval" in page
    client.post(url, {"vet": "approve", "member": membership.pk})
    membership.refresh_from_db()
    assert membership.status == CallerStatus.APPROVED
    made = client.post(url, {"invite": "1", "note": "for Wang", "days": 3, "max_uses": 2})
    link = re.search(r'id="invitation-link" value="([^"]+)"', made.content.decode())[1]
    assert "/join/" in link and "no-store" in made["Cache-Control"]
    invitation = Invitation.objects.get(note="for Wang")
    assert invitation.max_uses == 2
    client.post(url, {"revoke_invitation": invitation.pk})
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    bad = client.post(url, {"invite": "1", "days": 0, "max_uses": 1}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 200 and "greater than or equal to 1" in bad.content.decode()


def test_a_coordinator_of_another_campaign_can_neither_see_nor_vet_these_callers(
    client, campaign, newcomer, other_campaign_coordinator
):
    client.force_login(other_campaign_coordinator)
    url = reverse("campaigns:people", args=[campaign.slug])
    assert client.get(url).status_code == 404
    membership = newcomer.memberships.get()
    assert client.post(url, {"vet": "approve", "member": membership.pk}).status_code == 404
    headers = _bearer(other_campaign_coordinator)
    assert client.get(f"/api/campaigns/{campaign.slug}/callers", **headers).status_code == 404
    approve = f"/api/campaigns/{campaign.slug}/callers/{newcomer.pk}/approve"
    assert client.post(approve, **headers).status_code == 404
    # Nor through their own campaign's address.
    other = f"/api/campaigns/{other_campaign_coordinator.memberships.get().campaign.slug}"
    assert client.post(f"{other}/callers/{newcomer.pk}/approve", **headers).status_code == 404
    membership.refresh_from_db()
    assert membership.status == CallerStatus.PENDING


# --- the coordinator API ------------------------------------------------------------------


def test_the_api_lists_approves_and_suspends_callers(client, campaign, coordinator, newcomer):
    headers = _bearer(coordinator)
    base = f"/api/campaigns/{campaign.slug}"
    listed = client.get(f"{base}/callers", **headers).json()
    assert [(c["username"], c["status"]) for c in listed] == [("newbie", "pending")]
    approved = client.post(f"{base}/callers/{newcomer.pk}/approve", **headers)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    trusted = client.post(f"{base}/callers/{newcomer.pk}/trust", **headers).json()
    assert trusted["trusted"] is True
    suspended = client.post(f"{base}/callers/{newcomer.pk}/suspend", **headers).json()
    assert suspended["status"] == "suspended"
    assert client.post(f"{base}/callers/{newcomer.pk}/promote", **headers).status_code == 404
    assert client.post(f"{base}/callers/{coordinator.pk}/suspend", **headers).status_code == 404


def test_the_api_creates_lists_and_revokes_invitations(client, campaign, coordinator, caller):
    headers = _bearer(coordinator)
    base = f"/api/campaigns/{campaign.slug}/invitations"
    made = client.post(
        base,
        {"note": "for Zhao", "days": 2, "max_uses": 3},
        content_type="application/json",
        **headers,
    )
    assert made.status_code == 201
    body = made.json()
    assert body["url"].startswith("http://testserver/join/") and body["state"] == "usable"
    assert client.get(body["url"]).status_code == 200
    listed = client.get(base, **headers).json()
    assert [i["note"] for i in listed] == ["for Zhao"] and listed[0]["url"] is None
    revoked = client.post(f"{base}/{body['id']}/revoke", **headers).json()
    assert revoked["state"] == "revoked"
    bad = client.post(base, {"days": 365}, content_type="application/json", **headers)
    assert bad.status_code == 422 and bad.json()["detail"]
    # Callers: 403 with a JSON error.
    as_caller = client.get(base, **_bearer(caller))
    assert as_caller.status_code == 403 and as_caller.json()["detail"]
    assert (
        client.get(f"/api/campaigns/{campaign.slug}/callers", **_bearer(caller)).status_code == 403
    )


def test_the_openapi_document_has_the_people_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/campaigns/{slug}/callers",
        "/api/campaigns/{slug}/callers/{caller_id}/{action}",
        "/api/campaigns/{slug}/invitations",
        "/api/campaigns/{slug}/invitations/{invitation_id}/revoke",
    ):
        assert path in paths, path


# --- profile and practice -----------------------------------------------------------------


def test_the_profile_keeps_language_and_time_zone_and_shows_only_own_calls(
    client, campaign, caller, targets
):
    from phonebank.accounts.services import user_create

    other = user_create(username="other", password=PASSWORD, role=Role.CALLER, campaign=campaign)
    mine = calling.target_claim(campaign=campaign, caller=caller).target
    calling.outcome_record(target=mine, caller=caller, outcome="busy", notes="my own note")
    theirs = calling.target_claim(campaign=campaign, caller=other).target
    calling.outcome_record(target=theirs, caller=other, outcome="refused", notes="their note")
    client.force_login(caller)
    page = client.get(reverse("accounts:profile"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "my own note" in page and "their note" not in page
    assert "联系人" not in page and "+86137" not in page  # no contact's name or number
    saved = client.post(
        reverse("accounts:profile"), {"language": "zh-hant", "timezone": "Asia/Taipei"}
    )
    assert saved.status_code == 302
    caller.refresh_from_db()
    assert (caller.language, caller.timezone) == ("zh-hant", "Asia/Taipei")
    client.cookies.pop("django_language", None)
    bad = client.post(
        reverse("accounts:profile"),
        {"language": "en", "timezone": "Nowhere/Land"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert bad.status_code == 400 and "Unknown time zone: Nowhere/Land" in bad.content.decode()


def test_a_caller_changes_their_password_and_stays_signed_in(client, caller):
    client.force_login(caller)
    response = client.post(
        reverse("accounts:password"),
        {
            "old_password": PASSWORD,
            "new_password1": "a new long passphrase 42",
            "new_password2": "a new long passphrase 42",
        },
    )
    assert response.status_code == 302
    caller.refresh_from_db()
    assert caller.check_password("a new long passphrase 42")
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_practice_records_nothing_and_shows_no_number(client, campaign, newcomer, targets):
    client.force_login(newcomer)
    page = client.get(reverse("calling:practice", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="practice-banner"' in html
    assert "tel:" not in html and "+86137" not in html and 'id="contact-name"' in html
    url = reverse("calling:practice_outcome", args=[campaign.slug])
    for data in (
        {"outcome": "no_answer", "notes": "practice note"},
        {"outcome": "callback", "callback_local": "2026-11-26T10:00"},
        {"outcome": "declared", "alias": "练习", "organisations": ["party"], "consent": "on"},
    ):
        response = client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, response.content.decode()
        assert "nothing recorded" in response.content.decode()
    no_consent = client.post(
        url,
        {"outcome": "declared", "alias": "练习", "organisations": ["party"]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert no_consent.status_code == 400 and "explicit agreement" in no_consent.content.decode()
    assert not CallAttempt.objects.exists() and not Declaration.objects.exists()
    assert not Target.objects.exclude(lease_holder=None).exists()
    assert not Target.objects.exclude(attempts=0).exists()


# --- contacts reserved for trusted callers ---------------------------------------------------


def test_contacts_reserved_for_trusted_callers(client, campaign, coordinator, caller, targets):
    client.force_login(coordinator)
    url = reverse("contacts:list", args=[campaign.slug])
    response = client.post(url, {"reserve": "trusted", "province": "BJ", "status": ""})
    assert response.status_code == 302
    assert Target.objects.filter(for_trusted=True).count() == 3
    entry = LogEntry.objects.get(action="calling.targets.reserved")
    assert entry.actor == coordinator and entry.data["count"] == 3
    # An untrusted caller gets nobody; a trusted one gets a contact.
    assert calling.target_claim(campaign=campaign, caller=caller) is None
    services.caller_trust_set(membership=caller.memberships.get(), trusted=True, actor=coordinator)
    assert calling.target_claim(campaign=campaign, caller=caller) is not None
    listed = client.get(f"/api/campaigns/{campaign.slug}/contacts", **_bearer(coordinator)).json()[
        "contacts"
    ]
    assert all(c["for_trusted"] for c in listed)
    client.post(url, {"reserve": "everyone", "province": "", "status": ""})
    assert not Target.objects.filter(for_trusted=True).exists()


def test_a_caller_cannot_reserve_contacts(client, campaign, caller, targets):
    client.force_login(caller)
    url = reverse("contacts:list", args=[campaign.slug])
    assert client.post(url, {"reserve": "trusted"}).status_code == 403
    assert not Target.objects.filter(for_trusted=True).exists()


# --- anti-scraping: daily cap and alert -----------------------------------------------------


@pytest.fixture
def many_targets(campaign):
    made = []
    for n in range(40):
        e164 = f"+86136{n:08d}"
        contact = Contact.objects.create(
            blind_index=keyring().blind_index(e164),
            phone=e164,
            name=f"名{n}",
            country="CN",
            province="SH",
            timezone="Asia/Shanghai",
        )
        made.append(Target.objects.create(campaign=campaign, contact=contact))
    return made


def test_a_caller_who_claims_and_releases_is_flagged_to_coordinators(
    client, settings, campaign, coordinator, caller, many_targets
):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0
    for _ in range(20):
        held = calling.target_claim(campaign=campaign, caller=caller).target
        calling.target_release(target=held, caller=caller)
    entry = LogEntry.objects.get(action="calling.scraping.suspected")
    assert entry.object_id == str(caller.pk) and entry.data == {"claims": 20, "outcomes": 0}
    client.force_login(coordinator)
    page = client.get(reverse("campaigns:people", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="en")
    assert "20 contacts claimed today, 0 outcomes recorded" in page.content.decode()
    for _ in range(20):  # one alert a day
        held = calling.target_claim(campaign=campaign, caller=caller).target
        calling.target_release(target=held, caller=caller)
    assert LogEntry.objects.filter(action="calling.scraping.suspected").count() == 1


def test_a_caller_who_records_outcomes_is_not_flagged(settings, campaign, caller, many_targets):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0
    for _ in range(30):
        held = calling.target_claim(campaign=campaign, caller=caller).target
        calling.outcome_record(target=held, caller=caller, outcome="no_answer")
    assert not LogEntry.objects.filter(action="calling.scraping.suspected").exists()


def test_the_daily_cap_stops_claims_until_tomorrow(
    client, settings, campaign, caller, many_targets
):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0
    settings.PHONEBANK_CLAIM_DAILY_CAP = 3
    for _ in range(3):
        held = calling.target_claim(campaign=campaign, caller=caller).target
        calling.outcome_record(target=held, caller=caller, outcome="refused")
    with pytest.raises(calling.RateLimited, match="daily limit"):
        calling.target_claim(campaign=campaign, caller=caller)
    api = client.post(f"/api/campaigns/{campaign.slug}/claim", **_bearer(caller))
    assert api.status_code == 429 and "daily limit" in api.json()["detail"]
    with time_machine.travel("2026-11-26T02:00:00Z", tick=False):
        assert calling.target_claim(campaign=campaign, caller=caller) is not None
