from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from phonebank.calling.models import Outcome
from phonebank.lib import provinces


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea)
    objections = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    callback_local = forms.CharField(required=False, max_length=32)
    alias = forms.CharField(required=False, max_length=64)
    organisations = forms.MultipleChoiceField(required=False, choices=())
    province = forms.ChoiceField(required=False, choices=())
    consent = forms.BooleanField(required=False)

    def __init__(self, *args, campaign, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["objections"].choices = [(p.pk, p.objection) for p in campaign.playbook.all()]
        self.fields["organisations"].choices = [
            (o.code, o.name_en) for o in campaign.organisations.all()
        ]
        self.fields["province"].choices = [("", "")] + [(p.code, p.en) for p in provinces.PROVINCES]

    def clean_callback_local(self):
        """The callback time is typed in the contact's local time (datetime-local input)."""
        raw = self.cleaned_data["callback_local"].strip()
        if not raw:
            return None
        try:
            naive = datetime.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError(_("Give the callback time as date and time.")) from None
        return naive.replace(tzinfo=ZoneInfo(self.zone))

    def clean(self):
        data = super().clean()
        if data.get("outcome") == Outcome.CALLBACK and not data.get("callback_local"):
            self.add_error("callback_local", _("Give the time of the callback."))
        return data

    def declaration(self) -> dict:
        data = self.cleaned_data
        return {
            "alias": data.get("alias", ""),
            "organisations": data.get("organisations", []),
            "province": data.get("province", ""),
            "consent": bool(data.get("consent")),
        }


class TimezoneForm(forms.Form):
    timezone = forms.ChoiceField(label=_("Your time zone"), choices=())

    def __init__(self, *args, **kwargs):
        import zoneinfo

        super().__init__(*args, **kwargs)
        zones = sorted(
            z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc")
        )
        self.fields["timezone"].choices = [(z, z.replace("_", " ")) for z in ["UTC", *zones]]
