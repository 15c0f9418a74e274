from __future__ import annotations

from typing import Any

from django.db import models

from phonebank.audit.models import LogEntry
from phonebank.lib import rawsql


def _entry(action: str, actor, data: dict, object_type: str = "", object_id: str = "") -> LogEntry:
    return LogEntry(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data,
    )


def log_action(obj: models.Model | None, action: str, *, actor=None, **data: Any) -> LogEntry:
    """Record ``action`` on ``obj``. Call inside the transaction of the change it records."""
    entry = (
        _entry(action, actor, data)
        if obj is None
        else _entry(action, actor, data, obj._meta.label_lower, str(obj.pk))
    )
    return rawsql.insert(entry)  # every audited write pays for it: no query compiling


def log_action_from(
    model: type[models.Model], source: str, action: str, *, actor=None, **data: Any
) -> tuple[str, list]:
    """``log_action`` on the row of ``model`` that ``source`` returns (its ``id``), as a
    statement and parameters, to run inside the very statement that writes that row (a
    data-modifying WITH on PostgreSQL): no row there, no entry."""
    entry = _entry(action, actor, data, model._meta.label_lower)
    return rawsql.insert_from(entry, source, object_id=f"{source}.id::text")
