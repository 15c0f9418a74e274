"""The caller workspace pages (htmx fragments and plain posts)."""

from __future__ import annotations

import re

import pytest

from phonebank.calling.models import CallAttempt, Target, TargetStatus
from phonebank.contacts.models import Contact
from phonebank.lib.fields import keyring
from phonebank.registry.models import Declaration

HX = {"HTTP_HX_REQUEST": "true"}


pytestmark = pytest.mark.usefixtures("inside_calling_hours")


@pytest.fixture
def target(campaign):
    e164 = "+8613912345678"
    contact = Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name="张三",
        title="科员",
        organisation="第三机械厂",
        province="JS",
        city_zh="常州市",
        city_en="Changzhou",
        timezone="Asia/Shanghai",
    )
    return Target.objects.create(campaign=campaign, contact=contact)


def _next(client):
    return client.post("/call/spring/next", **HX)


def test_next_contact_shows_one_contact_with_everything_for_the_call(
    signed_in, caller, target, campaign
):
    campaign.playbook.create(objection="我现在很忙", response="约个时间")
    client = signed_in(caller)
    page = client.get("/call/spring/").content.decode()
    assert 'id="next-contact"' in page and "张三" not in page
    fragment = _next(client).content.decode()
    assert "<html" not in fragment
    for text in (
        "张三",
        "科员",
        "第三机械厂",
        'href="tel:+8613912345678"',
        "+86 139 1234 5678",
        "Asia/Shanghai",
        "10:00",
        "我现在很忙",
        'id="call-timer"',
    ):
        assert text in fragment, text
    assert "calling hours end in 120 min" in fragment


def test_the_workspace_page_keeps_its_query_count(
    signed_in, caller, target, django_assert_max_num_queries
):
    client = signed_in(caller)
    _next(client)
    with django_assert_max_num_queries(14):
        assert client.get("/call/spring/").status_code == 200


def test_an_outcome_ends_the_call_and_offers_the_next(signed_in, caller, target):
    client = signed_in(caller)
    _next(client)
    response = client.post(
        f"/call/spring/targets/{target.pk}/outcome", {"outcome": "busy", "notes": "在开会"}, **HX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Recorded: Busy" in body and 'id="next-contact"' in body
    assert CallAttempt.objects.get().notes == "在开会"
    assert "1 call today" in body


def test_a_declaration_shows_the_receipt_once(signed_in, caller, target):
    client = signed_in(caller)
    _next(client)
    response = client.post(
        f"/call/spring/targets/{target.pk}/outcome",
        {
            "outcome": "declared",
            "alias": "自由",
            "organisations": ["party", "league"],
            "consent": "on",
        },
        **HX,
    )
    code = re.search(r'id="receipt-code">([A-Z0-9-]+)<', response.content.decode()).group(1)
    assert len(code) == 19
    assert Declaration.objects.get().alias == "自由"
    assert code not in client.get("/call/spring/").content.decode()


def test_a_declaration_without_consent_re_renders_with_the_message(signed_in, caller, target):
    client = signed_in(caller)
    _next(client)
    response = client.post(
        f"/call/spring/targets/{target.pk}/outcome",
        {"outcome": "declared", "alias": "自由", "organisations": ["party"], "notes": "kept"},
        **HX,
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "explicit agreement" in body and "张三" in body and "kept" in body
    assert not Declaration.objects.exists()


def test_a_callback_is_entered_in_the_contacts_local_time(signed_in, caller, target):
    client = signed_in(caller)
    _next(client)
    client.post(
        f"/call/spring/targets/{target.pk}/outcome",
        {"outcome": "callback", "callback_local": "2026-11-26T15:00"},
        **HX,
    )
    target.refresh_from_db()
    assert target.status == TargetStatus.CALLBACK
    assert target.next_call_at.isoformat() == "2026-11-26T07:00:00+00:00"
    assert target.callback_caller == caller


def test_a_callback_without_a_time_re_renders(signed_in, caller, target):
    client = signed_in(caller)
    _next(client)
    response = client.post(
        f"/call/spring/targets/{target.pk}/outcome",
        {"outcome": "callback", "callback_local": ""},
        **HX,
    )
    assert response.status_code == 400
    assert "Give the time of the callback" in response.content.decode()


def test_nobody_to_call_says_so_and_shows_the_next_hours(signed_in, caller, campaign):
    body = _next(signed_in(caller)).content.decode()
    assert "Nobody in this campaign may be called right now" in body


def test_another_callers_contact_is_404(signed_in, caller, other_campaign_caller, target, campaign):
    from phonebank.accounts.services import membership_add

    signed_in(caller)
    _next(signed_in(caller))
    membership_add(user=other_campaign_caller, campaign=campaign, actor=None)
    intruder = signed_in(other_campaign_caller)
    for action in ("outcome", "release", "renew"):
        response = intruder.post(f"/call/spring/targets/{target.pk}/{action}", {"outcome": "busy"})
        assert response.status_code == 404, action


def test_a_caller_of_another_campaign_cannot_open_this_workspace(
    signed_in, other_campaign_caller, target
):
    client = signed_in(other_campaign_caller)
    assert client.get("/call/spring/").status_code == 404
    assert client.post("/call/spring/next").status_code == 404


def test_release_and_renew(signed_in, caller, target):
    client = signed_in(caller)
    _next(client)
    assert client.post(f"/call/spring/targets/{target.pk}/renew", **HX).status_code == 200
    body = client.post(f"/call/spring/targets/{target.pk}/release", **HX).content.decode()
    assert "back in the queue" in body
    target.refresh_from_db()
    assert target.lease_holder is None


def test_when_can_i_call_shows_windows_in_the_callers_time_zone(signed_in, caller, campaign):
    client = signed_in(caller)
    client.post("/call/when/", {"timezone": "America/New_York"})
    caller.refresh_from_db()
    assert caller.timezone == "America/New_York"
    body = client.get("/call/when/").content.decode()
    # 09:00-12:00 in Shanghai is 20:00-23:00 the day before in New York (EST, UTC-5).
    assert "20:00" in body and "23:00" in body


def test_an_unknown_time_zone_re_renders_the_form(signed_in, caller):
    response = signed_in(caller).post("/call/when/", {"timezone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode() or "error" in response.content.decode()
