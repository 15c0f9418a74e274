"""Exports of a campaign as CSV or XLSX, run by the background worker (docs/dashboards.md,
"Exports").

- Requested on the campaign's Exports page (``export_request``), audited with who asked and
  whether personal data is included (admins only).
- Written by ``phonebank worker`` (``export_job_claim``, ``export_job_run``) in batches of
  rows read by primary key, so memory stays flat at millions of calls; the file is sealed
  at rest as it is written (lib.sealedfiles) and its progress and heartbeat are kept on the
  job's row. A job whose worker died starts again from the first row.
- Downloaded only by whoever asked, until it expires (``export_open``, audited); the
  worker then deletes the file (``exports_expire``).

Every text cell that a spreadsheet could run as a formula is prefixed with an apostrophe
(lib.spreadsheets.defuse): masked numbers start with "+", so they read "'+86 138****5678".

The "declared calls" export counts calls whose outcome was declared per day, province and
caller, and reads nothing from the registry: the registry must not be linkable to calls.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from phonebank.audit.services import log_action
from phonebank.calling.models import CallAttempt, Outcome
from phonebank.dashboards.models import (
    DayStat,
    ExportFormat,
    ExportJob,
    ExportKind,
    ExportStatus,
)
from phonebank.dashboards.selectors import LISTENED, REACHED
from phonebank.lib import jobs, phones, provinces, sealedfiles
from phonebank.lib.errors import DomainError
from phonebank.lib.spreadsheets import CsvWriter, XlsxWriter

log = logging.getLogger(__name__)

EXPIRE_AFTER = timedelta(hours=24)
BATCH_ROWS = 5000  # rows read per statement: short reads, flat memory
HEARTBEAT_SECONDS = 1.0  # progress and heartbeat written at most this often
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def exports_dir() -> Path:
    return sealedfiles.folder("exports")


class Superseded(Exception):
    """Another worker took the job over (this one was thought dead): stop writing."""


# -- requests --------------------------------------------------------------------------------


@transaction.atomic
def export_request(
    *, campaign, actor, kind: str, format: str, personal: bool = False, language: str = "en"
) -> ExportJob:
    """Queue an export of a campaign for the worker. Personal data (full numbers, names,
    notes) only for an admin who asks for it, and only in the call attempts export."""
    if kind not in ExportKind.values or format not in ExportFormat.values:
        raise DomainError(_("Unknown export."))
    if personal and not actor.is_admin:
        raise DomainError(_("Only admins may export personal data."))
    personal = personal and kind == ExportKind.ATTEMPTS
    job = ExportJob.objects.create(
        campaign=campaign,
        requested_by=actor,
        kind=kind,
        format=format,
        personal=personal,
        language=(language or "en")[:10],
    )
    log_action(
        job,
        "dashboards.export.requested",
        actor=actor,
        campaign=campaign.slug,
        kind=kind,
        format=format,
        personal=personal,
    )
    return job


def export_job_claim(now: datetime | None = None) -> ExportJob | None:
    """Take the oldest queued export (or one whose worker died); None when there is none."""
    candidates = ExportJob.objects.filter(
        status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).order_by("id")
    return jobs.claim_next(candidates, now or timezone.now())


# -- what goes in each export ---------------------------------------------------------------


@dataclass
class Source:
    header: list[str]
    total: int  # units of progress (rows, or calls scanned)
    batches: Iterator[tuple[list[list], int]]  # (rows to write, units of progress they cover)


def _outcome_labels() -> dict[str, str]:
    return {code: str(label) for code, label in Outcome.choices}


def _attempts(job: ExportJob) -> Source:
    """One row per call, oldest first, up to the last call when the export started."""
    campaign, language, personal = job.campaign, job.language, job.personal
    calls = CallAttempt.objects.filter(campaign=campaign)
    upto = calls.aggregate(m=Max("pk"))["m"] or 0
    total = calls.filter(pk__lte=upto).count()
    header = [
        _("Ended (UTC)"),
        _("Contact's local time"),
        _("Duration (seconds)"),
        _("Caller"),
        _("Outcome"),
        _("Outcome code"),
        _("Province"),
        _("City"),
        _("Number (masked)"),
        _("Objections"),
    ]
    fields = [
        "pk",
        "started_at",
        "ended_at",
        "caller__username",
        "outcome",
        "target__contact__province",
        "target__contact__city_zh" if language.startswith("zh") else "target__contact__city_en",
        "target__contact__timezone",
        "target__contact__phone",
    ]
    if personal:
        header += [_("Number"), _("Name"), _("Notes")]
        fields += ["target__contact__details", "notes"]
    labels = _outcome_labels()
    playbook = dict(campaign.playbook.values_list("pk", "objection"))
    through = CallAttempt.objections.through.objects
    default_zone = campaign.default_timezone or "UTC"
    zones: dict[str, ZoneInfo] = {}
    names: dict[str, str] = {}

    def batches() -> Iterator[tuple[list[list], int]]:
        last = 0
        while True:
            rows = list(
                calls.filter(pk__gt=last, pk__lte=upto)
                .order_by("pk")
                .values_list(*fields)[:BATCH_ROWS]
            )
            if not rows:
                return
            first_id, last = rows[0][0], rows[-1][0]
            ticked: dict[int, list[str]] = defaultdict(list)
            for attempt_id, entry_id in (
                through.filter(callattempt_id__gte=first_id, callattempt_id__lte=last)
                .order_by("callattempt_id", "playbookentry_id")
                .values_list("callattempt_id", "playbookentry_id")
            ):
                if entry_id in playbook:
                    ticked[attempt_id].append(playbook[entry_id])
            out = []
            for pk, started, ended, caller, outcome, province, city, zone, phone, *extra in rows:
                zone = zone or default_zone
                tz = zones.get(zone) or zones.setdefault(zone, ZoneInfo(zone))
                if province not in names:
                    names[province] = provinces.name(province, language) if province else ""
                row = [
                    ended.astimezone(UTC).isoformat(timespec="seconds"),
                    ended.astimezone(tz).isoformat(timespec="seconds"),
                    max(0, int((ended - started).total_seconds())),
                    caller or "",
                    labels.get(outcome, outcome),
                    outcome,
                    names[province],
                    city,
                    phones.mask_e164(phone) if phone else "",
                    "; ".join(ticked.get(pk, ())),
                ]
                if personal:
                    details, notes = extra
                    name = _details_name(details)
                    row += [phone, name, notes]
                out.append(row)
            yield out, len(out)

    return Source(header, total, batches())


def _details_name(details: str) -> str:
    """The name from a contact's sealed details (contacts.pipeline.details_json)."""
    return json.loads(details)[0] if details else ""


def _outcomes(job: ExportJob) -> Source:
    """One row per day (the contacts' local days) from the DayStat rollup."""
    labels = _outcome_labels()
    codes = list(Outcome.values)
    header = [
        _("Day"),
        _("Calls"),
        _("Reached"),
        _("Listened"),
        _("Declared"),
        *(labels[c] for c in codes),
    ]
    stats = DayStat.objects.filter(campaign=job.campaign)
    total = stats.values("day").distinct().count()

    def row(day, counts: Counter) -> list:
        return [
            day.isoformat(),
            sum(counts.values()),
            sum(n for o, n in counts.items() if o in REACHED),
            sum(n for o, n in counts.items() if o in LISTENED),
            counts[Outcome.DECLARED],
            *(counts[c] for c in codes),
        ]

    def batches() -> Iterator[tuple[list[list], int]]:
        out, day, counts = [], None, Counter()
        for d, outcome, n in (
            stats.order_by("day", "outcome")
            .values_list("day", "outcome", "calls")
            .iterator(chunk_size=BATCH_ROWS)
        ):
            if d != day and day is not None:
                out.append(row(day, counts))
                counts = Counter()
                if len(out) >= BATCH_ROWS:
                    yield out, len(out)
                    out = []
            day = d
            counts[outcome] += n
        if day is not None:
            out.append(row(day, counts))
        if out:
            yield out, len(out)

    return Source(header, total, batches())


def _declared(job: ExportJob) -> Source:
    """Calls whose outcome was declared, counted per local day, province and caller, in that
    order. Nothing from the registry (no alias, no organisation, no receipt), and no time
    of day or call order: the registry must not be linkable to calls."""
    campaign, language = job.campaign, job.language
    calls = CallAttempt.objects.filter(campaign=campaign, outcome=Outcome.DECLARED)
    upto = calls.aggregate(m=Max("pk"))["m"] or 0
    total = calls.filter(pk__lte=upto).count()
    header = [_("Day"), _("Province"), _("Caller"), _("Declared calls")]
    default_zone = campaign.default_timezone or "UTC"

    def batches() -> Iterator[tuple[list[list], int]]:
        counts: Counter = Counter()  # as many keys as days x provinces x callers, not calls
        last = 0
        while True:
            rows = list(
                calls.filter(pk__gt=last, pk__lte=upto)
                .order_by("pk")
                .values_list("pk", "ended_at", "target__contact__timezone",
                             "target__contact__province", "caller__username")[:BATCH_ROWS]
            )  # fmt: skip
            if not rows:
                break
            last = rows[-1][0]
            for _pk, ended, zone, province, caller in rows:
                day = ended.astimezone(ZoneInfo(zone or default_zone)).date()
                counts[(day, province or "", caller or "")] += 1
            yield [], len(rows)
        out = [
            [day.isoformat(), provinces.name(p, language) if p else "", caller, n]
            for (day, p, caller), n in sorted(counts.items())
        ]
        for start in range(0, len(out), BATCH_ROWS):
            yield out[start : start + BATCH_ROWS], 0

    return Source(header, total, batches())


SOURCES = {
    ExportKind.ATTEMPTS: _attempts,
    ExportKind.OUTCOMES: _outcomes,
    ExportKind.DECLARATIONS: _declared,
}


def file_name(job: ExportJob) -> str:
    stamp = (job.finished_at or job.created_at).strftime("%Y%m%d-%H%M")
    return f"{job.campaign.slug}-{job.kind}-{stamp}.{job.format}"


# -- running ---------------------------------------------------------------------------------


def _discard(job: ExportJob) -> None:
    if job.path:
        with contextlib.suppress(FileNotFoundError):
            (exports_dir() / job.path).unlink()


def export_job_run(job: ExportJob) -> ExportJob:
    """Write a claimed export's file, sealed, from its first row, and mark the job finished
    (expiring after EXPIRE_AFTER) or failed. A job taken over from a dead worker starts
    again: its partial file is deleted first."""
    if job.path:
        _discard(job)
        with transaction.atomic():
            log_action(job, "dashboards.export.restarted", actor=None, rows_done=job.rows_done)
    file_id = uuid.uuid4().hex
    job.path, job.rows_done, job.rows_total = f"{file_id}.sealed", 0, None
    job.save(update_fields=["path", "rows_done", "rows_total"])
    path = exports_dir() / job.path
    written = 0
    try:
        with (
            translation.override(job.language),
            sealedfiles.sealed_writer(path, file_id) as sealed,
        ):
            source = SOURCES[job.kind](job)
            job.rows_total = source.total
            _beat(job)
            writer_class = CsvWriter if job.format == ExportFormat.CSV else XlsxWriter
            writer = writer_class(sealed, source.header, job.campaign.slug)
            beat_at = time.monotonic()
            for rows, done in source.batches:
                writer.writerows(rows)
                written += len(rows)
                job.rows_done += done
                if time.monotonic() - beat_at >= HEARTBEAT_SECONDS:
                    _beat(job)
                    beat_at = time.monotonic()
            writer.close()
            job.size = sealed.finish()
    except Superseded:
        return job
    except Exception as exc:
        # Only the type: a message could quote a row.
        log.error("export %s stopped by %s", job.pk, type(exc).__name__)
        with transaction.atomic():
            job.status, job.error, job.path = ExportStatus.FAILED, type(exc).__name__, ""
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "path", "finished_at"])
            log_action(job, "dashboards.export.failed", actor=job.requested_by, error=job.error)
        return job
    now = timezone.now()
    with transaction.atomic():
        claimed = ExportJob.objects.filter(
            pk=job.pk, status=ExportStatus.RUNNING, runner=job.runner
        ).update(
            status=ExportStatus.FINISHED,
            rows_done=written,  # the file's rows (a declared-calls export scanned calls)
            rows_total=job.rows_total,
            size=job.size,
            heartbeat_at=now,
            finished_at=now,
            expires_at=now + EXPIRE_AFTER,
        )
        if not claimed:  # taken over while the last rows were written
            path.unlink(missing_ok=True)
            return job
        job.refresh_from_db()
        log_action(
            job,
            "dashboards.export.finished",
            actor=job.requested_by,
            campaign=job.campaign.slug,
            kind=job.kind,
            format=job.format,
            personal=job.personal,
            rows=written,
            size=job.size,
        )
    return job


def _beat(job: ExportJob) -> None:
    """Progress and heartbeat, unless another worker has taken the job over."""
    job.heartbeat_at = timezone.now()
    alive = ExportJob.objects.filter(
        pk=job.pk, status=ExportStatus.RUNNING, runner=job.runner
    ).update(rows_done=job.rows_done, rows_total=job.rows_total, heartbeat_at=job.heartbeat_at)
    if not alive:
        raise Superseded


# -- downloads and expiry --------------------------------------------------------------------


def export_open(*, job: ExportJob, actor) -> BinaryIO:
    """The plaintext of a finished export as a stream (decrypted chunk by chunk), its
    download audited. Views check first that ``actor`` asked for it and it has not expired."""
    stream = sealedfiles.sealed_opener(exports_dir() / job.path, Path(job.path).stem)()
    with transaction.atomic():
        log_action(
            job,
            "dashboards.export.downloaded",
            actor=actor,
            campaign=job.campaign.slug,
            kind=job.kind,
            personal=job.personal,
            rows=job.rows_done,
        )
    return stream


def exports_expire(now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry and mark the jobs expired, and any
    file in the exports folder that no job refers to (a campaign deleted meanwhile);
    returns how many jobs expired."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(status=ExportStatus.FINISHED, expires_at__lte=now):
        _discard(job)
        with transaction.atomic():
            done = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.FINISHED).update(
                status=ExportStatus.EXPIRED, path=""
            )
            if done:
                log_action(job, "dashboards.export.expired", actor=None)
                expired += done
    known = set(ExportJob.objects.exclude(path="").values_list("path", flat=True))
    cutoff = time.time() - EXPIRE_AFTER.total_seconds()
    for path in exports_dir().glob("*.sealed"):
        with contextlib.suppress(FileNotFoundError):
            if path.name not in known and path.stat().st_mtime < cutoff:
                path.unlink()
    return expired
