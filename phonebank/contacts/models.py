import json

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from phonebank.contacts.pipeline import details_json
from phonebank.lib import provinces
from phonebank.lib.fields import EncryptedTextField


class Contact(models.Model):
    """One person's number, installation-wide. Personal data is sealed; what queueing and
    statistics need (country, province, city, time zone) is kept in the clear."""

    blind_index = models.BinaryField(max_length=32, unique=True)  # HMAC-SHA256
    phone = EncryptedTextField(purpose="contact.phone")
    # Name, organisation, title and notes, sealed together as one JSON array (see
    # pipeline.details_json): one encryption per contact instead of four. Read and set them
    # through the properties below; Contact(name=...) works as for a field.
    details = EncryptedTextField(purpose="contact.details")
    country = models.CharField(max_length=2, blank=True, default="")
    # No index of its own: it is filtered through a campaign's targets, and every import
    # would pay for one more random-order B-tree.
    province = models.CharField(max_length=2, blank=True, default="")
    city_zh = models.CharField(max_length=64, blank=True, default="")
    city_en = models.CharField(max_length=64, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"contact {self.pk}"

    def _details(self) -> list[str]:
        cached = self.__dict__.get("_details_cache")
        if cached is None or cached[0] != self.details:
            cached = (self.details, json.loads(self.details) if self.details else [""] * 4)
            self.__dict__["_details_cache"] = cached
        return cached[1]

    def _set_detail(self, position: int, value: str) -> None:
        values = list(self._details())
        values[position] = value or ""
        self.details = details_json(*values)

    name = property(lambda self: self._details()[0], lambda self, v: self._set_detail(0, v))
    organisation = property(lambda self: self._details()[1], lambda self, v: self._set_detail(1, v))
    title = property(lambda self: self._details()[2], lambda self, v: self._set_detail(2, v))
    notes = property(lambda self: self._details()[3], lambda self, v: self._set_detail(3, v))

    def province_name(self, language: str) -> str:
        return provinces.name(self.province, language)


class DoNotCall(models.Model):
    """A number never to be called again, in any campaign. Matched by blind index."""

    blind_index = models.BinaryField(max_length=32, unique=True)  # HMAC-SHA256
    phone = EncryptedTextField(purpose="dnc.phone")
    reason = models.CharField(max_length=200, blank=True, default="")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "do-not-call entry"

    def __str__(self) -> str:
        return f"do-not-call {self.pk}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    DNC = "dnc", _("Do-not-call list")


class ImportJob(models.Model):
    """One import of one file: its progress, its counts and where to resume after a crash.

    Counts and ``resume_line`` are committed in the same transaction as each batch of rows,
    so a job that dies part-way resumes exactly after the last batch that landed.
    """

    kind = models.CharField(max_length=16, choices=ImportKind.choices, default=ImportKind.CONTACTS)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="imports",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField(default=0)
    upload_path = models.CharField(max_length=500, blank=True, default="")
    default_region = models.CharField(max_length=2, default="CN")
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED, db_index=True
    )
    error = models.TextField(blank=True, default="")  # English, for logs and the CLI
    error_template = models.TextField(blank=True, default="")  # translatable, see reader.py
    error_params = models.JSONField(default=dict, blank=True)
    encoding = models.CharField(max_length=16, blank=True, default="")
    rows_total = models.BigIntegerField(null=True, blank=True)
    resume_line = models.BigIntegerField(default=0)
    imported = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    skipped_dnc = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    runner = models.CharField(max_length=100, blank=True, default="")  # host:pid
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def rows_done(self) -> int:
        return self.imported + self.duplicates + self.rejected + self.skipped_dnc

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.FINISHED:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))

    @property
    def error_message(self) -> str:
        """The failure in the reader's language (falls back to English)."""
        if not self.error_template:
            return self.error
        try:
            return gettext(self.error_template) % self.error_params
        except (KeyError, ValueError, TypeError):
            return self.error

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    def counts(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "skipped_dnc": self.skipped_dnc,
        }


class ImportReject(models.Model):
    """A row that did not import: its line, the reason, and the row itself (sealed)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejects")
    line = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    row = EncryptedTextField(purpose="import.reject.row")

    class Meta:
        ordering = ["line"]
        constraints = [models.UniqueConstraint(fields=["job", "line"], name="import_reject_unique")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"
