from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TargetStatus(models.TextChoices):
    OPEN = "open", _("To call")
    CALLBACK = "callback", _("Callback agreed")
    DONE = "done", _("Finished")
    CLOSED = "closed", _("Number not usable")
    DNC = "dnc", _("Do not call")


class Target(models.Model):
    """A contact in one campaign's queue: what the claim queue hands out and leases."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="targets"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="targets"
    )
    status = models.CharField(
        max_length=16, choices=TargetStatus.choices, default=TargetStatus.OPEN
    )
    attempts = models.PositiveIntegerField(default=0)
    next_call_at = models.DateTimeField(null=True, blank=True)
    lease_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="target_unique")
        ]
        indexes = [models.Index(fields=["campaign", "status", "next_call_at"])]

    def __str__(self) -> str:
        return f"target {self.pk}"
