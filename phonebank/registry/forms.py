from django import forms
from django.utils.translation import gettext_lazy as _

from phonebank.campaigns.models import DEFAULT_ORGANISATIONS
from phonebank.lib import provinces
from phonebank.registry.services import ALIAS_MAX, receipt_normal


def _organisation_choices(language: str) -> list[tuple[str, str]]:
    column = 3 if language.startswith("zh-hant") else 2 if language.startswith("zh") else 1
    return [(row[0], row[column]) for row in DEFAULT_ORGANISATIONS]


def _province_choices(language: str) -> list[tuple[str, str]]:
    rows = sorted(
        ((p.code, provinces.name(p.code, language)) for p in provinces.PROVINCES),
        key=lambda r: r[1],
    )
    return [("", _("Not given")), *rows]


class DeclareForm(forms.Form):
    alias = forms.CharField(
        label=_("Alias"),
        max_length=ALIAS_MAX,
        help_text=_("A name of your choice. It is published; do not use your real name."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    organisations = forms.MultipleChoiceField(
        label=_("I leave"), widget=forms.CheckboxSelectMultiple, choices=()
    )
    province = forms.ChoiceField(label=_("Province (optional)"), required=False, choices=())
    consent = forms.BooleanField(
        label=_("I make this declaration freely and agree that it is published under my alias."),
    )
    # A honeypot: hidden from people by CSS and from assistive technology; bots fill it in.
    website = forms.CharField(required=False, label=_("Leave this empty"))
    altcha = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, language: str = "en", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisations"].choices = _organisation_choices(language)
        self.fields["province"].choices = _province_choices(language)
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        self.fields["organisations"].error_messages["required"] = _(
            "Choose at least one organisation."
        )
        self.fields["consent"].error_messages["required"] = _(
            "A declaration needs your explicit agreement: tick the box."
        )

    def clean_alias(self):
        alias = " ".join(self.cleaned_data["alias"].split())
        if not alias:
            raise forms.ValidationError(_("Give the alias you chose."))
        return alias


class ReceiptForm(forms.Form):
    code = forms.CharField(
        label=_("Receipt code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "ABCD-EFGH-JKLM-NPQR",
            }
        ),
    )

    def clean_code(self):
        code = self.cleaned_data["code"]
        if not receipt_normal(code):
            raise forms.ValidationError(
                _("A receipt code has 16 letters and digits, such as ABCD-EFGH-JKLM-NPQR.")
            )
        return code


class WithdrawForm(ReceiptForm):
    confirm = forms.BooleanField(
        label=_("I withdraw my declaration. The log keeps both entries; the counts drop by one."),
    )
