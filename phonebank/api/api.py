"""The JSON API (SPEC section 3): token authentication, OpenAPI at /api/openapi.json.

Every error is a 4xx with a JSON body `{"detail": "..."}`; nothing here answers 500 for bad
input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

from phonebank.accounts import services as accounts
from phonebank.accounts.models import Membership, Role
from phonebank.accounts.permissions import campaign_for_member, target_for_member
from phonebank.api.auth import TokenAuth
from phonebank.api.schemas import (
    CallerOut,
    ClaimOut,
    ContactPage,
    Error,
    InvitationIn,
    InvitationOut,
    Ok,
    OutcomeIn,
    OutcomeOut,
    RowId,
    StatsOut,
)
from phonebank.api.throttle import stats_allowed
from phonebank.calling import services as calling
from phonebank.calling.models import Target
from phonebank.campaigns.models import Campaign
from phonebank.contacts import selectors
from phonebank.dashboards import selectors as dashboard_selectors
from phonebank.lib import phones
from phonebank.lib.errors import DomainError

api = NinjaAPI(
    title="phonebank API",
    version="1",
    auth=TokenAuth(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,
)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def unauthorised(request, exc):
    return api.create_response(request, {"detail": "A valid API token is required."}, status=401)


@api.exception_handler(ValidationError)
def invalid(request, exc):
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
    return api.create_response(
        request,
        {"detail": f"{where}: {first.get('msg', 'invalid')}", "errors": exc.errors},
        status=422,
    )


def _campaign_for_staff(user, slug: str) -> Campaign:
    if user.role not in (Role.ADMIN, Role.COORDINATOR):
        raise HttpError(403, "Only coordinators and admins may do this.")
    campaign = Campaign.objects.visible_to(user).filter(slug=slug).first()
    if campaign is None:
        raise Http404
    return campaign


class ContactFilters(Schema):
    province: str = Field("", max_length=2)
    status: str = Field("", max_length=16)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


@api.get(
    "/campaigns/{slug}/contacts",
    response={200: ContactPage, 403: Error, 404: Error},
    summary="A campaign's contacts, numbers masked (coordinators and admins)",
)
def campaign_contacts(request, slug: str, filters: Query[ContactFilters]):
    campaign = _campaign_for_staff(request.user, slug)
    qs = selectors.target_list(campaign, province=filters.province, status=filters.status)
    rows = list(qs[filters.offset : filters.offset + filters.limit])
    return {
        "count": qs.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "contacts": [
            {
                "target": t.pk,
                "phone": phones.mask(t.contact.phone),
                "country": t.contact.country,
                "province": t.contact.province,
                "city": t.contact.city_en,
                "timezone": t.contact.timezone,
                "status": t.status,
                "attempts": t.attempts,
                "for_trusted": t.for_trusted,
            }
            for t in rows
        ],
    }


# -- calling -----------------------------------------------------------------------------------


def _member_campaign(user, slug: str) -> Campaign:
    """The campaign, with the user's membership there as ``.membership`` (one statement)."""
    return campaign_for_member(user, slug)


def _target_of(user, pk: int) -> Target:
    """A target in one of the user's campaigns; 404 otherwise (its existence is not told).

    Its contact and campaign load when first used: outcome_record reads the row afresh.
    """
    return target_for_member(user, pk)


@api.exception_handler(calling.LeaseLost)
def lease_lost(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(calling.NotApproved)
def not_approved(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=403)


@api.exception_handler(calling.RateLimited)
def rate_limited(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=429)


@api.exception_handler(DomainError)
def refused(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=400)


def _hot_answer(request, data: dict):
    """A 200 answer of plain values, rendered as django-ninja renders any answer but without
    validating it again against its response schema (ClaimOut, OutcomeOut): claims and
    outcomes are the hot path. tests/test_api_calling.py checks their answers against the
    schemas instead."""
    return api.create_response(request, data, status=200)


@api.post(
    "/campaigns/{slug}/claim",
    response={200: ClaimOut, 204: None, 403: Error, 404: Error, 409: Error, 429: Error},
    summary="Lease the next contact that may be called now (204: nobody now)",
)
def claim(request, slug: str):
    campaign = _member_campaign(request.user, slug)
    result = calling.target_claim(
        campaign=campaign, caller=request.user, membership=campaign.membership
    )
    if result is None:
        return Status(204, None)
    target = result.target
    zone = target.contact.timezone or campaign.default_timezone
    return _hot_answer(
        request,
        {
            "target": target.pk,
            "lease_expires_at": target.lease_expires_at.isoformat(),
            "contact": {
                "name": target.contact.name,
                "phone": target.contact.phone,
                "province": target.contact.province,
                "timezone": zone,
                "local_time": timezone.now()
                .astimezone(ZoneInfo(zone))
                .isoformat(timespec="minutes"),
            },
        },
    )


def _parse_callback(text: str | None, zone: str):
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HttpError(400, "callback_at must be an ISO 8601 date and time.") from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


@api.post(
    "/targets/{pk}/outcome",
    response={200: OutcomeOut, 400: Error, 404: Error, 409: Error},
    summary="Record the outcome of a call on a contact you hold",
)
def outcome(request, pk: RowId, body: OutcomeIn):
    # The target, checked to be in one of the user's campaigns as _target_of does, read with
    # the rest of what the outcome is worked out from: one statement on the hot path.
    facts = calling.outcome_facts_for_member(request.user, pk, body.outcome)
    if facts is None:
        raise Http404
    callback_at = _parse_callback(body.callback_at, facts.zone)
    attempt, receipt = calling.outcome_record(
        target=facts.target,
        caller=request.user,
        outcome=body.outcome,
        notes=body.notes,
        callback_at=callback_at,
        objections=body.objections,
        declaration=body.declaration.model_dump() if body.declaration else None,
        facts=facts,
    )
    saved = attempt.target  # the row as outcome_record saved it (times shown in UTC, as stored)
    return _hot_answer(
        request,
        {
            "attempt": attempt.pk,
            "outcome": str(attempt.outcome),
            "status": str(saved.status),
            "next_call_at": saved.next_call_at.astimezone(UTC).isoformat()
            if saved.next_call_at
            else None,
            "receipt": receipt,
        },
    )


@api.post(
    "/targets/{pk}/release",
    response={200: Ok, 404: Error, 409: Error},
    summary="Give a contact back to the queue without recording a call",
)
def release(request, pk: RowId):
    target = _target_of(request.user, pk)
    calling.target_release(target=target, caller=request.user)
    return {"ok": True}


@api.get(
    "/campaigns/{slug}/stats",
    response={200: StatsOut, 404: Error, 429: Error},
    summary="Calls by outcome, funnel and today's figures: the whole campaign for its staff, "
    "your own for callers (rate-limited per user)",
)
def stats(request, slug: str):
    if not stats_allowed(request.user):
        raise HttpError(429, "Too many stats requests; try again in a minute.")
    campaign = _member_campaign(request.user, slug)
    staff = request.user.role in (Role.ADMIN, Role.COORDINATOR)
    return dashboard_selectors.campaign_stats(campaign, None if staff else request.user)


# -- people: a campaign's callers and invitations (coordinators and admins) --------------------


def _caller_in(campaign: Campaign, pk: int):
    membership = (
        Membership.objects.select_related("user")
        .filter(campaign=campaign, user_id=pk, user__role=Role.CALLER)
        .first()
    )
    if membership is None:
        raise Http404
    return membership


def _caller_out(membership) -> dict:
    """A caller as this campaign's coordinators see them: this campaign's vetting only."""
    user = membership.user
    return {
        "id": user.pk,
        "username": user.username,
        "status": membership.status,
        "trusted": membership.trusted,
        "account_suspended": user.suspended,
        "member_since": membership.created_at.isoformat(),
    }


@api.get(
    "/campaigns/{slug}/callers",
    response={200: list[CallerOut], 403: Error, 404: Error},
    summary="A campaign's callers and their vetting status",
)
def campaign_callers(request, slug: str):
    campaign = _campaign_for_staff(request.user, slug)
    rows = Membership.objects.select_related("user").filter(
        campaign=campaign, user__role=Role.CALLER
    )
    return [_caller_out(m) for m in rows.order_by("user__username")]


@api.post(
    "/campaigns/{slug}/callers/{caller_id}/{action}",
    response={200: CallerOut, 403: Error, 404: Error},
    summary="Vet a caller in this campaign only: action is approve, suspend, trust or untrust "
    "(audited)",
)
def caller_vet(request, slug: str, caller_id: int, action: str):
    campaign = _campaign_for_staff(request.user, slug)
    membership = _caller_in(campaign, caller_id)
    actor = request.user
    actions = {
        "approve": lambda m: accounts.caller_approve(membership=m, actor=actor),
        "suspend": lambda m: accounts.caller_suspend(membership=m, actor=actor),
        "trust": lambda m: accounts.caller_trust_set(membership=m, trusted=True, actor=actor),
        "untrust": lambda m: accounts.caller_trust_set(membership=m, trusted=False, actor=actor),
    }
    if action not in actions:
        raise Http404
    return _caller_out(actions[action](membership))


def _invitation_out(invitation, url: str | None = None) -> dict:
    return {
        "id": invitation.pk,
        "note": invitation.note,
        "state": invitation.state(timezone.now()),
        "expires_at": invitation.expires_at.isoformat(),
        "uses": invitation.uses,
        "max_uses": invitation.max_uses,
        "url": url,
    }


@api.get(
    "/campaigns/{slug}/invitations",
    response={200: list[InvitationOut], 403: Error, 404: Error},
    summary="A campaign's invitation links (their secret part is never shown again)",
)
def invitations_list(request, slug: str):
    campaign = _campaign_for_staff(request.user, slug)
    return [_invitation_out(i) for i in campaign.invitations.order_by("-created_at")[:200]]


@api.post(
    "/campaigns/{slug}/invitations",
    response={201: InvitationOut, 400: Error, 403: Error, 404: Error},
    summary="Create an invitation link (its URL is in this answer only)",
)
def invitation_create(request, slug: str, body: InvitationIn):
    campaign = _campaign_for_staff(request.user, slug)
    invitation, raw = accounts.invitation_create(
        campaign=campaign,
        actor=request.user,
        note=body.note,
        days=body.days,
        max_uses=body.max_uses,
    )
    url = request.build_absolute_uri(reverse("join", args=[raw]))
    return Status(201, _invitation_out(invitation, url))


@api.post(
    "/campaigns/{slug}/invitations/{invitation_id}/revoke",
    response={200: InvitationOut, 403: Error, 404: Error},
    summary="Revoke an invitation link at once",
)
def invitation_revoke(request, slug: str, invitation_id: int):
    campaign = _campaign_for_staff(request.user, slug)
    invitation = campaign.invitations.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404
    return _invitation_out(accounts.invitation_revoke(invitation=invitation, actor=request.user))
