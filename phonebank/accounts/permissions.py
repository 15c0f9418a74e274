"""Who may see what. Views fetch objects only through these helpers."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404

from phonebank.accounts.models import Role


def staff_required(view):
    """Coordinators and admins only; callers get 403 (they may not even list campaigns)."""

    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if request.user.role not in (Role.ADMIN, Role.COORDINATOR):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def admin_required(view):
    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if request.user.role != Role.ADMIN:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def campaign_for_staff(user, slug: str):
    """The campaign, if this coordinator (a member) or admin may manage it; 404 otherwise."""
    from phonebank.campaigns.models import Campaign

    if user.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Http404
    return get_object_or_404(Campaign.objects.visible_to(user), slug=slug)


def import_for_staff(user, pk: int):
    """An import job this user may see: its campaign's staff, or any staff for DNC imports."""
    from phonebank.contacts.models import ImportJob

    if user.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Http404
    job = get_object_or_404(ImportJob.objects.select_related("campaign"), pk=pk)
    if job.campaign is not None:
        campaign_for_staff(user, job.campaign.slug)
    return job


def _member_check(user) -> tuple[str, list]:
    """SQL condition (on a campaign id in ``{campaign}``) and parameters for "this user may
    work in the campaign": the same rule as ``Campaign.objects.visible_to``."""
    from phonebank.accounts.models import Membership
    from phonebank.lib import rawsql

    if user.is_admin:
        return "1 = 1", []
    return (
        f"EXISTS (SELECT 1 FROM {rawsql.table(Membership)} m "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        "WHERE m.campaign_id = {campaign} AND m.user_id = %s)",
        [user.pk],
    )


@functools.lru_cache(maxsize=8)
def _campaign_for_member_sql(vendor: str, admin: bool):
    from phonebank.accounts.models import Membership
    from phonebank.campaigns.models import Campaign
    from phonebank.lib import rawsql

    columns, member = rawsql.columns(Campaign, "c"), rawsql.columns(Membership, "m")
    sql = (
        f"SELECT {columns.sql}, {member.sql} FROM {rawsql.table(Campaign)} c "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"LEFT OUTER JOIN {rawsql.table(Membership)} m "
        "ON m.campaign_id = c.id AND m.user_id = %s WHERE c.slug = %s"
        + ("" if admin else " AND m.id IS NOT NULL")
    )
    return sql, columns, member


def campaign_for_member(user, slug: str):
    """The campaign, if this user may see it (``Campaign.objects.visible_to``); 404 otherwise.

    With the user's membership there as ``campaign.membership`` (None for an admin who is
    not a member), read in the same statement: its status and trust are what the claim
    checks, so the claim needs no query of its own for them. One hand-written statement: it
    runs on every claim (lib/rawsql.py says why)."""
    if not user.is_authenticated:
        raise Http404
    sql, columns, member = _campaign_for_member_sql(connection.vendor, user.is_admin)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, slug])
        row = cursor.fetchone()
    if row is None:
        raise Http404
    campaign = columns.load(row)
    membership = None
    if row[columns.width] is not None:  # the membership's id: there is one
        membership = member.load(row, columns.width)
        membership.user, membership.campaign = user, campaign
    campaign.membership = membership
    return campaign


def target_for_member(user, pk: int):
    """A queue target in one of this user's campaigns; 404 otherwise (its existence is not
    told). One hand-written statement (an outcome reads its target with the rest of its
    facts instead: ``calling.services.outcome_facts_for_member``, the same rule). Its
    contact and campaign load when first used."""
    from phonebank.calling.models import Target
    from phonebank.lib import rawsql

    if not user.is_authenticated:
        raise Http404
    check, params = _member_check(user)
    columns = rawsql.columns(Target, "t")
    sql = (
        f"SELECT {columns.sql} FROM {rawsql.table(Target)} t "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"WHERE t.id = %s AND {check.format(campaign='t.campaign_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk, *params])
        row = cursor.fetchone()
    if row is None:
        raise Http404
    return columns.load(row)
