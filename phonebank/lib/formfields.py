"""Form fields shared by several apps."""

import phonenumbers
from django import forms
from django.utils.translation import gettext as _


class RegionField(forms.CharField):
    """A country code that phonenumbers knows (CN, US, ...), upper-cased."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def clean(self, value):
        region = (super().clean(value) or "").upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(
                _("%(region)s is not a country code such as CN.") % {"region": region}
            )
        return region
