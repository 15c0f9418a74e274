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
        help_text=_(
            "In the contact's local time, for example 09:00-12:00,14:00-21:00, or per "
            "weekday: mon-fri 09:00-12:00,14:00-21:00; sat 10:00-16:00; sun -"
        ),
    )
    default_region = models.CharField(_("default region"), max_length=2, default="CN")
    default_timezone = models.CharField(
        _("default time zone"),
        max_length=64,
        default="Asia/Shanghai",
        help_text=_("For contacts whose number does not tell their time zone."),
    )
    lease_minutes = models.PositiveIntegerField(
        _("lease (minutes)"),
        default=20,
        help_text=_("How long a caller holds a contact; renewed while the workspace is open."),
    )
    callback_grace_minutes = models.PositiveIntegerField(
        _("callback grace (minutes)"),
        default=30,
        help_text=_(
            "A due callback waits this long for the caller who agreed it, then goes to anyone."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def schedule(self) -> list[hours.Spans]:
        return hours.parse_schedule(self.calling_hours)


class RetryRule(models.Model):
    """After an outcome, when the contact may be called again, and how many times at most."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="retry_rules")
    outcome = models.CharField(max_length=32)
    delay_minutes = models.PositiveIntegerField()
    max_attempts = models.PositiveIntegerField(
        help_text="attempts with this outcome after which the contact is not called again"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "outcome"], name="retry_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.outcome}: after {self.delay_minutes} min, at most {self.max_attempts}"


DEFAULT_RETRY_RULES = {
    # outcome: (delay in minutes, most attempts ending with this outcome)
    "no_answer": (180, 5),
    "busy": (30, 5),
    "hung_up": (1440, 2),
    "listened": (3 * 1440, 3),
}


class Organisation(models.Model):
    """An organisation a declaration may name in this campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="organisations")
    code = models.SlugField(max_length=32)
    name_en = models.CharField(max_length=100)
    name_zh_hans = models.CharField(max_length=100)
    name_zh_hant = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="organisation_unique")
        ]

    def __str__(self) -> str:
        return self.code

    def name(self, language: str) -> str:
        if language.startswith("zh-hant"):
            return self.name_zh_hant
        if language.startswith("zh"):
            return self.name_zh_hans
        return self.name_en


DEFAULT_ORGANISATIONS = [
    ("party", "Chinese Communist Party", "中国共产党", "中國共產黨"),
    ("league", "Communist Youth League", "共青团", "共青團"),
    ("pioneers", "Young Pioneers", "少先队", "少先隊"),
]


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
