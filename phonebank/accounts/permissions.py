"""Who may see what. Views fetch objects only through these helpers."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
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
