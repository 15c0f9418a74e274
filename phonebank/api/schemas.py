from typing import Annotated

from ninja import Schema
from pydantic import Field

# A database row id: out of this range a lookup would overflow the database's integer
# (a 500 on SQLite) instead of finding nothing.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Error(Schema):
    detail: str


class ContactOut(Schema):
    target: int
    phone: str  # masked: +86 138****5678
    country: str
    province: str
    city: str
    timezone: str
    status: str
    attempts: int
    for_trusted: bool  # reserved for trusted callers


class ContactPage(Schema):
    count: int
    limit: int
    offset: int
    contacts: list[ContactOut]


class ClaimContact(Schema):
    name: str
    phone: str  # E.164: only the caller holding the lease gets it
    province: str
    timezone: str
    local_time: str


class ClaimOut(Schema):
    target: int
    lease_expires_at: str
    contact: ClaimContact


class DeclarationIn(Schema):
    alias: str
    organisations: list[str]
    consent: bool
    province: str = ""


class OutcomeIn(Schema):
    outcome: str
    notes: str = ""
    callback_at: str | None = None  # ISO 8601; without an offset, the contact's local time
    objections: list[RowId] = Field(default=[], max_length=50)  # playbook entries
    declaration: DeclarationIn | None = None


class OutcomeOut(Schema):
    attempt: int
    outcome: str
    status: str
    next_call_at: str | None
    receipt: str | None = None


class Ok(Schema):
    ok: bool


class FunnelOut(Schema):
    dialled: int  # every call
    reached: int  # answered: hung up, refused, do not call, callback, listened, declared
    listened: int  # heard the message out (listened, declared)
    declared: int


class StatsOut(Schema):
    campaign: str
    scope: str  # "campaign" or "caller"
    outcomes: dict[str, int]  # every outcome code, all time
    calls: int
    funnel: FunnelOut
    contact_rate: float | None  # reached / dialled; null before the first call
    day: str  # today in the campaign's time zone (ISO date), for the *_today figures
    calls_today: int
    declared_today: int
    today: FunnelOut


class CallerOut(Schema):
    id: int
    username: str
    status: str  # in this campaign: pending, approved, suspended
    trusted: bool  # in this campaign
    account_suspended: bool  # by an admin, in every campaign
    member_since: str


class InvitationIn(Schema):
    note: str = Field("", max_length=200)
    days: int = Field(7, ge=1, le=90)
    max_uses: int = Field(1, ge=1, le=100)


class InvitationOut(Schema):
    id: int
    note: str
    state: str  # usable, revoked, expired, used
    expires_at: str
    uses: int
    max_uses: int
    url: str | None = None  # only in the answer that creates it
