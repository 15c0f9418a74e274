"""Schemathesis against the JSON API, in-process: no generated request gets a 5xx.

The OpenAPI document is the one the app serves (/api/openapi.json, django-ninja); every
operation in it is driven with schema-valid (positive) and schema-breaking (negative) requests,
signed with a real API token of a coordinator and of a caller of a campaign with a few contacts.
Half of the requests aim at things that exist (the campaign's slug, its targets, its caller,
an invitation, a valid outcome code, a held lease), so the checks reach past the 404s.

Checked on every answer: not a server error; the body matches the schema of its documented
status; the content type is the documented one; and any 4xx, documented or not (401, 422),
is a JSON object with a "detail" message.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import schemathesis
import time_machine
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from phonebank.accounts.models import Role
from phonebank.accounts.services import invitation_create, token_create, user_create
from phonebank.calling.models import Outcome, Target
from phonebank.campaigns.models import PlaybookEntry
from phonebank.contacts.models import Contact
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow

CALLING_HOURS = "2026-11-25T02:00:00Z"  # 10:00 in Shanghai on a Wednesday
EXAMPLES = 100  # per operation, user and mode: 10 operations × 2 users × 2 modes
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


class _App:
    """Django's WSGI handler as Django's own test client runs it: without closing the
    database connection at the end of each request (it holds the test's transaction)."""

    def __init__(self):
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = b"".join(response)
            response.close()
            return [body]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, campaign, coordinator, caller, settings):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0  # time stands still: a limit would end the fuzz
    settings.PHONEBANK_CLAIM_DAILY_CAP = 0
    cache.clear()
    targets = []
    for n in range(4):
        e164 = f"+86139{n:08d}"
        contact = Contact.objects.create(
            blind_index=keyring().blind_index(e164),
            phone=e164,
            name=f"名{n}",
            province="SH",
            timezone="Asia/Shanghai",
        )
        targets.append(Target.objects.create(campaign=campaign, contact=contact))
    second = user_create(username="cleo", password=PASSWORD, role=Role.CALLER, campaign=campaign)
    invitation, _raw = invitation_create(campaign=campaign, actor=coordinator)
    objection = PlaybookEntry.objects.filter(campaign=campaign).first()
    return {
        "targets": [t.pk for t in targets],
        "callers": [caller.pk, second.pk],
        "invitations": [invitation.pk],
        "objections": [objection.pk] if objection else [],
        "users": {"coordinator": coordinator, "caller": caller},
    }


def _aim(case, data, world, user):
    """Half the time, point the request at things that exist."""
    if not data.draw(st.booleans(), label="aim"):
        return
    params = case.path_parameters or {}
    choices = {
        "slug": st.sampled_from(["spring", "autumn"]),
        "pk": st.sampled_from(world["targets"]),
        "caller_id": st.sampled_from(world["callers"]),
        "invitation_id": st.sampled_from(world["invitations"]),
        "action": st.sampled_from(["approve", "suspend", "trust", "untrust", "fire"]),
    }
    for name in list(params):
        if name in choices:
            params[name] = data.draw(choices[name], label=name)
    if case.operation.path == "/api/targets/{pk}/outcome" and isinstance(case.body, dict):
        case.body["outcome"] = data.draw(st.sampled_from(Outcome.values), label="outcome")
        if data.draw(st.booleans(), label="objections") and world["objections"]:
            case.body["objections"] = world["objections"]
        # Hold the lease, so the outcome is worked out rather than refused with a 409.
        target = Target.objects.get(pk=params["pk"])
        if user.role == Role.CALLER and target.lease_holder_id in (None, user.pk):
            Target.objects.filter(pk=target.pk).update(
                lease_holder=user,
                lease_expires_at=target.created_at + timedelta(days=3650),
                status="open",
            )


def _check_error_body(response):
    status = response.status_code
    if 400 <= status < 500:
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
            status,
            response.headers,
        )
        body = json.loads(response.content)
        assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
        assert body["detail"], body


def _fuzz(operation, mode, world, user, auth, seen):
    @settings(
        max_examples=EXAMPLES,
        deadline=timedelta(seconds=5),
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        _aim(case, data, world, user)
        response = case.call(headers=auth)
        seen.setdefault(operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=auth)
        _check_error_body(response)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["coordinator", "caller"])
def test_no_generated_request_gets_a_server_error(world, who, mode):
    app = _App()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    user = world["users"][who]
    _token, raw = token_create(user=user, actor=None)
    auth = {"Authorization": f"Bearer {raw}"}
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    seen: dict[str, set[int]] = {}

    for operation in operations:
        with time_machine.travel(CALLING_HOURS, tick=False):
            _fuzz(operation, mode, world, user, auth, seen)
    print(who, mode, seen)
    # The fuzz reached past authentication on every operation.
    assert all(statuses - {401} for statuses in seen.values()), seen
    assert len(seen) == len(operations)
