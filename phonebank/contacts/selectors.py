"""Reads for contacts and imports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db.models import Count, QuerySet
from django.utils.translation import gettext

from phonebank.calling.models import Target, TargetStatus
from phonebank.contacts.models import DoNotCall, ImportJob, ImportKind, ImportReject
from phonebank.lib import phones, provinces
from phonebank.lib.spreadsheets import defuse


def target_list(campaign, *, province: str = "", status: str = "") -> QuerySet[Target]:
    """A campaign's contacts with their queue status, newest first, optionally filtered."""
    qs = Target.objects.filter(campaign=campaign).select_related("contact").order_by("-id")
    if province:
        qs = qs.filter(contact__province=province)
    if status in TargetStatus.values:
        qs = qs.filter(status=status)
    return qs


def target_counts(campaign) -> dict[str, int]:
    rows = Target.objects.filter(campaign=campaign).values("status").annotate(n=Count("id"))
    counts = {s: 0 for s in TargetStatus.values}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def province_counts(campaign, language: str) -> list[tuple[str, str, int]]:
    """(code, name in the language, contacts) for each province present, largest first."""
    rows = (
        Target.objects.filter(campaign=campaign)
        .values("contact__province")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return [
        (r["contact__province"], provinces.name(r["contact__province"], language) or "?", r["n"])
        for r in rows
    ]


def import_list(*, campaign=None, kind: str = ImportKind.CONTACTS) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.filter(kind=kind)
    return qs.filter(campaign=campaign) if campaign is not None else qs


def masked(e164: str) -> str:
    return phones.mask(e164)


def rejects_csv(job: ImportJob) -> Iterator[str]:
    """The rejects of a job as CSV lines: line, reason, then the row's cells as read."""
    buf = io.StringIO()
    writer = csv.writer(buf)

    def flush() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    writer.writerow(["line", "reason", "row"])
    yield flush()
    for reject in ImportReject.objects.filter(job=job).iterator(chunk_size=1000):
        cells = json.loads(reject.row) if reject.row else []
        writer.writerow([reject.line, gettext(reject.reason), *(_defuse(c) for c in cells)])
        yield flush()


_defuse = defuse  # spreadsheets run a cell that starts with = + - @ as a formula


def dnc_count() -> int:
    return DoNotCall.objects.count()


def dnc_recent(limit: int = 20) -> QuerySet[DoNotCall]:
    return DoNotCall.objects.order_by("-id")[:limit]
