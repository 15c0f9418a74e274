"""Background jobs whose own row is the queue (imports, exports): which process runs one,
whether that process died, and taking the next job with a conditional UPDATE that is safe
with several workers on SQLite and PostgreSQL (docs/decisions.md)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

STALE_AFTER = timedelta(seconds=60)
RUNNING = "running"


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_orphaned(job, now: datetime, *, stale_after: timedelta = STALE_AFTER) -> bool:
    """A running job whose process is gone: stale heartbeat, or a dead pid on this host."""
    if job.status != RUNNING:
        return False
    if job.heartbeat_at is None or now - job.heartbeat_at > stale_after:
        return True
    host, _, pid = job.runner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def claim_next(candidates, now: datetime):
    """Take the first of ``candidates`` (a queryset of queued and running jobs, in the order
    to run them) that is queued or orphaned; None when there is none. The UPDATE matches
    the status and heartbeat read, so two workers never take the same job."""
    model = candidates.model
    for job in candidates[:20]:
        if job.status == RUNNING and not is_orphaned(job, now):
            continue
        claimed = model.objects.filter(
            pk=job.pk, status=job.status, heartbeat_at=job.heartbeat_at
        ).update(
            status=RUNNING,
            heartbeat_at=now,
            runner=runner_id(),
            started_at=job.started_at or now,
        )
        if claimed:
            job.refresh_from_db()
            return job
    return None
