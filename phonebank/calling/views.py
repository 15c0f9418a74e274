"""The caller workspace: one contact at a time, keyboard first (htmx fragments)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from phonebank.accounts.models import CallerStatus, caller_standing
from phonebank.accounts.permissions import campaign_for_member
from phonebank.calling import selectors, services
from phonebank.calling.forms import OutcomeForm, TimezoneForm
from phonebank.calling.models import CallAttempt, Outcome, Target
from phonebank.calling.practice import practice_target
from phonebank.campaigns.models import Campaign
from phonebank.lib import hours
from phonebank.lib.errors import DomainError

SHORTCUTS = {
    Outcome.NO_ANSWER: "1",
    Outcome.BUSY: "2",
    Outcome.HUNG_UP: "3",
    Outcome.REFUSED: "4",
    Outcome.LISTENED: "5",
    Outcome.WRONG_NUMBER: "6",
    Outcome.INVALID_NUMBER: "7",
    Outcome.DO_NOT_CALL: "8",
    Outcome.CALLBACK: "9",
    Outcome.DECLARED: "0",
}

# The outcomes recorded with one key press, in key order (callback and declaration open a form).
OUTCOME_BUTTONS = sorted(
    (
        (SHORTCUTS[code], code, label)
        for code, label in Outcome.choices
        if code not in (Outcome.CALLBACK, Outcome.DECLARED)
    ),
)


def _campaign(user, slug: str) -> Campaign:
    """A campaign the user is a member of (admins: any), with their membership there as
    ``.membership``, in one statement; 404 otherwise."""
    return campaign_for_member(user, slug)


def _held(user, campaign, pk: int) -> Target:
    """A target of this campaign that this user holds; 404 for anything else."""
    target = Target.objects.filter(pk=pk, campaign=campaign, lease_holder=user).first()
    if target is None:
        raise Http404
    return target


def _zone(target: Target) -> str:
    return target.contact.timezone or target.campaign.default_timezone


def _context(request, campaign, target=None, form=None, practice=False, **extra):
    now = timezone.now()
    if practice:
        urls = {
            "outcome_url": reverse("calling:practice_outcome", args=[campaign.slug]),
            "release_url": reverse("calling:practice", args=[campaign.slug]),
        }
    elif target is not None:
        urls = {
            "outcome_url": reverse("calling:outcome", args=[campaign.slug, target.pk]),
            "release_url": reverse("calling:release", args=[campaign.slug, target.pk]),
        }
    else:
        urls = {}
    membership = campaign.membership
    standing = caller_standing(request.user, membership.status if membership else None)
    ctx = {
        "practice": practice,
        # Real contacts only for a caller approved in this campaign; another one's approval
        # does not count.
        "may_call": standing == CallerStatus.APPROVED,
        "standing": standing,
        **urls,
        "campaign": campaign,
        "target": target,
        "now": now,
        "form": form,
        "totals": selectors.caller_today(request.user, request.user.timezone, now),
        "shortcuts": SHORTCUTS,
        "outcomes": Outcome.choices,
        "outcome_buttons": OUTCOME_BUTTONS,
        **extra,
    }
    if target is not None:
        zone = _zone(target)
        is_open, changes = hours.state(campaign.schedule, zone, now)
        ctx.update(
            {
                "contact": target.contact,
                "zone": zone,
                "local_time": now.astimezone(ZoneInfo(zone)).strftime("%H:%M"),
                "offset_minutes": int(
                    now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60
                ),
                "window_open": is_open,
                "window_changes": changes,
                "minutes_left": int((changes - now).total_seconds() // 60)
                if is_open and changes
                else 0,
                "history": []
                if practice
                else CallAttempt.objects.filter(target=target).order_by("-ended_at")[:5],
                "playbook": campaign.playbook.all(),
                "organisations": campaign.organisations.all(),
                "form": form or OutcomeForm(campaign=campaign, zone=zone),
            }
        )
    return ctx


def _render(request, ctx, status=200):
    template = "calling/_panel.html" if request.htmx else "calling/workspace.html"
    return render(request, template, ctx, status=status)


@login_required
def workspace(request, slug):
    campaign = _campaign(request.user, slug)
    target = selectors.held_target(campaign, request.user, timezone.now())
    return _render(request, _context(request, campaign, target))


@login_required
def home(request):
    campaigns = list(Campaign.objects.visible_to(request.user).order_by("name"))
    if len(campaigns) == 1:
        return redirect("calling:workspace", slug=campaigns[0].slug)
    return render(request, "calling/choose.html", {"campaigns": campaigns})


@require_POST
@login_required
def next_contact(request, slug):
    campaign = _campaign(request.user, slug)
    try:
        claim = services.target_claim(
            campaign=campaign, caller=request.user, membership=campaign.membership
        )
    except services.RateLimited as exc:
        return _render(request, _context(request, campaign, error=str(exc)), status=429)
    except services.NotApproved as exc:
        return _render(request, _context(request, campaign, error=str(exc)), status=403)
    if claim is None:
        now = timezone.now()
        return _render(
            request,
            _context(
                request,
                campaign,
                empty=True,
                windows=selectors.callable_week(campaign, request.user.timezone, now)[:3],
            ),
        )
    if not request.htmx:
        return redirect("calling:workspace", slug=slug)
    return _render(request, _context(request, campaign, claim.target))


@require_POST
@login_required
def outcome(request, slug, pk):
    campaign = _campaign(request.user, slug)
    target = _held(request.user, campaign, pk)
    form = OutcomeForm(request.POST, campaign=campaign, zone=_zone(target))
    if not form.is_valid():
        return _render(request, _context(request, campaign, target, form), status=400)
    data = form.cleaned_data
    try:
        attempt, receipt = services.outcome_record(
            target=target,
            caller=request.user,
            outcome=data["outcome"],
            notes=data["notes"],
            callback_at=data["callback_local"],
            objections=data["objections"],
            declaration=form.declaration() if data["outcome"] == Outcome.DECLARED else None,
        )
    except services.LeaseLost as exc:
        return _render(request, _context(request, campaign, error=str(exc)), status=409)
    except services.NotApproved as exc:
        return _render(request, _context(request, campaign, error=str(exc)), status=403)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _render(request, _context(request, campaign, target, form), status=400)
    return _render(request, _context(request, campaign, recorded=attempt, receipt=receipt))


@require_POST
@login_required
def release(request, slug, pk):
    campaign = _campaign(request.user, slug)
    target = _held(request.user, campaign, pk)
    services.target_release(target=target, caller=request.user)
    return _render(request, _context(request, campaign, released=True))


@require_POST
@login_required
def renew(request, slug, pk):
    campaign = _campaign(request.user, slug)
    target = _held(request.user, campaign, pk)
    services.lease_renew(target=target, caller=request.user)
    return render(request, "calling/_lease.html", {"target": target, "campaign": campaign})


@login_required
def practice(request, slug):
    """Practice mode: the full workspace with a made-up contact and the campaign's real
    script and playbook. Nothing is claimed, recorded or counted; no number is shown."""
    campaign = _campaign(request.user, slug)
    target = practice_target(campaign)
    return _render(request, _context(request, campaign, target, practice=True))


@require_POST
@login_required
def practice_outcome(request, slug):
    """A practice outcome: checked like a real one, so mistakes show, then forgotten."""
    campaign = _campaign(request.user, slug)
    zone = campaign.default_timezone
    form = OutcomeForm(request.POST, campaign=campaign, zone=zone)
    target = practice_target(campaign)
    if not form.is_valid():
        return _render(request, _context(request, campaign, target, form, practice=True), 400)
    data = form.cleaned_data
    receipt = None
    if data["outcome"] == Outcome.DECLARED:
        declaration = form.declaration()
        if declaration.get("consent") is not True or not declaration.get("alias", "").strip():
            form.add_error(
                None, _("A declaration needs the person's explicit agreement and an alias.")
            )
            return _render(request, _context(request, campaign, target, form, practice=True), 400)
        receipt = "PRAC-TICE-0000-0000"
    label = dict(Outcome.choices)[data["outcome"]]
    return _render(
        request,
        _context(
            request, campaign, practice=True, practice_recorded=label, practice_receipt=receipt
        ),
    )


@login_required
def when(request):
    """When can I call? Each campaign's calling windows this week, in the caller's time."""
    form = TimezoneForm(request.POST or None, initial={"timezone": request.user.timezone or "UTC"})
    if request.method == "POST" and form.is_valid():
        request.user.timezone = form.cleaned_data["timezone"]
        request.user.save(update_fields=["timezone"])
        return redirect("calling:when")
    now = timezone.now()
    zone = request.user.timezone or "UTC"
    rows = [
        (c, selectors.callable_week(c, zone, now))
        for c in Campaign.objects.visible_to(request.user).order_by("name")
    ]
    return render(
        request,
        "calling/when.html",
        {"rows": rows, "form": form, "zone": zone, "now": now, "title": _("When can I call?")},
    )
