from django.db import models
from django.utils.translation import gettext_lazy as _

from phonebank.lib.randomid import RandomIdField


class Source(models.TextChoices):
    PHONE = "phone", _("By phone")
    WEB = "web", _("Online")


class DeclarationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Declaration(models.Model):
    """A public, pseudonymous declaration. Holds no phone number, name, caller, campaign or
    time of day, and no reference to a call.

    Its key (`id`) is random, not a sequence, and the only date is the day, so neither orders
    it against the calls of that day; once sealed, its row is rewritten in the batch's
    shuffled order (`services.registry_publish`). The call it came from is still recorded as
    an attempt with outcome "declared", and until its batch is sealed a PostgreSQL reader can
    pair the two by transaction id (`xmin`) or heap position: docs/registry.md, "What links a
    declaration to a call", says what remains and why.

    `receipt_hash` is the commitment to the receipt code that the log publishes; the code
    itself is shown once and never stored. `log_index` is set when a batch is sealed.
    """

    id = RandomIdField()
    alias = models.CharField(max_length=64)
    province = models.CharField(max_length=2, blank=True, default="")
    declared_on = models.DateField()
    source = models.CharField(max_length=8, choices=Source.choices)
    receipt_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=16, choices=DeclarationStatus.choices, default=DeclarationStatus.ACTIVE
    )
    log_index = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            # the public order: day, then place in the log (shuffled within each batch)
            models.Index(fields=["declared_on", "log_index"], name="registry_decl_day_log_idx"),
            models.Index(fields=["alias"]),
            # the admins' overview counts by source and status (dashboards.selectors.overview):
            # read from this index alone, not the whole table (SQLite at 100,000: ≈ 100 ms)
            models.Index(fields=["source", "status"], name="registry_decl_source_idx"),
        ]

    def __str__(self) -> str:
        return self.alias


class DeclarationOrganisation(models.Model):
    """One organisation a declaration leaves (a row each, so counts are plain GROUP BYs).
    Random key, like its declaration's."""

    id = RandomIdField()
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


class Withdrawal(models.Model):
    """A declarant took their declaration back: a new log entry, the declaration stays.
    Random key, so withdrawals cannot be ordered against the requests that made them."""

    id = RandomIdField()
    declaration = models.OneToOneField(
        Declaration, on_delete=models.PROTECT, related_name="withdrawal"
    )
    withdrawn_on = models.DateField()
    log_index = models.BigIntegerField(null=True, blank=True, unique=True)

    def __str__(self) -> str:
        return f"withdrawal of {self.declaration_id}"


class Throttle(models.Model):
    """A fixed-window counter for one (purpose, keyed hash of an address). Rows expire with
    their window and are deleted by the next check that sees them; no address is stored."""

    key = models.CharField(max_length=64, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.key[:8]


class SpentChallenge(models.Model):
    """A solved proof-of-work challenge, kept until it expires so it cannot be replayed."""

    signature = models.CharField(max_length=128, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.signature[:8]
