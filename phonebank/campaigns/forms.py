from django import forms
from django.utils.translation import gettext_lazy as _

from phonebank.campaigns.models import Campaign
from phonebank.lib import hours


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "slug", "description", "calling_hours", "default_region", "script"]
        labels = {"slug": _("Short name (in web addresses)")}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "script": forms.Textarea(attrs={"rows": 12}),
        }

    def clean_calling_hours(self):
        try:
            return hours.normalise(self.cleaned_data["calling_hours"])
        except hours.HoursError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_default_region(self):
        return self.cleaned_data["default_region"].upper()
