import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from phonebank.accounts.validators import MAX_PASSWORD


def zone_choices() -> list[tuple[str, str]]:
    zones = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc")
    )
    return [(z, z.replace("_", " ")) for z in ["UTC", *zones]]


class _ZoneAndLanguage(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=())
    timezone = forms.ChoiceField(
        label=_("Your time zone"),
        choices=(),
        error_messages={"invalid_choice": _("Unknown time zone: %(value)s.")},
        help_text=_("Where you are: the workspace shows times in this zone."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES
        self.fields["timezone"].choices = zone_choices()


class SignUpForm(_ZoneAndLanguage):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Not your real name: other volunteers and coordinators see it."),
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        max_length=MAX_PASSWORD,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={
            "max_length": _("This password is too long: use at most %(limit_value)d characters.")
        },
    )
    password2 = forms.CharField(
        label=_("Password again"),
        max_length=MAX_PASSWORD,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    field_order = ["username", "password1", "password2", "language", "timezone"]

    def clean(self):
        data = super().clean()
        if (
            data.get("password1")
            and data.get("password2")
            and data["password1"] != data["password2"]
        ):
            self.add_error("password2", _("The two passwords differ."))
        return data


class ProfileForm(_ZoneAndLanguage):
    pass


_TOO_LONG = {"max_length": _("This password is too long: use at most %(limit_value)d characters.")}


def _bounded(field: forms.CharField) -> None:
    """Refuse an over-long password as a field error, before anything hashes it: no account
    has one (validators.MaximumLengthValidator), and the hasher is slow on purpose."""
    field.max_length = MAX_PASSWORD
    field.validators.append(MaxLengthValidator(MAX_PASSWORD))
    field.widget.attrs["maxlength"] = str(MAX_PASSWORD)
    field.error_messages = {**field.error_messages, **_TOO_LONG}


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refusing over-long input before authenticate() runs. Django
    sets the username's max_length after the field is built, so it only reaches the HTML
    attribute: the validator is added here."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))
        _bounded(self.fields["password"])


class BoundedPasswordChangeForm(PasswordChangeForm):
    """The old password is checked against its hash: refuse over-long input first (the new
    ones too, before the validators compare them with the user's attributes)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("old_password", "new_password1", "new_password2"):
            _bounded(self.fields[name])


class InvitationForm(forms.Form):
    note = forms.CharField(
        label=_("Who it is for (only coordinators see this)"), max_length=200, required=False
    )
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=90, initial=7)
    max_uses = forms.IntegerField(label=_("Number of uses"), min_value=1, max_value=100, initial=1)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app, or a backup code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )
