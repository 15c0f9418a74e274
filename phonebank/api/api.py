"""The JSON API (SPEC section 3): token authentication, OpenAPI at /api/openapi.json.

Every error is a 4xx with a JSON body `{"detail": "..."}`; nothing here answers 500 for bad
input.
"""

from __future__ import annotations

from django.http import Http404
from ninja import NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

from phonebank.accounts.models import Role
from phonebank.api.auth import TokenAuth
from phonebank.api.schemas import ContactPage, Error
from phonebank.campaigns.models import Campaign
from phonebank.contacts import selectors
from phonebank.lib import phones

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
