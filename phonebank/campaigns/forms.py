from django import forms
from django.utils.translation import gettext_lazy as _

from phonebank.calling.models import Outcome
from phonebank.campaigns.models import Campaign, Organisation, PlaybookEntry
from phonebank.lib import hours
from phonebank.lib.formfields import RegionField

RETRYABLE = [
    (o, o.label) for o in (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.HUNG_UP, Outcome.LISTENED)
]


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "slug",
            "description",
            "calling_hours",
            "default_region",
            "default_timezone",
            "lease_minutes",
            "callback_grace_minutes",
            "script",
        ]
        labels = {"slug": _("Short name (in web addresses)")}
        field_classes = {"default_region": RegionField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "script": forms.Textarea(attrs={"rows": 12}),
        }

    def clean_calling_hours(self):
        try:
            return hours.normalise(self.cleaned_data["calling_hours"])
        except hours.HoursError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_default_timezone(self):
        import zoneinfo

        zone = self.cleaned_data["default_timezone"]
        if zone not in zoneinfo.available_timezones():
            raise forms.ValidationError(
                _("%(zone)s is not a time zone such as Asia/Shanghai.") % {"zone": zone}
            )
        return zone

    def clean_lease_minutes(self):
        value = self.cleaned_data["lease_minutes"]
        if not 5 <= value <= 120:
            raise forms.ValidationError(_("Between 5 and 120 minutes."))
        return value


class PlaybookEntryForm(forms.ModelForm):
    class Meta:
        model = PlaybookEntry
        fields = ["objection", "response", "tags", "order"]
        widgets = {"response": forms.Textarea(attrs={"rows": 3})}
        labels = {"order": _("Order")}


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ["code", "name_en", "name_zh_hans", "name_zh_hant", "order"]
        labels = {
            "code": _("Code"),
            "name_en": _("English name"),
            "name_zh_hans": _("Simplified Chinese name"),
            "name_zh_hant": _("Traditional Chinese name"),
        }


class RetryRulesForm(forms.Form):
    """One delay and one maximum per retried outcome; empty means "not retried"."""

    def __init__(self, *args, rules: dict[str, tuple[int, int]], **kwargs):
        super().__init__(*args, **kwargs)
        for code, label in RETRYABLE:
            delay, most = rules.get(code, (None, None))
            self.fields[f"{code}_delay"] = forms.IntegerField(
                label=_("%(outcome)s: again after (minutes)") % {"outcome": label},
                required=False,
                min_value=1,
                max_value=60 * 24 * 60,
                initial=delay,
            )
            self.fields[f"{code}_max"] = forms.IntegerField(
                label=_("%(outcome)s: at most (attempts)") % {"outcome": label},
                required=False,
                min_value=1,
                max_value=50,
                initial=most,
            )

    def clean(self):
        data = super().clean()
        for code, _label in RETRYABLE:
            if (data.get(f"{code}_delay") is None) != (data.get(f"{code}_max") is None):
                self.add_error(f"{code}_max", _("Give both numbers, or neither."))
        return data

    def rules(self) -> dict[str, tuple[int, int]]:
        data = self.cleaned_data
        return {
            code: (data[f"{code}_delay"], data[f"{code}_max"])
            for code, _l in RETRYABLE
            if data.get(f"{code}_delay") is not None
        }


class MemberForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
