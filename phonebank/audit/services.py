from __future__ import annotations

from typing import Any

from django.db import models

from phonebank.audit.models import LogEntry
from phonebank.lib import rawsql


def log_action(obj: models.Model | None, action: str, *, actor=None, **data: Any) -> LogEntry:
    """Record ``action`` on ``obj``. Call inside the transaction of the change it records."""
    entry = LogEntry(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data,
    )
    return rawsql.insert(entry)  # every audited write pays for it: no query compiling
