"""The site's policy table (accounts.policy): complete, and enforced on every URL pattern
for every kind of person: a role × URL matrix walking the whole resolver."""

from __future__ import annotations

import html
import re

import pytest

from phonebank.accounts import policy
from phonebank.accounts.services import token_create
from tests.urlwalk import admin_refuses, path_for, patterns, world_make


def test_every_url_pattern_has_a_rule():
    missing = [name for _route, name, _p in patterns() if policy.rule_for(name) is None]
    assert missing == []


def test_a_view_without_a_rule_is_refused_to_everyone():
    assert policy.rule_for("nowhere:view") is None
    assert (
        policy.allows(None, type("U", (), {"is_authenticated": True, "role": "admin"})()) is False
    )


@pytest.fixture
def world(campaign, coordinator, caller, admin, other_campaign_coordinator):
    return world_make(
        campaign=campaign,
        coordinator=coordinator,
        caller=caller,
        admin=admin,
        other_campaign_coordinator=other_campaign_coordinator,
    )


def test_the_role_by_url_matrix(client, world):
    """Every pattern, every person: never a 500; anonymous people are sent to sign in (the
    API answers 401); a signed-in person without the role gets 403; with the role, the view
    answers for itself (per-record checks may still say 404). The Django admin is walked
    too, every model page with a real object: only admins reach it, and a read-only model
    admin refuses adding and deleting even to them."""
    checked = admin_pages = 0
    tokens = {}
    for who, user in world["people"].items():
        if user is not None:
            tokens[who] = token_create(user=user, actor=None)[1]
    for route, name, _pattern in patterns():
        path = path_for(route, world)
        rule = policy.rule_for(name)
        for who, user in world["people"].items():
            client.logout()
            if user is not None:
                client.force_login(user)
            headers = {}
            if name.startswith("api:") and user is not None:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {tokens[who]}"
            response = client.get(path, **headers)
            status = response.status_code
            where = f"{who} GET {path} ({name}, {rule}) -> {status}"
            assert status < 500, where
            verdict = policy.allows(rule, user if user is not None else _Anonymous())
            if rule == policy.API:
                # Token authentication first (405 for a GET on a POST-only endpoint).
                if user is None and name not in ("api:openapi-json", "api:api-root"):
                    assert status in (401, 405), where
            elif verdict is None:
                assert status == 302 and "/accounts/login/" in response["Location"], where
            elif verdict is False or (name.startswith("admin:") and admin_refuses(name, user)):
                assert status == 403, where
            else:
                assert status != 403 or name.startswith("accounts:2fa"), where
            checked += 1
            admin_pages += name.startswith("admin:")
    assert checked > 200
    assert admin_pages > 50 * len(world["people"])


class _Anonymous:
    is_authenticated = False
    role = ""


@pytest.mark.parametrize(
    "path",
    [
        "/campaigns/spring/people/",
        "/campaigns/spring/contacts/",
        "/do-not-call/",
        "/campaigns/new/",
    ],
)
def test_callers_get_403_on_staff_pages(signed_in, caller, path):
    assert signed_in(caller).get(path).status_code == 403


def test_a_disabled_users_sessions_end(client, caller, campaign):
    client.force_login(caller)
    assert client.get("/call/").status_code == 302  # to the workspace
    caller.is_active = False
    caller.save(update_fields=["is_active"])
    response = client.get("/call/spring/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_idle_session_ends_after_30_minutes(client, caller, campaign):
    import time_machine

    with time_machine.travel("2026-11-25T10:00:00Z", tick=False) as t:
        client.force_login(caller)
        assert client.get("/call/spring/").status_code == 200
        t.shift(25 * 60)
        assert client.get("/call/spring/").status_code == 200  # activity: the clock restarts
        t.shift(25 * 60)
        assert client.get("/call/spring/").status_code == 200
        t.shift(31 * 60)
        response = client.get("/call/spring/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert "_auth_user_id" not in client.session


def test_lease_renewal_is_not_activity_and_htmx_is_sent_to_sign_in(client, caller, campaign):
    import time_machine

    with time_machine.travel("2026-11-25T10:00:00Z", tick=False) as t:
        client.force_login(caller)
        assert client.get("/call/spring/").status_code == 200
        for _ in range(6):  # the page renews every 5 minutes by itself
            t.shift(5 * 60)
            client.post("/call/spring/targets/999999/renew", HTTP_HX_REQUEST="true")
        t.shift(2 * 60)
        response = client.get("/call/spring/", HTTP_HX_REQUEST="true")
        assert response.status_code == 401 and response["HX-Redirect"] == "/accounts/login/"


def test_a_session_ends_12_hours_after_sign_in_however_active(client, caller, campaign):
    import time_machine

    with time_machine.travel("2026-11-25T00:00:00Z", tick=False) as t:
        client.force_login(caller)
        for _ in range(12 * 3):
            t.shift(20 * 60)
            client.get("/call/spring/")
        t.shift(20 * 60)
        response = client.get("/call/spring/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


_DIGIT_RUN = re.compile(r"\+?\d(?:[\s\-().]{0,3}\d){6,}")


def _numbers_shown(text: str, numbers: dict[str, str]) -> set[str]:
    """Which of the numbers (E.164 → national significant number) the text shows in any
    usual form: +8613912345678, 8613912345678, 13912345678, +86 139 1234 5678,
    139-1234-5678, (139) 1234 5678 ..."""
    runs = {re.sub(r"\D", "", run) for run in _DIGIT_RUN.findall(text)}
    return {e164 for e164, nsn in numbers.items() if any(nsn in run for run in runs)}


def test_a_caller_sees_no_number_but_the_one_they_hold(
    client, world, caller, campaign, other_campaign
):
    """Scraping by a planted volunteer: walk everything a caller can reach (every URL pattern,
    the API with their token, and every link and image on the pages they get) after they
    have finished one call and hold another. Only the held contact's number shows."""
    import phonenumbers
    import time_machine
    from django.core.cache import cache

    from phonebank.calling.models import Target
    from phonebank.contacts.models import Contact, DoNotCall
    from phonebank.lib.fields import keyring

    numbers = {}

    def contact(e164, campaign=None):
        made = Contact.objects.create(
            blind_index=keyring().blind_index(e164),
            phone=e164,
            name="某人",
            country="CN",
            province="GD",
            timezone="Asia/Shanghai",
        )
        numbers[e164] = str(phonenumbers.parse(e164).national_number)
        if campaign is not None:
            Target.objects.create(campaign=campaign, contact=made)

    for n in range(4):
        contact(f"+861391234{n:04d}", campaign)
    contact("+8613800001111", other_campaign)
    contact("+8675588881234")  # in no campaign
    DoNotCall.objects.create(
        blind_index=keyring().blind_index("+8613700002222"), phone="+8613700002222"
    )
    numbers["+8613700002222"] = "13700002222"
    numbers["+8613900000001"] = "13900000001"  # the world's own contact, in this campaign
    token = token_create(user=caller, actor=None)[1]
    cache.clear()
    hx = {"HTTP_HX_REQUEST": "true"}
    with time_machine.travel("2026-11-25T02:00:00Z", tick=False):  # 10:00 in Shanghai
        client.force_login(caller)
        first = Target.objects.get(pk=_held_after(client.post("/call/spring/next", **hx)))
        done = client.post(
            f"/call/spring/targets/{first.pk}/outcome", {"outcome": "no_answer"}, **hx
        )
        assert done.status_code == 200
        held = Target.objects.get(pk=_held_after(client.post("/call/spring/next", **hx)))
        assert held.pk != first.pk
        held_number = held.contact.phone
        seen: dict[str, bytes] = {}
        queue = [path_for(route, world | {"pk": held.pk}) for route, _n, _p in patterns()]
        while queue and len(seen) < 400:
            path = queue.pop(0)
            if path in seen or path.startswith(("/accounts/logout", "/static/")):
                continue
            headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if path.startswith("/api/") else {}
            response = client.get(path, **headers)
            body = b"".join(response) if response.streaming else response.content
            seen[path] = body
            for link in re.findall(rb'(?:href|src|hx-get)="(/[^"#]*)', body):
                queue.append(html.unescape(link.decode()))
        pages = "\n".join(body.decode(errors="replace") for body in seen.values())
    assert len(seen) > 60
    assert _numbers_shown(pages, numbers) == {held_number}
    assert held_number in seen["/call/spring/"].decode()  # the control: the detector sees it


def _held_after(response) -> int:
    """The target a workspace fragment offers (its outcome form's URL)."""
    assert response.status_code == 200, response.status_code
    return int(re.search(rb"/targets/(\d+)/outcome", response.content).group(1))


def test_every_post_without_a_csrf_token_is_refused(world, admin):
    """CSRF: every URL pattern outside the token API refuses a cookie-authenticated POST
    without the token, for a signed-in admin (who may reach them all) and for anonymous."""
    from django.test import Client

    for user in (admin, None):
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        accepted = []
        for route, name, _p in patterns():
            if policy.rule_for(name) == policy.API:
                continue  # bearer tokens, no cookies: nothing to forge (test_api_hot_path)
            response = client.post(path_for(route, world), {"x": "1"})
            if response.status_code != 403 or b"CSRF" not in response.content:
                accepted.append((name, response.status_code))
        assert accepted == [], user
