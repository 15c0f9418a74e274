"""Rollups of call attempts, kept in the same transaction as each outcome, so dashboards
read a few hundred rows instead of millions of calls; and the export jobs.

Days and hours are the contact's local ones (their calling day, "when do people pick
up?"). Each rollup is a plain table with a unique key and a counter, written with one
INSERT … ON CONFLICT per outcome (services.rollups_add); `phonebank dashboards rebuild`
recomputes them from the calls and says whether they differed.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Rollup(models.Model):
    """What every rollup has: the campaign, the call's outcome, and the counter. Each table
    adds the rest of its key; its unique constraint is that whole key."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    outcome = models.CharField(max_length=32)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DayStat(Rollup):
    """Calls of a campaign per local day and outcome."""

    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "day", "outcome"], name="daystat_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.outcome}: {self.calls}"


class HourStat(Rollup):
    """Calls of a campaign per hour of the contact's local day (0-23) and outcome."""

    hour = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "hour", "outcome"], name="hourstat_key")
        ]

    def __str__(self) -> str:
        return f"{self.hour}h {self.outcome}: {self.calls}"


class ProvinceStat(Rollup):
    """Calls of a campaign per contact province ("" when unknown) and outcome."""

    province = models.CharField(max_length=2, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "province", "outcome"], name="provincestat_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.province or '?'} {self.outcome}: {self.calls}"


class CallerDayStat(Rollup):
    """Calls of one caller in a campaign per local day and outcome (their own totals)."""

    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "caller", "day", "outcome"], name="callerdaystat_key"
            )
        ]
        indexes = [models.Index(fields=["campaign", "day"], name="callerdaystat_day")]

    def __str__(self) -> str:
        return f"{self.caller_id} {self.day} {self.outcome}: {self.calls}"


class ObjectionStat(Rollup):
    """How often a playbook objection was ticked, per local day and the call's outcome."""

    entry = models.ForeignKey(
        "campaigns.PlaybookEntry", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "entry", "day", "outcome"], name="objectionstat_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.day} {self.outcome}: {self.calls}"


class TargetStatusCount(models.Model):
    """PostgreSQL: changes in the number of a campaign's targets in each status, written by
    triggers on the targets table (migration 0003, ``targetcounts``), so that queue health
    reads a few rows instead of counting a million targets. A campaign's count in a status
    is the sum of its rows; the worker folds them into one row per status once a minute.
    The triggers only ever insert rows (no lock on any existing row: concurrent outcomes
    and do-not-call updates never wait for each other here); folding and
    ``phonebank dashboards rebuild`` rewrite them.

    On SQLite the table stays empty: counting the queue index is fast there, and a trigger
    would cost every imported target (docs/benchmarks.md, "Dashboards")."""

    # No database constraint: a campaign's targets deleted with it still leave their
    # (negative) rows for a moment; folding drops rows whose campaign is gone.
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    status = models.CharField(max_length=16)
    targets = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.status}: {self.targets:+d}"


class DryReason(models.TextChoices):
    FINISHED = "finished", _("Nobody is left to call: every contact is finished")
    HOURS = "hours", _("Outside the contacts' calling hours")
    RETRY = "retry", _("Everyone left is waiting for their retry time")
    CALLBACKS = "callbacks", _("Only callbacks agreed for later are left")
    LEASED = "leased", _("Everyone callable is being called by other callers")
    RESERVED = (
        "reserved",
        _(
            "The contacts left are reserved for trusted callers, or for the callers who agreed "
            "their callbacks"
        ),
    )
    EMPTY = "empty", _("The campaign has no contacts yet")


class QueueDry(models.Model):
    """A moment a caller asked for a contact and nobody could be called, and why.

    Recorded at most once per campaign every few minutes (services.queue_dry_note)."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=DryReason.choices)
    waiting = models.PositiveIntegerField(default=0)  # contacts still to call later
    next_at = models.DateTimeField(null=True, blank=True)  # when the next one becomes due

    class Meta:
        indexes = [models.Index(fields=["campaign", "at"], name="queuedry_recent")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.reason}"


class ExportKind(models.TextChoices):
    ATTEMPTS = "attempts", _("Call attempts")
    OUTCOMES = "outcomes", _("Outcomes per day")
    DECLARATIONS = "declarations", _("Declared calls")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (.xlsx)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExportJob(models.Model):
    """One export of a campaign's calls, run by the worker; the file is sealed at rest,
    downloadable by whoever asked for it until it expires."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="exports"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    # Full numbers, names and notes: admins only, and audited as such.
    personal = models.BooleanField(default=False)
    # Headers, outcomes and places are written in the language of whoever asked.
    language = models.CharField(max_length=10, default="en")
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED, db_index=True
    )
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    path = models.CharField(max_length=500, blank=True, default="")
    size = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    runner = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} {self.kind}.{self.format}"

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.FINISHED:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))

    @property
    def is_active(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)
