from django import forms
from django.utils.translation import gettext_lazy as _

from phonebank.dashboards.models import ExportFormat, ExportKind


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to export"), choices=ExportKind.choices)
    format = forms.ChoiceField(label=_("Format"), choices=ExportFormat.choices)
    personal = forms.BooleanField(
        label=_("Include personal data"),
        required=False,
        help_text=_(
            "Full phone numbers, names and call notes, in the call attempts export only. "
            "Admins only; the file is for you alone, audited, and deleted after 24 hours."
        ),
    )

    def __init__(self, *args, admin: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not admin:
            del self.fields["personal"]
