from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    PHONE = "phone", _("By phone")
    WEB = "web", _("Online")


class DeclarationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Declaration(models.Model):
    """A public, pseudonymous declaration. Holds no phone number, name, caller, campaign or
    time of day, and nothing links it to a call."""

    alias = models.CharField(max_length=64)
    province = models.CharField(max_length=2, blank=True, default="")
    declared_on = models.DateField()
    source = models.CharField(max_length=8, choices=Source.choices)
    receipt_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=16, choices=DeclarationStatus.choices, default=DeclarationStatus.ACTIVE
    )

    class Meta:
        indexes = [models.Index(fields=["declared_on"])]

    def __str__(self) -> str:
        return self.alias


class DeclarationOrganisation(models.Model):
    """One organisation a declaration leaves (a row each, so counts are plain GROUP BYs)."""

    declaration = models.ForeignKey(
        Declaration, on_delete=models.CASCADE, related_name="organisations"
    )
    code = models.SlugField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["declaration", "code"], name="declaration_org_unique")
        ]

    def __str__(self) -> str:
        return self.code
