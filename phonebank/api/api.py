"""The JSON API (SPEC section 3): token authentication, OpenAPI at /api/openapi.json.

Every error is a 4xx with a JSON body `{"detail": "..."}`; nothing here answers 500 for bad
input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.http import Http404
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

from phonebank.accounts.models import Role
from phonebank.api.auth import TokenAuth
from phonebank.api.schemas import (
    ClaimOut,
    ContactPage,
    Error,
    Ok,
    OutcomeIn,
    OutcomeOut,
    StatsOut,
)
from phonebank.calling import selectors as calling_selectors
from phonebank.calling import services as calling
from phonebank.calling.models import Outcome, Target
from phonebank.campaigns.models import Campaign
from phonebank.contacts import selectors
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
        raise HttpError(403, "Only coordinators and admins may list contacts.")
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
            }
            for t in rows
        ],
    }


# -- calling -----------------------------------------------------------------------------------


def _member_campaign(user, slug: str) -> Campaign:
    campaign = Campaign.objects.visible_to(user).filter(slug=slug).first()
    if campaign is None:
        raise Http404
    return campaign


def _target_of(user, pk: int) -> Target:
    """A target in one of the user's campaigns; 404 otherwise (its existence is not told).

    Its contact and campaign load when first used: outcome_record reads the row afresh.
    """
    target = Target.objects.filter(pk=pk, campaign__in=Campaign.objects.visible_to(user)).first()
    if target is None:
        raise Http404
    return target


@api.exception_handler(calling.LeaseLost)
def lease_lost(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(calling.RateLimited)
def rate_limited(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=429)


@api.exception_handler(DomainError)
def refused(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.post(
    "/campaigns/{slug}/claim",
    response={200: ClaimOut, 204: None, 404: Error, 409: Error, 429: Error},
    summary="Lease the next contact that may be called now (204: nobody now)",
)
def claim(request, slug: str):
    campaign = _member_campaign(request.user, slug)
    result = calling.target_claim(campaign=campaign, caller=request.user)
    if result is None:
        return Status(204, None)
    target = result.target
    zone = target.contact.timezone or campaign.default_timezone
    return {
        "target": target.pk,
        "lease_expires_at": target.lease_expires_at.isoformat(),
        "contact": {
            "name": target.contact.name,
            "phone": target.contact.phone,
            "province": target.contact.province,
            "timezone": zone,
            "local_time": timezone.now().astimezone(ZoneInfo(zone)).isoformat(timespec="minutes"),
        },
    }


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
def outcome(request, pk: int, body: OutcomeIn):
    target = _target_of(request.user, pk)
    callback_at = None
    if body.callback_at:
        zone = target.contact.timezone or target.campaign.default_timezone
        callback_at = _parse_callback(body.callback_at, zone)
    attempt, receipt = calling.outcome_record(
        target=target,
        caller=request.user,
        outcome=body.outcome,
        notes=body.notes,
        callback_at=callback_at,
        objections=body.objections,
        declaration=body.declaration.model_dump() if body.declaration else None,
    )
    saved = attempt.target  # the row as outcome_record saved it (times shown in UTC, as stored)
    return {
        "attempt": attempt.pk,
        "outcome": attempt.outcome,
        "status": saved.status,
        "next_call_at": saved.next_call_at.astimezone(UTC).isoformat()
        if saved.next_call_at
        else None,
        "receipt": receipt,
    }


@api.post(
    "/targets/{pk}/release",
    response={200: Ok, 404: Error, 409: Error},
    summary="Give a contact back to the queue without recording a call",
)
def release(request, pk: int):
    target = _target_of(request.user, pk)
    calling.target_release(target=target, caller=request.user)
    return {"ok": True}


@api.get(
    "/campaigns/{slug}/stats",
    response={200: StatsOut, 404: Error},
    summary="Calls by outcome: the whole campaign for its staff, your own for callers",
)
def stats(request, slug: str):
    campaign = _member_campaign(request.user, slug)
    staff = request.user.role in (Role.ADMIN, Role.COORDINATOR)
    counts = calling_selectors.campaign_outcome_counts(
        campaign, caller=None if staff else request.user
    )
    return {
        "campaign": campaign.slug,
        "scope": "campaign" if staff else "caller",
        "outcomes": {code: counts.get(code, 0) for code in Outcome.values},
        "calls": sum(counts.values()),
    }
