"""Coordinator pages for a campaign's playbook, retry rules, organisations and people."""

from __future__ import annotations

import pytest

from phonebank.accounts.models import Membership, Role
from phonebank.accounts.services import membership_add, user_create
from phonebank.audit.models import LogEntry
from phonebank.campaigns.models import Organisation, PlaybookEntry, RetryRule
from phonebank.campaigns.services import campaign_create
from phonebank.lib.errors import DomainError
from tests.conftest import PASSWORD

PAGES = ["playbook/", "rules/", "people/"]


def test_a_new_campaign_has_the_default_rules_and_organisations(campaign):
    assert {r.outcome: (r.delay_minutes, r.max_attempts) for r in campaign.retry_rules.all()} == {
        "no_answer": (180, 5),
        "busy": (30, 5),
        "hung_up": (1440, 2),
        "listened": (4320, 3),
    }
    assert list(campaign.organisations.values_list("code", flat=True)) == [
        "party",
        "league",
        "pioneers",
    ]


@pytest.mark.parametrize("slug", ["when", "new"])
def test_reserved_short_names_are_refused(db, slug):
    with pytest.raises(DomainError, match="reserved"):
        campaign_create(slug=slug, name="x", actor=None)


@pytest.mark.parametrize("page", PAGES)
def test_settings_pages_refuse_callers_and_other_coordinators(
    signed_in, caller, other_campaign_coordinator, page
):
    assert signed_in(caller).get(f"/campaigns/spring/{page}").status_code == 403
    assert signed_in(other_campaign_coordinator).get(f"/campaigns/spring/{page}").status_code == 404


def test_playbook_add_edit_remove(signed_in, coordinator, campaign):
    client = signed_in(coordinator)
    client.post(
        "/campaigns/spring/playbook/",
        {
            "enew-objection": "我不认识你",
            "enew-response": "谨慎是应该的",
            "enew-tags": "trust",
            "enew-order": 1,
        },
    )
    entry = PlaybookEntry.objects.get()
    client.post(
        f"/campaigns/spring/playbook/{entry.pk}/",
        {
            f"e{entry.pk}-objection": "我不认识你。",
            f"e{entry.pk}-response": "您说得对",
            f"e{entry.pk}-tags": "",
            f"e{entry.pk}-order": 2,
        },
    )
    entry.refresh_from_db()
    assert (entry.objection, entry.response, entry.order) == ("我不认识你。", "您说得对", 2)
    body = client.get("/campaigns/spring/playbook/").content.decode()
    assert "您说得对" in body
    client.post(f"/campaigns/spring/playbook/{entry.pk}/", {"delete": "1"})
    assert not PlaybookEntry.objects.exists()
    actions = set(LogEntry.objects.values_list("action", flat=True))
    assert {"campaigns.playbook.saved", "campaigns.playbook.deleted"} <= actions


def test_a_playbook_entry_without_a_response_re_renders(signed_in, coordinator, campaign):
    response = signed_in(coordinator).post(
        "/campaigns/spring/playbook/", {"enew-objection": "x", "enew-response": "", "enew-order": 0}
    )
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()


def test_another_campaigns_playbook_entry_is_404(signed_in, coordinator, other_campaign):
    foreign = other_campaign.playbook.create(objection="x", response="y")
    assert (
        signed_in(coordinator)
        .post(f"/campaigns/spring/playbook/{foreign.pk}/", {"delete": "1"})
        .status_code
        == 404
    )
    assert PlaybookEntry.objects.filter(pk=foreign.pk).exists()


def test_retry_rules_are_replaced_and_audited(signed_in, coordinator, campaign):
    response = signed_in(coordinator).post(
        "/campaigns/spring/rules/",
        {"rules": "1", "no_answer_delay": 60, "no_answer_max": 3, "busy_delay": 15, "busy_max": 4},
    )
    assert response.status_code == 302
    assert {r.outcome: (r.delay_minutes, r.max_attempts) for r in RetryRule.objects.all()} == {
        "no_answer": (60, 3),
        "busy": (15, 4),
    }
    assert LogEntry.objects.filter(action="campaigns.retry_rules.changed").exists()


def test_half_a_retry_rule_re_renders_with_a_message(signed_in, coordinator, campaign):
    response = signed_in(coordinator).post(
        "/campaigns/spring/rules/", {"rules": "1", "no_answer_delay": 60}
    )
    assert response.status_code == 200
    assert "Give both numbers" in response.content.decode()
    assert RetryRule.objects.filter(outcome="busy").exists()


def test_organisations_add_and_remove(signed_in, coordinator, campaign):
    client = signed_in(coordinator)
    client.post(
        "/campaigns/spring/rules/",
        {
            "organisation": "1",
            "code": "union",
            "name_en": "Trade union",
            "name_zh_hans": "工会",
            "name_zh_hant": "工會",
            "order": 5,
        },
    )
    assert Organisation.objects.filter(campaign=campaign, code="union").exists()
    duplicate = client.post(
        "/campaigns/spring/rules/",
        {
            "organisation": "1",
            "code": "party",
            "name_en": "x",
            "name_zh_hans": "x",
            "name_zh_hant": "x",
            "order": 0,
        },
    )
    assert "in use" in duplicate.content.decode()
    union = Organisation.objects.get(code="union")
    client.post("/campaigns/spring/rules/", {"remove_organisation": union.pk})
    assert not Organisation.objects.filter(code="union").exists()


def test_coordinators_add_and_remove_callers_but_not_staff(
    signed_in, coordinator, campaign, other_campaign, admin
):
    # A caller of another of the coordinator's campaigns may be added (pending here); staff,
    # strangers and unknown names get one and the same refusal (docs/volunteers.md).
    membership_add(user=coordinator, campaign=other_campaign, actor=admin)
    newcomer = user_create(
        username="nina", password=PASSWORD, role=Role.CALLER, campaign=other_campaign
    )
    user_create(username="boss", password=PASSWORD, role=Role.COORDINATOR, campaign=other_campaign)
    user_create(username="stranger", password=PASSWORD, role=Role.CALLER)
    client = signed_in(coordinator)
    client.post("/campaigns/spring/people/", {"username": "NINA"})
    membership = Membership.objects.get(user=newcomer, campaign=campaign)
    assert membership.status == "pending"
    for name in ("boss", "stranger", "ghost"):
        refused = client.post("/campaigns/spring/people/", {"username": name}).content.decode()
        assert f"You can add {name} only if they are a caller in another of your" in refused
    client.post("/campaigns/spring/people/", {"remove": membership.pk})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert LogEntry.objects.filter(action="accounts.membership.removed").exists()


def test_a_coordinator_cannot_remove_another_coordinator(signed_in, coordinator, campaign):
    other = user_create(username="co2", password=PASSWORD, role=Role.COORDINATOR, campaign=campaign)
    membership = Membership.objects.get(user=other)
    response = signed_in(coordinator).post("/campaigns/spring/people/", {"remove": membership.pk})
    assert response.status_code == 403
