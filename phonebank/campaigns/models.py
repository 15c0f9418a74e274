from django.db import models
from django.utils.translation import gettext_lazy as _

from phonebank.lib import hours


class CampaignQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Campaigns a user may see: all for admins, their memberships for everyone else."""
        if not user.is_authenticated:
            return self.none()
        if user.is_admin:
            return self
        return self.filter(memberships__user=user)


class Campaign(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, default="")
    script = models.TextField(_("script"), blank=True, default="", help_text=_("Markdown."))
    calling_hours = models.CharField(
        _("calling hours"),
        max_length=200,
        default=hours.DEFAULT,
        help_text=_("In the contact's local time, for example 09:00-12:00,14:00-21:00."),
    )
    default_region = models.CharField(_("default region"), max_length=2, default="CN")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlaybookEntry(models.Model):
    """An objection callers hear, with a suggested respectful response."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="playbook")
    objection = models.CharField(_("objection"), max_length=300)
    response = models.TextField(_("suggested response"))
    tags = models.CharField(_("tags"), max_length=200, blank=True, default="")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "playbook entries"

    def __str__(self) -> str:
        return self.objection
