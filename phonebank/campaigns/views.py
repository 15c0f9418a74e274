from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from phonebank.accounts.permissions import campaign_for_staff, staff_required
from phonebank.campaigns import services
from phonebank.campaigns.forms import CampaignForm
from phonebank.campaigns.models import Campaign
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
