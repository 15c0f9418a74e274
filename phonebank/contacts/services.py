"""Writes for contacts: imports (CLI and background), the do-not-call list."""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import io
import itertools
import logging
import multiprocessing
import operator
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.audit.services import log_action
from phonebank.calling.models import CampaignZone, Target, TargetStatus
from phonebank.contacts import pipeline
from phonebank.contacts.models import (
    Contact,
    DoNotCall,
    ImportJob,
    ImportKind,
    ImportReject,
    ImportStatus,
)
from phonebank.contacts.reader import FileProblem, Table, open_table
from phonebank.lib import crypto, jobs, phones, sealedfiles
from phonebank.lib.errors import DomainError
from phonebank.lib.fields import keyring
from phonebank.lib.sealedfiles import sealed_opener
from phonebank.lib.sqlitebulk import bulk_pragmas

log = logging.getLogger(__name__)

BATCH_ROWS = 1000  # one write transaction; SQLite claims must not wait long behind it
INSERT_ROWS = 500  # rows per INSERT statement (SQLite allows 32,766 parameters)
POOL_MIN_ROWS = 5000  # below this, starting worker processes costs more than it saves
POOL_AHEAD = 3  # batches in flight per worker: one being parsed, two ready while we write
# WAL pages between checkpoints while importing (~256 MB; SQLite's default is ~4 MB): each
# batch rewrites ~1,000 scattered pages of the blind-index B-tree, and a longer WAL lets a
# checkpoint write each page once for many batches.
SQLITE_IMPORT_CHECKPOINT_PAGES = 64000
SQLITE_IMPORT_CACHE_KIB = 64 * 1024  # page cache while importing (SQLite's default is 2 MB)
STALE_AFTER = jobs.STALE_AFTER


# -- sources ---------------------------------------------------------------------------------


def uploads_dir() -> Path:
    path = Path(settings.PHONEBANK_HOME) / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def file_opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")


def _sha256(opener: Callable[[], BinaryIO]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with opener() as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# -- jobs ------------------------------------------------------------------------------------


_runner_id = jobs.runner_id
_is_orphaned = jobs.is_orphaned


def import_upload(
    *,
    campaign,
    actor,
    upload,
    kind: str = ImportKind.CONTACTS,
    mapping: dict[str, str] | None = None,
    default_region: str = "",
) -> ImportJob:
    """Seal an uploaded file on disk and queue its import for the background worker."""
    if upload.size > settings.PHONEBANK_UPLOAD_MAX_BYTES:
        raise DomainError(
            _("The file is larger than the limit of %(mb)d MB.")
            % {"mb": settings.PHONEBANK_UPLOAD_MAX_BYTES // (1024 * 1024)}
        )
    file_id = uuid.uuid4().hex
    path = uploads_dir() / f"{file_id}.sealed"
    digest = hashlib.sha256()

    class _Hashing(io.RawIOBase):
        def __init__(self, chunks):
            self._it = iter(chunks)

        def read(self, n=-1):
            chunk = next(self._it, b"")
            digest.update(chunk)
            return chunk

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        size = crypto.seal_stream(keyring(), _Hashing(upload.chunks(crypto.CHUNK)), out, file_id)
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            campaign=campaign if kind == ImportKind.CONTACTS else None,
            created_by=actor,
            filename=os.path.basename(upload.name)[:255],
            sha256=digest.hexdigest(),
            size=size,
            upload_path=path.name,
            default_region=default_region or (campaign.default_region if campaign else "CN"),
            mapping=mapping or {},
        )
        log_action(job, f"{kind}.import.queued", actor=actor, size=size)
    return job


def import_job_claim(now=None) -> ImportJob | None:
    """Take the oldest queued (or orphaned) background job; None when there is none."""
    candidates = (
        ImportJob.objects.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING])
        .exclude(upload_path="")
        .order_by("id")
    )
    return jobs.claim_next(candidates, now or timezone.now())


def import_job_run(
    job: ImportJob, *, progress: Callable[[ImportJob], None] | None = None
) -> ImportJob:
    """Run a background job to the end from its sealed upload, then delete the upload."""
    path = uploads_dir() / job.upload_path
    opener = sealed_opener(path, Path(job.upload_path).stem)
    try:
        table = open_table(opener, job.mapping)
    except (FileProblem, crypto.DecryptionError) as exc:
        return _fail(job, exc)
    _run(job, table, progress=progress)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return job


def contacts_import_file(
    *,
    path: Path,
    campaign,
    actor,
    mapping: dict[str, str] | None = None,
    default_region: str = "",
    progress: Callable[[ImportJob], None] | None = None,
    on_start: Callable[[ImportJob], None] | None = None,
    kind: str = ImportKind.CONTACTS,
) -> ImportJob:
    """Import a local file now (the CLI). Re-running after a crash resumes the same job.

    Raises FileProblem, before writing anything, when the file as a whole cannot be imported.
    """
    opener = file_opener(path)
    table = open_table(opener, mapping)
    sha, size = _sha256(opener)
    now = timezone.now()
    with transaction.atomic():
        job = None
        for candidate in ImportJob.objects.filter(
            sha256=sha,
            campaign=campaign,
            kind=kind,
            status=ImportStatus.RUNNING,
            upload_path="",
        ):
            if _is_orphaned(candidate, now):
                job = candidate
                log_action(job, f"{kind}.import.resumed", actor=actor, line=job.resume_line)
                break
        if job is None:
            job = ImportJob.objects.create(
                kind=kind,
                campaign=campaign,
                created_by=actor,
                filename=path.name[:255],
                sha256=sha,
                size=size,
                mapping=mapping or {},
                default_region=default_region or (campaign.default_region if campaign else "CN"),
                status=ImportStatus.RUNNING,
                started_at=now,
            )
            log_action(job, f"{kind}.import.started", actor=actor, size=size)
        job.runner = _runner_id()
        job.heartbeat_at = now
        job.save(update_fields=["runner", "heartbeat_at"])
    if on_start:
        on_start(job)
    return _run(job, table, progress=progress)


def _fail(job: ImportJob, exc: Exception) -> ImportJob:
    with transaction.atomic():
        job.status = ImportStatus.FAILED
        job.error = str(exc)
        job.error_template = getattr(exc, "template", "")
        job.error_params = getattr(exc, "params", {})
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "error_template", "error_params", "finished_at"])
        log_action(job, f"{job.kind}.import.failed", actor=job.created_by, error=job.error)
    return job


def _batches(table: Table, after_line: int) -> Iterator[list[tuple[int, list[str]]]]:
    rows = table.rows()
    if after_line:  # resuming; otherwise no generator in between for every row
        rows = ((line, cells) for line, cells in rows if line > after_line)
    while batch := list(itertools.islice(rows, BATCH_ROWS)):
        yield batch


def _in_order(pool, work: Iterator[tuple], *, ahead: int) -> Iterator[list]:
    """``pool.imap(parse_batch, work)`` with at most ``ahead`` batches in flight.

    imap reads its input and collects results as fast as the workers go; when writing is
    the slower half, parsed batches pile up in this process (hundreds of MB for a million
    rows) and the workers take CPU the writer needs.
    """
    pending: collections.deque = collections.deque()
    for item in work:
        pending.append(pool.apply_async(pipeline.parse_batch, (item,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _import_cache():
    """A larger SQLite page cache and rarer checkpoints for the import, restored afterwards.

    Each batch inserts ~1,000 random keys into the contacts' blind-index B-tree; with the
    default 2 MB cache most of those leaf pages are read again from disk on every batch once
    the index outgrows it (about 100,000 contacts), and each checkpoint writes (and syncs)
    the pages the batches since the last one rewrote.
    """
    return bulk_pragmas(
        cache_kib=SQLITE_IMPORT_CACHE_KIB, checkpoint_pages=SQLITE_IMPORT_CHECKPOINT_PAGES
    )


def _run(job: ImportJob, table: Table, *, progress=None) -> ImportJob:
    job.encoding = table.encoding
    job.rows_total = table.rows_total
    job.save(update_fields=["encoding", "rows_total"])
    enrich = job.kind == ImportKind.CONTACTS
    work = (
        (batch, table.columns, job.default_region, enrich)
        for batch in _batches(table, job.resume_line)
    )
    # Even one parser process beside this one (the default on 2 cores) pays: each then has a
    # core, and this process, which bounds an import, only reads and writes.
    processes = settings.PHONEBANK_IMPORT_PROCESSES
    use_pool = (table.rows_total or 0) - job.resume_line >= POOL_MIN_ROWS
    pool = None
    try:
        if use_pool:
            ctx = multiprocessing.get_context("forkserver")
            pool = ctx.Pool(
                processes, initializer=pipeline.init_worker, initargs=(keyring().dumps(),)
            )
            results = _in_order(pool, work, ahead=processes * POOL_AHEAD)
        else:
            pipeline.init_worker(keyring().dumps())
            results = map(pipeline.parse_batch, work)
        with _import_cache():
            for parsed in results:
                _write_batch(job, parsed)
                if progress:
                    progress(job)
    except FileProblem as exc:
        # The file broke after its checks (a workbook whose XML is damaged part-way): the
        # rows read so far stay; the job fails, rather than resuming into the same error.
        return _fail(job, exc)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    with transaction.atomic():
        job.status = ImportStatus.FINISHED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        log_action(job, f"{job.kind}.import.finished", actor=job.created_by, **job.counts())
    if progress:
        progress(job)
    return job


# -- the write half ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _qmarks(sql: str) -> str:
    return sql.replace("%s", "?")


def _execute(cur, sql: str, params: list) -> None:
    """Run one of the import's statements (their only % are placeholders).

    On SQLite it goes straight to the sqlite3 cursor with ? placeholders: Django's wrapper
    rewrites %s with a regular expression on every call, which on statements of 500 rows
    cost ~2 µs per imported row.
    """
    if connection.vendor == "sqlite":
        sqlite3.Cursor.execute(cur.cursor, _qmarks(sql), params)
    else:
        cur.execute(sql, params)


def _placeholders(rows: int, cols: int) -> str:
    one = "(" + ",".join(["%s"] * cols) + ")"
    return ",".join([one] * rows)


def _chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _write_batch(job: ImportJob, parsed: list) -> None:
    """One transaction: new contacts, campaign links, rejects, counts and the resume point.

    ``parsed`` is what ``pipeline.parse_batch`` returns (plain tuples; Records and Rejects
    work too). Records are read by position, not turned back into named tuples: that cost
    ~1.3 µs per row in this process, which is the one that bounds an import.
    """
    records = [r for r in parsed if len(r) == _RECORD_LEN]
    rejects = [pipeline.Reject._make(r) for r in parsed if len(r) != _RECORD_LEN]
    seen: set[bytes] = set()
    unique: list[tuple] = []
    for r in records:
        if r[1] not in seen:  # the blind index
            seen.add(r[1])
            unique.append(r)
    dup_in_batch = len(records) - len(unique)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)  # once, not once per row
    with transaction.atomic(), connection.cursor() as cur:
        if job.kind == ImportKind.DNC:
            unique = [pipeline.Record._make(r) for r in unique]
            added = _insert_dnc(cur, unique, job, stamp)
            job.imported += added
            job.duplicates += len(unique) - added + dup_in_batch
            _close_targets_for(cur, [r.blind_index for r in unique])
        else:
            on_dnc = _on_dnc(cur, [r[1] for r in unique])
            fresh = [r for r in unique if r[1] not in on_dnc] if on_dnc else unique
            new = _insert_contacts(cur, fresh, stamp)
            _attach(cur, job.campaign_id, fresh, new, stamp)
            created = len(new)
            # Every row of a listed number counts as skipped, wherever the batches split.
            skipped = sum(1 for r in records if r[1] in on_dnc) if on_dnc else 0
            job.skipped_dnc += skipped
            job.imported += created
            job.duplicates += len(records) - skipped - created
        if rejects:
            table = ImportReject._meta.db_table
            for chunk in _chunks(rejects, INSERT_ROWS):
                _execute(
                    cur,
                    f"INSERT INTO {table} (job_id, line, reason, row) VALUES "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
                    f"{_placeholders(len(chunk), 4)} ON CONFLICT (job_id, line) DO NOTHING",
                    [v for r in chunk for v in (job.pk, r.line, r.reason, r.row)],
                )
            job.rejected += len(rejects)
        job.resume_line = parsed[-1][0]
        job.heartbeat_at = now
        # What job.save(update_fields=[...]) would write, without compiling an ORM update
        # for every batch (0.3 ms each, in the process that bounds an import).
        _execute(
            cur,
            f"UPDATE {ImportJob._meta.db_table} SET imported = %s, duplicates = %s, "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            "rejected = %s, skipped_dnc = %s, resume_line = %s, heartbeat_at = %s WHERE id = %s",
            [
                job.imported,
                job.duplicates,
                job.rejected,
                job.skipped_dnc,
                job.resume_line,
                stamp,
                job.pk,
            ],
        )


_RECORD_LEN = len(pipeline.Record._fields)
_ZONE = pipeline.Record._fields.index("timezone")


def _on_dnc(cur, indexes: list[bytes]) -> set[bytes]:
    if not indexes:
        return set()
    # An empty list (the usual case) answers for every number without binding 1,000 of them;
    # asked in the batch's transaction, so a number listed meanwhile is still seen.
    _execute(cur, f"SELECT 1 FROM {DoNotCall._meta.db_table} LIMIT 1", [])  # noqa: S608 - identifiers from model metadata  # nosec B608
    if cur.fetchone() is None:
        return set()
    _execute(
        cur,
        f"SELECT blind_index FROM {DoNotCall._meta.db_table} "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"WHERE blind_index IN ({','.join(['%s'] * len(indexes))})",
        indexes,
    )
    return {row[0] for row in cur.fetchall()}


# The columns a bulk insert of contacts writes, in the order of pipeline.Record after its
# line number, then created_at (the import and the large demo both write them).
CONTACT_INSERT_COLUMNS = (
    "blind_index",
    "phone",
    "details",
    "country",
    "province",
    "city_zh",
    "city_en",
    "timezone",
    "created_at",
)


def _insert_contacts(cur, records: list[tuple], now) -> dict[bytes, int]:
    """Insert the contacts not known yet; returns {blind index: id} of those created.

    In blind-index order: the keys are random, and SQLite inserts sorted ones into its
    unique index with fewer cache misses (2-4% of the writer's time at 1M rows).
    """
    created: dict[bytes, int] = {}
    table = Contact._meta.db_table
    for chunk in _chunks(sorted(records, key=operator.itemgetter(1)), INSERT_ROWS):
        _execute(
            cur,
            f"INSERT INTO {table} ({','.join(CONTACT_INSERT_COLUMNS)}) VALUES "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"{_placeholders(len(chunk), len(CONTACT_INSERT_COLUMNS))} "
            "ON CONFLICT (blind_index) DO NOTHING RETURNING blind_index, id",
            [v for r in chunk for v in (*r[1:], now)],
        )
        created.update(cur.fetchall())
    return created


def _attach(cur, campaign_id: int, records: list[tuple], created: dict[bytes, int], now) -> None:
    """Link the batch's contacts to the campaign: new ones by the ids their insert
    returned (in the file's order, the queue's), known ones looked up by blind index; and
    note the time zones they are in (``campaign_zones_note``)."""
    target, contact = Target._meta.db_table, Contact._meta.db_table
    ids = [created[r[1]] for r in records if r[1] in created]
    zones = {r[_ZONE] for r in records if r[1] in created}
    known = [r[1] for r in records if r[1] not in created]
    for chunk in _chunks(known, INSERT_ROWS):
        _execute(
            cur,
            f"SELECT id, timezone FROM {contact} "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"WHERE blind_index IN ({','.join(['%s'] * len(chunk))})",
            chunk,
        )
        for pk, zone in cur.fetchall():
            ids.append(pk)
            zones.add(zone)
    for chunk in _chunks(ids, INSERT_ROWS):
        _execute(
            cur,
            f"INSERT INTO {target} (campaign_id, contact_id, status, attempts, created_at) "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"VALUES {_placeholders(len(chunk), 5)} "
            "ON CONFLICT (campaign_id, contact_id) DO NOTHING",
            [v for i in chunk for v in (campaign_id, i, TargetStatus.OPEN, 0, now)],
        )
    if ids:
        campaign_zones_note(campaign_id, zones)


def campaign_zones_note(campaign_id: int, zones: Iterable[str]) -> None:
    """Note that contacts of the campaign are in these time zones (``CampaignZone``, which
    the claim reads instead of scanning the queue). Whatever adds targets calls it, in the
    same transaction or before: a zone noted early costs nothing, a target whose zone is
    not noted is never handed out."""
    zones = sorted(set(zones))
    if not zones:
        return
    table = CampaignZone._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (campaign_id, timezone) VALUES {_placeholders(len(zones), 2)} "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            "ON CONFLICT (campaign_id, timezone) DO NOTHING",
            [v for zone in zones for v in (campaign_id, zone)],
        )


def _insert_dnc(cur, records: list[pipeline.Record], job: ImportJob, now) -> int:
    added = 0
    table = DoNotCall._meta.db_table
    # The pipeline seals numbers for the contact column; each column binds its own purpose.
    ring, purpose = keyring(), DoNotCall._meta.get_field("phone").purpose
    records = [
        r._replace(
            phone=ring.encrypt(ring.decrypt(r.phone, pipeline.FIELD_PURPOSE["phone"]), purpose)
        )
        for r in records
    ]
    for chunk in _chunks(records, INSERT_ROWS):
        _execute(
            cur,
            f"INSERT INTO {table} (blind_index, phone, reason, added_by_id, created_at) "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"VALUES {_placeholders(len(chunk), 5)} ON CONFLICT (blind_index) DO NOTHING "
            "RETURNING id",
            [
                v
                for r in chunk
                for v in (r.blind_index, r.phone, f"import {job.pk}", job.created_by_id, now)
            ],
        )
        added += len(cur.fetchall())
    return added


def _close_targets_for(cur, indexes: list[bytes]) -> None:
    """Every campaign's targets for these numbers leave the queue for good."""
    if not indexes:
        return
    target, contact = Target._meta.db_table, Contact._meta.db_table
    for chunk in _chunks(indexes, INSERT_ROWS):
        _execute(
            cur,
            f"UPDATE {target} SET status = %s, lease_holder_id = NULL, "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"lease_expires_at = NULL WHERE contact_id IN (SELECT id FROM {contact} "
            f"WHERE blind_index IN ({','.join(['%s'] * len(chunk))}))",
            [TargetStatus.DNC, *chunk],
        )


# -- do-not-call ------------------------------------------------------------------------------


def _normalise_or_error(raw: str, region: str) -> phones.Normalised:
    result = phones.normalise(raw, region)
    if isinstance(result, phones.Invalid):
        raise DomainError(
            _("%(number)s is not a valid phone number: %(reason)s.")
            % {
                "number": phones.mask(str(raw)) if len(str(raw)) > 6 else raw,
                "reason": _(result.reason),
            }
        )
    return result


@transaction.atomic
def dnc_add(*, phone: str, actor, reason: str = "", region: str = "CN") -> tuple[DoNotCall, bool]:
    """Put a number on the do-not-call list for good; every campaign stops calling it."""
    number = _normalise_or_error(phone, region)
    index = keyring().blind_index(number.e164)
    entry, created = DoNotCall.objects.get_or_create(
        blind_index=index,
        defaults={"phone": number.e164, "reason": reason[:200], "added_by": actor},
    )
    # Rows another call holds locked are skipped (no deadlock between two campaigns' calls
    # recording do-not-call at once) and leases are left alone (the other caller's outcome
    # still records): the claim query excludes numbers on the list whatever their status,
    # and an outcome on a listed number leaves its target at "dnc".
    ids = list(
        Target.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(contact__blind_index=index)
        .exclude(status=TargetStatus.DNC)
        .values_list("pk", flat=True)
    )
    affected = Target.objects.filter(pk__in=ids).update(status=TargetStatus.DNC)
    if created:
        log_action(entry, "contacts.dnc.added", actor=actor, targets_closed=affected)
    return entry, created


@transaction.atomic
def dnc_remove(*, entry: DoNotCall, actor, reason: str = "") -> None:
    """Take a number off the list (a mistake corrected). Its targets stay closed: a
    coordinator re-imports the number to call it again."""
    log_action(entry, "contacts.dnc.removed", actor=actor, reason=reason[:200])
    entry.delete()


def dnc_find(phone: str, region: str = "CN") -> DoNotCall | None:
    number = _normalise_or_error(phone, region)
    return DoNotCall.objects.filter(blind_index=keyring().blind_index(number.e164)).first()


# -- key rotation -----------------------------------------------------------------------------

SEALED_FIELDS = (
    (Contact, ("phone", "details")),
    (DoNotCall, ("phone",)),
    (ImportReject, ("row",)),
)


def reseal_all(*, batch: int = 1000, progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every sealed value that is not under the current key; returns rows changed.

    Works on the stored tokens directly (never through the ORM's decrypting field) in
    short transactions, so it can run beside a live installation.
    """
    ring = keyring()
    current = ring.current + "$"
    changed = 0
    for model, fields in SEALED_FIELDS:
        purposes = [model._meta.get_field(f).purpose for f in fields]
        table, last = model._meta.db_table, 0
        while True:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(
                    f"SELECT id, {','.join(fields)} FROM {table} WHERE id > %s "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
                    "ORDER BY id LIMIT %s",
                    [last, batch],
                )
                rows = cur.fetchall()
                for pk, *tokens in rows:
                    fresh = [
                        ring.encrypt(ring.decrypt(t, p), p)
                        if t and not t.startswith(current)
                        else t
                        for t, p in zip(tokens, purposes, strict=True)
                    ]
                    if fresh != tokens:
                        cur.execute(
                            f"UPDATE {table} SET "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
                            f"{','.join(f'{f} = %s' for f in fields)} WHERE id = %s",
                            [*fresh, pk],
                        )
                        changed += 1
            if not rows:
                break
            last = rows[-1][0]
            if progress:
                progress(changed)
    return changed


def key_ids_in_use() -> set[str]:
    """Which data keys still seal some stored value (or a waiting upload)."""
    prefix = (
        "substr({f}, 1, instr({f}, '$') - 1)"
        if connection.vendor == "sqlite"
        else "split_part({f}, '$', 1)"
    )
    used: set[str] = set()
    with connection.cursor() as cur:
        for model, fields in SEALED_FIELDS:
            for f in fields:
                cur.execute(
                    f"SELECT DISTINCT {prefix.format(f=f)} FROM {model._meta.db_table} "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
                    f"WHERE {f} <> ''"
                )
                used.update(row[0] for row in cur.fetchall())
    for name in sealedfiles.FOLDERS:  # uploads waiting for the worker, exports for a download
        used |= sealedfiles.key_ids(sealedfiles.folder(name))
    return used
