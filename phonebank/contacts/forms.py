from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from phonebank.contacts.reader import FileProblem, parse_mapping
from phonebank.lib.formfields import RegionField


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or GB18030) or Excel .xlsx, with a header row such as "
            "电话, 姓名, 单位, 职务, 地区 or phone, name, organisation, title, region."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )
    mapping = forms.CharField(
        label=_("Column mapping (optional)"),
        required=False,
        max_length=300,
        help_text=_("Only when the headers are not recognised, for example: phone=手机,name=2"),
    )
    default_region = RegionField(
        label=_("Default country"),
        initial="CN",
        help_text=_("For numbers written without a country code."),
    )

    def clean_mapping(self):
        try:
            return parse_mapping(self.cleaned_data["mapping"])
        except FileProblem as exc:
            raise forms.ValidationError(gettext(exc.template) % exc.params) from exc


class DncFileForm(forms.Form):
    file = forms.FileField(
        label=_("Do-not-call file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )


class DncForm(forms.Form):
    phone = forms.CharField(label=_("Phone number"), max_length=64)
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)
