from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phonebank.lib.fields import EncryptedTextField


class TargetStatus(models.TextChoices):
    OPEN = "open", _("To call")
    CALLBACK = "callback", _("Callback agreed")
    DONE = "done", _("Finished")
    EXHAUSTED = "exhausted", _("Attempts used up")
    CLOSED = "closed", _("Number not usable")
    DNC = "dnc", _("Do not call")


class Outcome(models.TextChoices):
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    HUNG_UP = "hung_up", _("Hung up")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    INVALID_NUMBER = "invalid_number", _("Invalid number")
    REFUSED = "refused", _("Refused")
    DO_NOT_CALL = "do_not_call", _("Do not call again")
    CALLBACK = "callback", _("Callback")
    LISTENED = "listened", _("Listened")
    DECLARED = "declared", _("Declared")


class Target(models.Model):
    """A contact in one campaign's queue: what the claim queue hands out and leases.

    Foreign keys led by a composite index (campaign, lease holder) or rarely followed
    backwards (callback caller) have no index of their own: imports insert millions of
    targets, and each index is one more B-tree written per row.
    """

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="targets", db_index=False
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="targets"
    )
    status = models.CharField(
        max_length=16, choices=TargetStatus.choices, default=TargetStatus.OPEN
    )
    attempts = models.PositiveIntegerField(default=0)
    next_call_at = models.DateTimeField(null=True, blank=True)
    callback_caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    last_outcome = models.CharField(max_length=32, blank=True, default="", db_default="")
    # Reserved for trusted callers (a coordinator's choice for sensitive contacts).
    for_trusted = models.BooleanField(default=False, db_default=False)
    lease_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="target_unique")
        ]
        indexes = [
            # The queue's order (calling.selectors.candidates). SQLite sorts NULLs first,
            # so this serves it; PostgreSQL gets a NULLS FIRST twin in migration 0003.
            models.Index(
                fields=["campaign", "status", "next_call_at", "id"], name="target_queue_idx"
            ),
            models.Index(fields=["lease_holder", "lease_expires_at"]),
        ]

    def __str__(self) -> str:
        return f"target {self.pk}"


class CampaignZone(models.Model):
    """A time zone that contacts of a campaign are in, as stored on contacts ("" unknown).

    A claim asks only about the zones where it is calling time now (selectors.open_zones).
    Finding a campaign's zones among its targets scans the whole queue (0.1–0.5 s at
    100k–1M targets), so whatever adds targets notes their zones here
    (contacts.services.campaign_zones_note: the import in the same transaction, the large
    demo before it writes them). Rows go only with their campaign: a zone whose last
    contact has left the queue stays, and asking about it costs nothing.
    """

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    timezone = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "timezone"], name="campaign_zone_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.timezone or '-'}"


class CallAttempt(models.Model):
    """One call: who called, when, what came of it. Notes are sealed.

    It never refers to a declaration: the registry must not be linkable to calls.

    Campaign and caller have no index of their own: the (campaign, ended_at) and (caller,
    ended_at) indexes lead with them and serve every lookup by either, and each index is
    one more B-tree every outcome writes.
    """

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="attempts_made")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="attempts", db_index=False
    )
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    notes = EncryptedTextField(purpose="attempt.notes")
    objections = models.ManyToManyField("campaigns.PlaybookEntry", blank=True, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "ended_at"]),
            models.Index(fields=["caller", "ended_at"]),
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk}: {self.outcome}"


class ClaimWindow(models.Model):
    """Per-caller claim counters: the rate limit (one fixed one-minute window), the daily
    cap (per UTC day), and the day a scraping alert was last raised."""

    caller = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    window_start = models.DateTimeField()
    claims = models.PositiveIntegerField(default=0)
    day = models.DateField(null=True, blank=True)
    day_claims = models.PositiveIntegerField(default=0)
    flagged_on = models.DateField(null=True, blank=True)
    flag_claims = models.PositiveIntegerField(default=0)
    flag_outcomes = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.caller_id}: {self.claims}"
