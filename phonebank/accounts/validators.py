from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_PASSWORD = 128


class MaximumLengthValidator:
    """Refuse over-long passwords before they reach the (deliberately slow) hasher."""

    def validate(self, password, user=None):
        if len(password) > MAX_PASSWORD:
            raise ValidationError(
                _("This password is too long: use at most %(max)d characters.")
                % {"max": MAX_PASSWORD},
                code="password_too_long",
            )

    def get_help_text(self):
        return _("Your password can have at most %(max)d characters.") % {"max": MAX_PASSWORD}
