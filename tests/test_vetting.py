"""Vetting is per campaign: a coordinator decides who gets real contacts in their own
campaign, and nothing they do reaches a campaign they cannot see. An admin's suspension is
the one installation-wide decision.

Personas: ``caller`` is approved in spring (created there by an admin), ``coordinator``
runs spring, ``other_campaign_coordinator`` runs autumn.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from phonebank.accounts import services
from phonebank.accounts.models import ApiToken, CallerStatus, Membership, Role, User
from phonebank.audit.models import LogEntry
from phonebank.calling import selectors
from phonebank.calling import services as calling
from phonebank.calling.models import Outcome, Target, TargetStatus
from phonebank.campaigns.services import member_add
from phonebank.lib.errors import DomainError
from tests.conftest import PASSWORD, make_targets

pytestmark = pytest.mark.usefixtures("inside_calling_hours")


@pytest.fixture
def spring_targets(campaign):
    return make_targets(campaign, "135")


@pytest.fixture
def autumn_targets(other_campaign):
    return make_targets(other_campaign, "134")


@pytest.fixture
def in_both(caller, other_campaign, admin):
    """The spring caller, added to autumn too by an admin: pending there."""
    member_add(campaign=other_campaign, username=caller.username, actor=admin)
    return caller


def _membership(user, campaign) -> Membership:
    return Membership.objects.get(user=user, campaign=campaign)


def _bearer(user) -> dict:
    _token, raw = services.token_create(user=user, actor=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _claim_api(client, campaign, headers):
    return client.post(f"/api/campaigns/{campaign.slug}/claim", **headers)


# --- approval in one campaign gives nothing in another ------------------------------------


def test_approval_in_one_campaign_gives_no_contact_in_another(
    client, campaign, other_campaign, in_both, other_campaign_coordinator, spring_targets,
    autumn_targets,
):  # fmt: skip
    caller = in_both
    assert _membership(caller, campaign).status == CallerStatus.APPROVED
    assert _membership(caller, other_campaign).status == CallerStatus.PENDING
    with pytest.raises(calling.NotApproved, match="not approved"):
        calling.target_claim(campaign=other_campaign, caller=caller)
    assert all(not q.exists() for q in selectors.candidates(other_campaign, caller, timezone.now()))
    headers = _bearer(caller)
    refused = _claim_api(client, other_campaign, headers)
    assert refused.status_code == 403 and "approved" in refused.json()["detail"]
    client.force_login(caller)
    page = client.post(
        reverse("calling:next", args=[other_campaign.slug]),
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 403 and "not approved your account yet" in page.content.decode()
    assert not Target.objects.filter(campaign=other_campaign, lease_holder=caller).exists()
    # Spring still works, and autumn once autumn's coordinator approves.
    assert _claim_api(client, campaign, headers).status_code == 200
    services.caller_approve(
        membership=_membership(caller, other_campaign), actor=other_campaign_coordinator
    )
    claimed = _claim_api(client, other_campaign, headers)
    assert claimed.status_code == 200
    assert Target.objects.get(pk=claimed.json()["target"]).campaign == other_campaign


def test_trust_in_one_campaign_does_not_count_in_another(
    campaign, other_campaign, in_both, coordinator, other_campaign_coordinator, autumn_targets
):
    caller = in_both
    services.caller_trust_set(
        membership=_membership(caller, campaign), trusted=True, actor=coordinator
    )
    services.caller_approve(
        membership=_membership(caller, other_campaign), actor=other_campaign_coordinator
    )
    Target.objects.filter(campaign=other_campaign).update(for_trusted=True)
    assert calling.target_claim(campaign=other_campaign, caller=caller) is None
    services.caller_trust_set(
        membership=_membership(caller, other_campaign),
        trusted=True,
        actor=other_campaign_coordinator,
    )
    assert calling.target_claim(campaign=other_campaign, caller=caller) is not None


def test_the_lease_statement_itself_checks_approval(campaign, caller, spring_targets):
    """A suspension that lands after the check before the claim still holds: the lease is
    written only while the membership is approved, read inside the write transaction."""
    loaded = _membership(caller, campaign)  # approved, as a view read it a moment ago
    Membership.objects.filter(pk=loaded.pk).update(status=CallerStatus.SUSPENDED)
    assert calling.target_claim(campaign=campaign, caller=caller, membership=loaded) is None
    assert not Target.objects.exclude(lease_holder=None).exists()
    loaded.status = CallerStatus.APPROVED
    User.objects.filter(pk=caller.pk).update(suspended=True)
    assert calling.target_claim(campaign=campaign, caller=caller, membership=loaded) is None
    with pytest.raises(ValueError):
        calling.target_claim(
            campaign=campaign, caller=caller, membership=Membership(campaign=campaign)
        )


def test_a_new_campaign_membership_starts_pending_and_is_audited(
    campaign, other_campaign, caller, admin
):
    member_add(campaign=other_campaign, username="CAL", actor=admin)
    membership = _membership(caller, other_campaign)
    assert membership.status == CallerStatus.PENDING and not membership.trusted
    entry = LogEntry.objects.get(
        action="accounts.membership.added", data__campaign=other_campaign.slug
    )
    assert entry.actor == admin and entry.data["status"] == "pending"


# --- another campaign's coordinator: nothing to see, nothing to do -------------------------


def test_another_campaigns_coordinator_cannot_add_the_caller_and_learns_nothing(
    client, campaign, other_campaign, caller, coordinator, other_campaign_coordinator
):
    def refusal(username: str) -> str:
        with pytest.raises(DomainError) as refused:
            member_add(campaign=other_campaign, username=username, actor=other_campaign_coordinator)
        return str(refused.value).replace(f" {username} ", " NAME ")

    # A caller of a campaign they cannot see, a staff member, an unknown name, a disabled
    # account: the same words.
    disabled = services.user_create(username="gone", password=PASSWORD, role=Role.CALLER)
    disabled.is_active = False
    disabled.save(update_fields=["is_active"])
    messages = {refusal(name) for name in ("cal", coordinator.username, "nobody-at-all", "gone")}
    assert len(messages) == 1
    assert "invitation" in messages.pop()
    assert not Membership.objects.filter(user=caller, campaign=other_campaign).exists()
    # The People page says the same, whatever the name.
    client.force_login(other_campaign_coordinator)
    url = reverse("campaigns:people", args=[other_campaign.slug])
    pages = []
    for name in ("cal", "nobody-at-all"):
        page = client.post(url, {"username": name}, HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        text = page.content.decode().replace(f'"{name}"', '"NAME"').replace(f" {name} ", " NAME ")
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
        pages.append(text[text.index('id="members"') :])
    assert pages[0] == pages[1]
    assert not Membership.objects.filter(user=caller, campaign=other_campaign).exists()


def test_a_coordinator_adds_a_caller_of_another_of_their_campaigns_pending_there(
    campaign, other_campaign, caller, coordinator
):
    services.membership_add(user=coordinator, campaign=other_campaign, actor=None)
    membership = member_add(campaign=other_campaign, username="cal", actor=coordinator)
    assert (membership.campaign, membership.status) == (other_campaign, CallerStatus.PENDING)
    assert _membership(caller, campaign).status == CallerStatus.APPROVED  # spring unchanged
    # A coordinator adds no staff, even one they share a campaign with.
    other = services.user_create(
        username="coco", password=PASSWORD, role=Role.COORDINATOR, campaign=campaign
    )
    with pytest.raises(DomainError):
        member_add(campaign=other_campaign, username=other.username, actor=coordinator)


def test_another_campaigns_coordinator_can_neither_see_approve_trust_nor_suspend(
    client, campaign, caller, coordinator, other_campaign_coordinator, spring_targets
):
    held = calling.target_claim(campaign=campaign, caller=caller).target
    membership = _membership(caller, campaign)
    client.force_login(other_campaign_coordinator)
    url = reverse("campaigns:people", args=[campaign.slug])
    assert client.get(url).status_code == 404
    for action in ("approve", "suspend", "trust", "untrust"):
        assert client.post(url, {"vet": action, "member": membership.pk}).status_code == 404
    assert client.post(url, {"remove": membership.pk}).status_code == 404
    headers = _bearer(other_campaign_coordinator)
    base = f"/api/campaigns/{campaign.slug}/callers"
    assert client.get(base, **headers).status_code == 404
    mine = f"/api/campaigns/{other_campaign_coordinator.memberships.get().campaign.slug}/callers"
    for action in ("approve", "suspend", "trust", "untrust"):
        assert client.post(f"{base}/{caller.pk}/{action}", **headers).status_code == 404
        assert client.post(f"{mine}/{caller.pk}/{action}", **headers).status_code == 404
    membership.refresh_from_db()
    held.refresh_from_db()
    assert (membership.status, membership.trusted) == (CallerStatus.APPROVED, False)
    assert held.lease_holder == caller
    assert not LogEntry.objects.filter(action__startswith="accounts.caller.").exists()


def test_vetting_in_a_shared_caller_s_other_campaign_stays_there(
    client, campaign, other_campaign, in_both, other_campaign_coordinator, spring_targets
):
    """Once the caller is in autumn too, autumn's coordinator vets autumn's membership
    only: spring's approval, lease and page are out of their reach."""
    caller = in_both
    held = calling.target_claim(campaign=campaign, caller=caller).target
    headers = _bearer(other_campaign_coordinator)
    base = f"/api/campaigns/{other_campaign.slug}/callers/{caller.pk}"
    assert client.post(f"{base}/suspend", **headers).json()["status"] == "suspended"
    assert client.post(f"{base}/trust", **headers).json()["trusted"] is True
    spring = _membership(caller, campaign)
    held.refresh_from_db()
    assert (spring.status, spring.trusted) == (CallerStatus.APPROVED, False)
    assert held.lease_holder == caller
    client.force_login(other_campaign_coordinator)
    assert client.get(reverse("campaigns:people", args=[campaign.slug])).status_code == 404


# --- suspension in a campaign, and by an admin ----------------------------------------------


def test_suspension_in_one_campaign_releases_its_leases_only(
    client, campaign, other_campaign, in_both, coordinator, other_campaign_coordinator,
    spring_targets, autumn_targets,
):  # fmt: skip
    caller = in_both
    services.caller_approve(
        membership=_membership(caller, other_campaign), actor=other_campaign_coordinator
    )
    client.force_login(caller)
    headers = _bearer(caller)
    spring_held = calling.target_claim(campaign=campaign, caller=caller).target
    autumn_held = calling.target_claim(campaign=other_campaign, caller=caller).target
    services.caller_suspend(membership=_membership(caller, campaign), actor=coordinator)
    spring_held.refresh_from_db()
    autumn_held.refresh_from_db()
    assert spring_held.lease_holder is None
    assert autumn_held.lease_holder == caller
    entry = LogEntry.objects.get(action="accounts.caller.suspended")
    assert entry.actor == coordinator and entry.object_id == str(caller.pk)
    assert entry.data == {
        "campaign": campaign.slug,
        "old": "approved",
        "contacts_released": 1,
        "callbacks_handed_over": 0,
        "sessions_ended": False,
        "tokens_revoked": 0,
    }
    # Sessions and tokens go on (autumn still counts on them); spring refuses, autumn works.
    workspace = client.get(
        reverse("calling:workspace", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert workspace.status_code == 200
    assert "You are suspended in this campaign" in workspace.content.decode()
    refused = _claim_api(client, campaign, headers)
    assert refused.status_code == 403 and "suspended in this campaign" in refused.json()["detail"]
    outcome = client.post(
        f"/api/targets/{spring_held.pk}/outcome",
        {"outcome": "no_answer"},
        content_type="application/json",
        **headers,
    )
    assert outcome.status_code == 403
    renewed = _claim_api(client, other_campaign, headers)
    assert renewed.status_code == 200 and renewed.json()["target"] == autumn_held.pk
    assert ApiToken.objects.active().filter(user=caller).exists()
    # Approving again in spring lifts it there.
    services.caller_approve(membership=_membership(caller, campaign), actor=coordinator)
    assert _claim_api(client, campaign, headers).status_code == 200


def test_suspension_where_the_caller_is_approved_nowhere_else_ends_sessions_and_tokens(
    client, campaign, other_campaign, in_both, coordinator, spring_targets
):
    caller = in_both  # pending in autumn: approved only in spring
    client.force_login(caller)
    headers = _bearer(caller)
    workspace = reverse("calling:workspace", args=[campaign.slug])
    assert client.get(workspace).status_code == 200
    held = calling.target_claim(campaign=campaign, caller=caller).target
    services.caller_suspend(membership=_membership(caller, campaign), actor=coordinator)
    held.refresh_from_db()
    assert held.lease_holder is None
    # The session is over: the next request is anonymous and sent to sign in.
    page = client.get(workspace)
    assert page.status_code == 302 and reverse("accounts:login") in page["Location"]
    assert _claim_api(client, campaign, headers).status_code == 401
    assert not ApiToken.objects.active().filter(user=caller).exists()
    entry = LogEntry.objects.get(action="accounts.caller.suspended")
    assert entry.actor == coordinator
    assert entry.data["sessions_ended"] is True and entry.data["tokens_revoked"] == 1
    # Signing in again works (the account is not suspended), but spring gives nothing.
    caller.refresh_from_db()
    client.force_login(caller)
    fresh = _bearer(caller)
    refused = _claim_api(client, campaign, fresh)
    assert refused.status_code == 403 and "suspended in this campaign" in refused.json()["detail"]
    assert LogEntry.objects.filter(action="accounts.caller.suspended").count() == 1


def test_an_admin_s_suspension_holds_in_every_campaign_until_an_admin_lifts_it(
    client, campaign, other_campaign, in_both, admin, coordinator, other_campaign_coordinator,
    spring_targets, autumn_targets,
):  # fmt: skip
    caller = in_both
    services.caller_approve(
        membership=_membership(caller, other_campaign), actor=other_campaign_coordinator
    )
    client.force_login(caller)
    headers = _bearer(caller)
    calling.target_claim(campaign=campaign, caller=caller)
    calling.target_claim(campaign=other_campaign, caller=caller)
    with pytest.raises(DomainError):
        services.user_suspend(user=caller, actor=coordinator)  # an admin's decision only
    services.user_suspend(user=caller, actor=admin)
    assert not Target.objects.filter(lease_holder=caller).exists()
    assert not ApiToken.objects.active().filter(user=caller).exists()
    page = client.get(reverse("calling:workspace", args=[campaign.slug]))
    assert page.status_code == 302  # the session is over
    assert _claim_api(client, campaign, headers).status_code == 401
    entry = LogEntry.objects.get(action="accounts.user.suspended")
    assert entry.data["contacts_released"] == 2 and entry.data["tokens_revoked"] == 1
    # A coordinator's approval does not lift it; each campaign's vetting is kept.
    caller.refresh_from_db()
    services.caller_approve(membership=_membership(caller, campaign), actor=coordinator)
    fresh = _bearer(caller)
    for where in (campaign, other_campaign):
        refused = _claim_api(client, where, fresh)
        assert refused.status_code == 403 and "account is suspended" in refused.json()["detail"]
    coordinator_view = client.get(f"/api/campaigns/{campaign.slug}/callers", **_bearer(coordinator))
    listed = {c["username"]: c for c in coordinator_view.json()}
    assert listed["cal"]["status"] == "approved" and listed["cal"]["account_suspended"] is True
    services.user_unsuspend(user=caller, actor=admin)
    assert LogEntry.objects.filter(action="accounts.user.unsuspended").count() == 1
    assert _claim_api(client, campaign, fresh).status_code == 200


def test_admins_suspend_and_lift_in_the_django_admin(client, admin, caller):
    client.force_login(admin)
    url = reverse("admin:accounts_user_changelist")
    client.post(url, {"action": "suspend_everywhere", "_selected_action": [caller.pk]})
    caller.refresh_from_db()
    assert caller.suspended
    client.post(url, {"action": "lift_suspension", "_selected_action": [caller.pk]})
    caller.refresh_from_db()
    assert not caller.suspended
    actions = list(
        LogEntry.objects.filter(action__startswith="accounts.user.", object_id=str(caller.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "accounts.user.created",
        "accounts.user.suspended",
        "accounts.user.unsuspended",
    ]


# --- callbacks: to the caller who agreed them while that caller is active --------------------


@pytest.fixture
def trusted_caller(campaign, coordinator):
    user = services.user_create(
        username="tess", password=PASSWORD, role=Role.CALLER, campaign=campaign
    )
    services.caller_trust_set(
        membership=_membership(user, campaign), trusted=True, actor=coordinator
    )
    return user


def _agree_callback(campaign, caller) -> tuple[Target, object]:
    now = timezone.now()
    target = calling.target_claim(campaign=campaign, caller=caller).target
    at = now + timedelta(hours=1)
    calling.outcome_record(target=target, caller=caller, outcome=Outcome.CALLBACK, callback_at=at)
    return target, at


@pytest.mark.parametrize("how", ["suspended", "removed", "suspended by an admin"])
def test_a_gone_caller_s_callbacks_go_to_trusted_callers_at_once(
    campaign, caller, coordinator, admin, trusted_caller, spring_targets, how
):
    target, at = _agree_callback(campaign, caller)
    Target.objects.exclude(pk=target.pk).update(status=TargetStatus.DONE)  # only the callback
    # While its caller is active, a trusted caller waits out the grace period.
    assert calling.target_claim(campaign=campaign, caller=trusted_caller, now=at) is None
    membership = _membership(caller, campaign)
    if how == "suspended":
        services.caller_suspend(membership=membership, actor=coordinator)
    elif how == "removed":
        services.membership_remove(membership=membership, actor=coordinator)
    else:
        services.user_suspend(user=caller, actor=admin)
    target.refresh_from_db()
    assert (target.status, target.callback_caller) == (TargetStatus.CALLBACK, None)
    assert target.next_call_at == at  # still the time agreed with the person
    # Not before the agreed time; then at once, to trusted callers only.
    assert calling.target_claim(campaign=campaign, caller=trusted_caller) is None
    assert [t.pk for t in selectors.candidates(campaign, trusted_caller, at)[1]] == [target.pk]
    untrusted = services.user_create(
        username="una", password=PASSWORD, role=Role.CALLER, campaign=campaign
    )
    assert calling.target_claim(campaign=campaign, caller=untrusted, now=at) is None
    assert calling.target_claim(campaign=campaign, caller=trusted_caller, now=at).target == target
    entry = LogEntry.objects.filter(data__callbacks_handed_over=1)
    assert entry.count() == 1


def test_suspension_hands_over_only_that_campaign_s_callbacks(
    campaign, other_campaign, in_both, coordinator, other_campaign_coordinator, spring_targets,
    autumn_targets,
):  # fmt: skip
    caller = in_both
    services.caller_approve(
        membership=_membership(caller, other_campaign), actor=other_campaign_coordinator
    )
    spring, _at = _agree_callback(campaign, caller)
    autumn, _at = _agree_callback(other_campaign, caller)
    services.caller_suspend(
        membership=_membership(caller, other_campaign), actor=other_campaign_coordinator
    )
    spring.refresh_from_db()
    autumn.refresh_from_db()
    assert spring.callback_caller == caller and autumn.callback_caller is None


# --- pages: the workspace, practice, People, the profile -------------------------------------


def test_the_workspace_and_practice_follow_the_campaign_s_status(
    client, campaign, other_campaign, in_both, coordinator
):
    caller = in_both
    client.force_login(caller)
    spring = client.get(
        reverse("calling:workspace", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'id="not-approved"' not in spring and "Next contact" in spring
    autumn = client.get(
        reverse("calling:workspace", args=[other_campaign.slug]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "not approved your account yet" in autumn and "Practise with a made-up contact" in autumn
    practice = client.get(
        reverse("calling:practice", args=[other_campaign.slug]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'id="practice-banner"' in practice

    def practised(where) -> str:
        url = reverse("calling:practice_outcome", args=[where.slug])
        response = client.post(url, {"outcome": "busy"}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        return response.content.decode()

    # After a practice call: back to real calls where approved, more practice where not.
    assert "Back to real calls" in practised(campaign)
    assert "Back to real calls" not in practised(other_campaign)
    services.caller_suspend(membership=_membership(caller, campaign), actor=coordinator)
    caller.refresh_from_db()
    client.force_login(caller)  # approved nowhere else, so the suspension ended the session
    spring = client.get(
        reverse("calling:workspace", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "You are suspended in this campaign. Ask its coordinator." in spring
    assert 'action="/call/spring/next"' not in spring


def test_each_people_page_shows_its_own_campaign_s_vetting(
    client, campaign, other_campaign, in_both, coordinator, other_campaign_coordinator
):
    caller = in_both
    services.caller_trust_set(
        membership=_membership(caller, campaign), trusted=True, actor=coordinator
    )

    def row(user, campaign) -> str:
        client.force_login(user)
        page = client.get(
            reverse("campaigns:people", args=[campaign.slug]), HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
        start = page.index('data-user="cal"')
        return page[start : page.index("</tr>", start)]

    spring = row(coordinator, campaign)
    assert "Approved" in spring and "trusted" in spring and 'value="untrust"' in spring
    autumn = row(other_campaign_coordinator, other_campaign)
    assert "Waiting for approval" in autumn and "trusted" not in autumn.replace("untrust", "")
    assert 'value="approve"' in autumn


def test_the_profile_shows_the_status_in_each_campaign(client, campaign, other_campaign, in_both):
    client.force_login(in_both)
    page = client.get(reverse("accounts:profile"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    mine = page[page.index('id="my-status"') : page.index("</ul>", page.index('id="my-status"'))]
    assert "Spring calls: <span" in mine and "Autumn calls: <span" in mine
    assert mine.index("Waiting for approval") < mine.index("Approved")  # autumn, then spring


def test_the_callback_picker_knows_the_caller_s_profile_time_zone(
    client, campaign, caller, spring_targets
):
    caller.timezone = "America/Vancouver"
    caller.save(update_fields=["timezone"])
    client.force_login(caller)
    client.post(reverse("calling:next", args=[campaign.slug]))
    page = client.get(reverse("calling:workspace", args=[campaign.slug])).content.decode()
    assert 'id="callback-mine" data-zone="America/Vancouver"' in page


# --- the migration: each membership takes its user's old status and trust --------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_copies_each_caller_s_status_and_trust_to_their_memberships():
    executor = MigrationExecutor(connection)
    before = [("accounts", "0003_second_factor")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldUser, OldMembership = (
        old.get_model("accounts", "User"),
        old.get_model("accounts", "Membership"),
    )
    OldCampaign = old.get_model("campaigns", "Campaign")
    spring = OldCampaign.objects.create(slug="spring", name="Spring")
    autumn = OldCampaign.objects.create(slug="autumn", name="Autumn")
    people = {
        "approved": ("approved", False),
        "pending": ("pending", False),
        "suspended": ("suspended", False),
        "trusted": ("approved", True),
    }
    for name, (status, trusted) in people.items():
        user = OldUser.objects.create(username=name, role="caller", status=status, trusted=trusted)
        for campaign in (spring, autumn):
            OldMembership.objects.create(user=user, campaign=campaign)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    for name, (status, trusted) in people.items():
        rows = set(Membership.objects.filter(user__username=name).values_list("status", "trusted"))
        assert rows == {(status, trusted)}, name
        assert User.objects.get(username=name).suspended is False
    # And back: one status per user again (the strictest of their campaigns).
    Membership.objects.filter(user__username="approved", campaign__slug="autumn").update(
        status="suspended"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    back = dict(old.get_model("accounts", "User").objects.values_list("username", "status"))
    assert back == {
        "approved": "suspended",
        "pending": "pending",
        "suspended": "suspended",
        "trusted": "approved",
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
