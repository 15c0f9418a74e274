from datetime import UTC

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from phonebank.accounts.forms import InvitationForm
from phonebank.accounts.models import Invitation, Membership
from phonebank.accounts.permissions import campaign_for_staff, staff_required
from phonebank.accounts.services import (
    caller_approve,
    caller_suspend,
    caller_trust_set,
    invitation_create,
    invitation_revoke,
    membership_remove,
)
from phonebank.calling.models import ClaimWindow
from phonebank.campaigns import services
from phonebank.campaigns.forms import (
    CampaignForm,
    MemberForm,
    OrganisationForm,
    PlaybookEntryForm,
    RetryRulesForm,
)
from phonebank.campaigns.models import Campaign, Organisation, PlaybookEntry
from phonebank.contacts import selectors as contact_selectors
from phonebank.lib.errors import DomainError


@staff_required
def campaign_list(request):
    campaigns = Campaign.objects.visible_to(request.user).order_by("name")
    return render(request, "campaigns/list.html", {"campaigns": campaigns})


@staff_required
def campaign_create(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(actor=request.user, **data)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Campaign created. Import its contacts next."))
            return redirect("contacts:imports", slug=campaign.slug)
    return render(request, "campaigns/form.html", {"form": form})


@staff_required
def campaign_detail(request, slug):
    campaign = campaign_for_staff(request.user, slug)
    form = CampaignForm(request.POST or None, instance=campaign)
    form.fields["slug"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "slug"}
        # The ModelForm wrote the cleaned values onto the instance; compare against the
        # stored row so the service sees (and audits) the real changes.
        campaign = Campaign.objects.get(pk=campaign.pk)
        services.campaign_update(campaign=campaign, actor=request.user, **data)
        messages.success(request, _("Saved."))
        return redirect("campaigns:detail", slug=campaign.slug)
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "form": form,
            "tab": "settings",
            "counts": contact_selectors.target_counts(campaign),
            "members": campaign.memberships.select_related("user").order_by("user__username"),
        },
    )


@staff_required
def playbook(request, slug, pk=None):
    """The objection playbook: every entry editable in place, one form to add."""
    campaign = campaign_for_staff(request.user, slug)
    entry = get_object_or_404(PlaybookEntry, pk=pk, campaign=campaign) if pk else None
    form = PlaybookEntryForm(request.POST or None, instance=entry, prefix=f"e{pk or 'new'}")
    if request.method == "POST":
        if "delete" in request.POST and entry is not None:
            services.playbook_entry_delete(entry=entry, actor=request.user)
            messages.success(request, _("Removed."))
            return redirect("campaigns:playbook", slug=slug)
        if form.is_valid():
            services.playbook_entry_save(
                campaign=campaign, actor=request.user, entry=entry, **form.cleaned_data
            )
            messages.success(request, _("Saved."))
            return redirect("campaigns:playbook", slug=slug)
    entries = [
        (
            e,
            form
            if entry is not None and e.pk == entry.pk
            else PlaybookEntryForm(instance=e, prefix=f"e{e.pk}"),
        )
        for e in campaign.playbook.all()
    ]
    new_form = form if entry is None else PlaybookEntryForm(prefix="enew")
    return render(
        request,
        "campaigns/playbook.html",
        {"campaign": campaign, "entries": entries, "new_form": new_form, "tab": "playbook"},
    )


@staff_required
def rules(request, slug):
    """Retry policy and the organisations a declaration may name."""
    campaign = campaign_for_staff(request.user, slug)
    current = {r.outcome: (r.delay_minutes, r.max_attempts) for r in campaign.retry_rules.all()}
    rules_form = RetryRulesForm(request.POST if "rules" in request.POST else None, rules=current)
    org_form = OrganisationForm(request.POST if "organisation" in request.POST else None)
    if request.method == "POST":
        if "rules" in request.POST and rules_form.is_valid():
            services.retry_rules_set(
                campaign=campaign, rules=rules_form.rules(), actor=request.user
            )
            messages.success(request, _("Saved."))
            return redirect("campaigns:rules", slug=slug)
        if "organisation" in request.POST and org_form.is_valid():
            try:
                services.organisation_save(
                    campaign=campaign, actor=request.user, **org_form.cleaned_data
                )
            except DomainError as exc:
                org_form.add_error("code", str(exc))
            else:
                messages.success(request, _("Saved."))
                return redirect("campaigns:rules", slug=slug)
        if "remove_organisation" in request.POST:
            org = get_object_or_404(
                Organisation, campaign=campaign, pk=request.POST.get("remove_organisation")
            )
            services.organisation_delete(organisation=org, actor=request.user)
            messages.success(request, _("Removed."))
            return redirect("campaigns:rules", slug=slug)
    return render(
        request,
        "campaigns/rules.html",
        {
            "campaign": campaign,
            "rules_form": rules_form,
            "org_form": org_form,
            "organisations": campaign.organisations.all(),
            "tab": "rules",
        },
    )


@never_cache
@staff_required
def people(request, slug):
    """The campaign's people: members and their vetting in this campaign (approve, trust,
    suspend), adding a caller of another of the coordinator's campaigns, and invitation
    links for new volunteers."""
    campaign = campaign_for_staff(request.user, slug)
    form = MemberForm(request.POST if "username" in request.POST else None)
    invite_form = InvitationForm(request.POST if "invite" in request.POST else None)
    new_link = None
    if request.method == "POST":
        if "remove" in request.POST:
            membership = get_object_or_404(
                Membership, campaign=campaign, pk=request.POST.get("remove")
            )
            if membership.user.role != "caller" and not request.user.is_admin:
                raise PermissionDenied
            membership_remove(membership=membership, actor=request.user)
            messages.success(request, _("Removed."))
            return redirect("campaigns:people", slug=slug)
        if "vet" in request.POST:
            member = get_object_or_404(
                Membership, campaign=campaign, pk=request.POST.get("member"), user__role="caller"
            )
            action, actor = request.POST["vet"], request.user
            done = {
                "approve": lambda: caller_approve(membership=member, actor=actor),
                "suspend": lambda: caller_suspend(membership=member, actor=actor),
                "trust": lambda: caller_trust_set(membership=member, trusted=True, actor=actor),
                "untrust": lambda: caller_trust_set(membership=member, trusted=False, actor=actor),
            }.get(action)
            if done is None:
                raise Http404
            done()
            messages.success(request, _("Saved."))
            return redirect("campaigns:people", slug=slug)
        if "revoke_invitation" in request.POST:
            invitation = get_object_or_404(
                Invitation, campaign=campaign, pk=request.POST.get("revoke_invitation")
            )
            invitation_revoke(invitation=invitation, actor=request.user)
            messages.success(request, _("The invitation link no longer works."))
            return redirect("campaigns:people", slug=slug)
        if "invite" in request.POST and invite_form.is_valid():
            try:
                _invitation, raw = invitation_create(
                    campaign=campaign,
                    actor=request.user,
                    note=invite_form.cleaned_data["note"],
                    days=invite_form.cleaned_data["days"],
                    max_uses=invite_form.cleaned_data["max_uses"],
                )
            except DomainError as exc:
                invite_form.add_error(None, str(exc))
            else:
                new_link = request.build_absolute_uri(reverse("join", args=[raw]))
                invite_form = InvitationForm()
        elif "username" in request.POST and form.is_valid():
            try:
                services.member_add(
                    campaign=campaign, username=form.cleaned_data["username"], actor=request.user
                )
            except DomainError as exc:
                form.add_error("username", str(exc))
            else:
                messages.success(request, _("Added."))
                return redirect("campaigns:people", slug=slug)
    members = list(
        campaign.memberships.select_related("user").order_by("user__role", "user__username")
    )
    now = timezone.now()
    flags = {
        w.caller_id: w
        for w in ClaimWindow.objects.filter(
            caller__in=[m.user_id for m in members], flagged_on=now.astimezone(UTC).date()
        )
    }
    for m in members:
        m.scraping = flags.get(m.user_id)
    invitations = [
        (i, i.state(now))
        for i in campaign.invitations.select_related("created_by").order_by("-created_at")[:50]
    ]
    return render(
        request,
        "campaigns/people.html",
        {
            "campaign": campaign,
            "form": form,
            "invite_form": invite_form,
            "new_link": new_link,
            "members": members,
            "invitations": invitations,
            "tab": "people",
        },
    )
