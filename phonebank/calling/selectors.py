"""Reads for calling: the queue's candidate query, the workspace, a caller's totals."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Q, QuerySet

from phonebank.accounts.models import CallerStatus, Membership, Role, caller_standing
from phonebank.calling.models import CallAttempt, CampaignZone, Target, TargetStatus
from phonebank.contacts.models import Contact, DoNotCall
from phonebank.lib import hours, rawsql

ZONES_TTL = 10  # seconds: an import's new zones are claimable this soon in every process


def campaign_zones(campaign) -> list[str]:
    """The time zones of a campaign's contacts (CampaignZone; cached briefly per process).

    A campaign none were noted for (targets written by the ORM, as tests do) has them read
    from its queue instead: exact, but a scan of every open target."""
    key = f"phonebank:zones:{campaign.pk}"
    zones = cache.get(key)
    if zones is None:
        zones = sorted(
            CampaignZone.objects.filter(campaign=campaign).values_list("timezone", flat=True)
        )
        if not zones:
            zones = sorted(
                set(
                    Target.objects.filter(
                        campaign=campaign, status__in=[TargetStatus.OPEN, TargetStatus.CALLBACK]
                    )
                    .values_list("contact__timezone", flat=True)
                    .distinct()
                )
            )
        cache.set(key, zones, ZONES_TTL)
    return zones


def open_zones(campaign, now: datetime) -> list[str]:
    """Time zones (as stored on contacts) where it is calling time now."""
    week = campaign.schedule
    return [
        z
        for z in campaign_zones(campaign)
        if hours.state(week, z or campaign.default_timezone, now)[0]
    ]


@functools.lru_cache(maxsize=8)
def _target_with_contact_sql(vendor: str):
    target, contact = rawsql.columns(Target, "t"), rawsql.columns(Contact, "k")
    sql = (
        f"SELECT {target.sql}, {contact.sql} FROM {rawsql.table(Target)} t "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"INNER JOIN {rawsql.table(Contact)} k ON k.id = t.contact_id WHERE t.id = %s"
    )
    return sql, target, contact


def target_with_contact(pk: int) -> Target:
    """A target with its contact loaded, as ``select_related("contact")`` gives it, in one
    hand-written statement (it follows every claim; lib/rawsql.py says why)."""
    sql, target, contact = _target_with_contact_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        raise Target.DoesNotExist(f"no target {pk}")
    found = target.load(row)
    found.contact = contact.load(row, target.width)
    return found


def held_target(campaign, caller, now: datetime) -> Target | None:
    """The contact this caller holds in this campaign under a live lease, if any."""
    return (
        Target.objects.select_related("contact")
        .filter(campaign=campaign, lease_holder=caller, lease_expires_at__gt=now)
        .first()
    )


def candidates(campaign, caller, now: datetime, membership=None) -> list[QuerySet[Target]]:
    """Who may be called now, in the order to hand them out (first non-empty query wins):

    1. callbacks due for this caller;
    2. callbacks due for anyone else and past the grace period, or due and no longer
       anyone's (their caller was suspended or removed) (trusted callers and staff);
    3. contacts to call whose retry time has come (or that were never called); those
       reserved for trusted callers only for trusted callers and staff.

    Every query leaves out contacts on the do-not-call list, outside their calling hours,
    or leased to someone else; all are empty for a caller not approved in this campaign.
    Approval and trust are the caller's ``membership`` in this campaign (read when not
    given); another campaign's count for nothing.
    """
    if membership is None and caller.role == Role.CALLER:
        membership = Membership.objects.filter(campaign=campaign, user=caller).first()
    status = membership.status if membership is not None else None
    approved = caller_standing(caller, status) == CallerStatus.APPROVED
    zones = open_zones(campaign, now)
    grace = now - timedelta(minutes=campaign.callback_grace_minutes)
    free = Q(lease_holder__isnull=True) | Q(lease_expires_at__lte=now)
    base = (
        Target.objects.filter(campaign=campaign, contact__timezone__in=zones)
        .filter(free)
        .exclude(contact__blind_index__in=DoNotCall.objects.values("blind_index"))
    )
    if not approved:
        base = base.none()
    callbacks = base.filter(status=TargetStatus.CALLBACK).order_by("next_call_at", "id")
    trusted = caller.role != Role.CALLER or (membership is not None and membership.trusted)
    others = callbacks.filter(
        Q(next_call_at__lte=grace) | Q(callback_caller__isnull=True, next_call_at__lte=now)
    )
    open_ = base if trusted else base.filter(for_trusted=False)
    return [
        callbacks.filter(callback_caller=caller, next_call_at__lte=now),
        others if trusted else others.none(),
        open_.filter(status=TargetStatus.OPEN)
        .filter(Q(next_call_at__isnull=True) | Q(next_call_at__lte=now))
        .order_by(F("next_call_at").asc(nulls_first=True), "id"),
    ]


def caller_today(caller, zone: str, now: datetime) -> dict[str, int]:
    """A caller's own outcomes since midnight in their time zone (not a leaderboard)."""
    tz = ZoneInfo(zone or "UTC")
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        CallAttempt.objects.filter(caller=caller, ended_at__gte=midnight)
        .values("outcome")
        .annotate(n=Count("id"))
    )
    totals = {r["outcome"]: r["n"] for r in rows}
    totals["calls"] = sum(totals.values())
    return totals


def campaign_outcome_counts(campaign, caller=None) -> dict[str, int]:
    """Calls by outcome in a campaign (only ``caller``'s when given)."""
    qs = CallAttempt.objects.filter(campaign=campaign)
    if caller is not None:
        qs = qs.filter(caller=caller)
    return {r["outcome"]: r["n"] for r in qs.values("outcome").annotate(n=Count("id"))}


def callable_week(campaign, zone: str, now: datetime) -> list[tuple[datetime, datetime]]:
    """This week's calling windows of a campaign's contacts, shown in the caller's zone.

    Windows of every time zone present are merged (most campaigns have one).
    """
    week = campaign.schedule
    tz = ZoneInfo(zone or "UTC")
    spans: list[tuple[datetime, datetime]] = []
    for contact_zone in campaign_zones(campaign) or [campaign.default_timezone]:
        for start, end in hours.windows(
            week, contact_zone or campaign.default_timezone, now - timedelta(days=1), 9
        ):
            spans.append((start.astimezone(tz), end.astimezone(tz)))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    horizon = now + timedelta(days=7)
    return [(s, e) for s, e in merged if e > now and s < horizon]


def own_history(caller, *, zone: str = "UTC", limit: int = 100) -> list[dict]:
    """A caller's own calls, newest first: when, campaign, outcome, duration and their own
    notes. No contact's name or number: a history must not become a list of contacts."""
    tz = ZoneInfo(zone)
    rows = (
        CallAttempt.objects.filter(caller=caller)
        .select_related("campaign")
        .order_by("-ended_at")[:limit]
    )
    return [
        {
            "ended_at": a.ended_at.astimezone(tz),
            "campaign": a.campaign.name,
            "outcome": a.get_outcome_display(),
            "minutes": max(0, round((a.ended_at - a.started_at).total_seconds() / 60)),
            "notes": a.notes,
        }
        for a in rows
    ]
