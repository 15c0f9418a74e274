"""Writes for the registry: declarations. The transparency log builds on these."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.lib.errors import DomainError
from phonebank.registry.models import Declaration, DeclarationOrganisation

ALIAS_MAX = 64
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud over the phone


def receipt_new() -> str:
    """A receipt code of 80 random bits, as 16 characters in groups of four."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def receipt_hash(code: str) -> str:
    normal = "".join(c for c in code.upper() if c.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


@transaction.atomic
def declaration_record(
    *,
    alias: str,
    organisations: list[str],
    allowed: set[str],
    source: str,
    consent: bool,
    province: str = "",
) -> tuple[Declaration, str]:
    """Record a declaration made freely; returns it and its receipt code (shown once).

    Refuses without explicit consent, without an alias, or with an organisation the
    campaign does not offer.
    """
    alias = " ".join((alias or "").split())
    if consent is not True:
        raise DomainError(_("A declaration needs the person's explicit agreement."))
    if not alias:
        raise DomainError(_("Give the alias the person chose."))
    if len(alias) > ALIAS_MAX:
        raise DomainError(_("The alias may have at most %(n)d characters.") % {"n": ALIAS_MAX})
    codes = sorted(set(organisations or []))
    if not codes:
        raise DomainError(_("Choose at least one organisation."))
    unknown = [c for c in codes if c not in allowed]
    if unknown:
        raise DomainError(_("Unknown organisation: %(codes)s.") % {"codes": ", ".join(unknown)})
    code = receipt_new()
    declaration = Declaration.objects.create(
        alias=alias,
        province=province[:2],
        declared_on=timezone.localdate(),
        source=source,
        receipt_hash=receipt_hash(code),
    )
    DeclarationOrganisation.objects.bulk_create(
        DeclarationOrganisation(declaration=declaration, code=c) for c in codes
    )
    return declaration, code
