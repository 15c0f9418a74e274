"""A model field that stores text sealed with the installation's data keys (lib.crypto)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def keyring():
    """The keyring in force; read on each use so rotation and tests can replace it."""
    return settings.PHONEBANK_KEYRING


class EncryptedTextField(models.TextField):
    """Text encrypted at rest. ``purpose`` is bound to each ciphertext as associated data.

    An empty string is stored as an empty string (there is nothing to hide, and it keeps
    "no organisation" cheap). Lookups other than isnull/exact-empty are meaningless here.
    """

    def __init__(self, *args, purpose: str, **kwargs):
        self.purpose = purpose
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return keyring().decrypt(value, self.purpose)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return keyring().encrypt(value, self.purpose)
