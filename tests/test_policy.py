"""The site's policy table (accounts.policy): complete, and enforced on every URL pattern
for every kind of person: a role × URL matrix walking the whole resolver."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from phonebank.accounts import policy
from phonebank.accounts.services import invitation_create, token_create
from phonebank.calling.models import Target
from phonebank.contacts.models import Contact, DoNotCall, ImportJob
from phonebank.lib.fields import keyring


def _patterns(patterns=None, prefix="", namespaces=()):
    """(route, view name as ResolverMatch builds it, pattern) for every URL pattern."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            ns = (*namespaces, p.namespace) if p.namespace else namespaces
            yield from _patterns(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            func = p.lookup_str
            yield prefix + str(p.pattern), ":".join([*namespaces, p.name or func]), p


def test_every_url_pattern_has_a_rule():
    missing = [name for _route, name, _p in _patterns() if policy.rule_for(name) is None]
    assert missing == []


def test_a_view_without_a_rule_is_refused_to_everyone():
    assert policy.rule_for("nowhere:view") is None
    assert (
        policy.allows(None, type("U", (), {"is_authenticated": True, "role": "admin"})()) is False
    )


@pytest.fixture
def world(campaign, coordinator, caller, admin, other_campaign_coordinator):
    e164 = "+8613900000001"
    contact = Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name="n",
        country="CN",
        timezone="Asia/Shanghai",
    )
    target = Target.objects.create(campaign=campaign, contact=contact)
    job = ImportJob.objects.create(
        campaign=campaign, created_by=coordinator, filename="x.csv", sha256="0" * 64
    )
    dnc = DoNotCall.objects.create(
        blind_index=keyring().blind_index("+8613900000002"), reason="test"
    )
    _inv, raw = invitation_create(campaign=campaign, actor=coordinator)
    return {
        "slug": campaign.slug,
        "pk": target.pk,
        "job": job.pk,
        "dnc": dnc.pk,
        "token": raw,
        "people": {
            "anonymous": None,
            "caller": caller,
            "coordinator": coordinator,
            "other_coordinator": other_campaign_coordinator,
            "admin": admin,
        },
    }


def _path(route: str, world) -> str | None:
    """A concrete path for a route, or None for the Django admin's internals."""
    if route.startswith("admin/") and route != "admin/":
        return None
    values = {
        "<slug:slug>": world["slug"],
        "<slug>": world["slug"],
        "<int:pk>": str(world["pk"]),
        "<pk>": str(world["pk"]),
        "<str:token>": world["token"],
        "<path:path>": "0/000.p/1",
        "<slug:name>": "days",
        "<caller_id>": "1",
        "<action>": "approve",
        "<invitation_id>": "1",
    }
    path = route
    for key, value in values.items():
        path = path.replace(key, value)
    if "imports/" in route and "<int:pk>" in route:
        path = route.replace("<int:pk>", str(world["job"]))
    if "do-not-call/<int:pk>" in route:
        path = route.replace("<int:pk>", str(world["dnc"]))
    path = path.replace("^", "").replace("$", "")
    return "/" + path


def test_the_role_by_url_matrix(client, world):
    """Every pattern, every person: never a 500; anonymous people are sent to sign in (the
    API answers 401); a signed-in person without the role gets 403; with the role, the view
    answers for itself (per-record checks may still say 404)."""
    checked = 0
    tokens = {}
    for who, user in world["people"].items():
        if user is not None:
            tokens[who] = token_create(user=user, actor=None)[1]
    for route, name, _pattern in _patterns():
        path = _path(route, world)
        if path is None:
            continue
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
            elif verdict is False:
                assert status == 403, where
            else:
                assert status != 403 or name.startswith("accounts:2fa"), where
            checked += 1
    assert checked > 200


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
