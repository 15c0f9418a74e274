from django.conf import settings
from django.db import models


class LogEntry(models.Model):
    """One audited action. Holds ids and counts, never phone numbers or names.

    ``action`` is indexed in Meta.indexes rather than with db_index: on PostgreSQL,
    db_index on a CharField adds a second, ``LIKE 'prefix%'`` index that no query here
    uses, one more B-tree for every entry written (every outcome writes one).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The name db_index gave it, so that the index itself stays as it is.
        indexes = [models.Index(fields=["action"], name="audit_logentry_action_f498be5d")]
        verbose_name_plural = "log entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"
