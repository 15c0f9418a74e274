"""Exports: what each holds (numbers masked unless an admin asks), formula injection
neutralised in CSV and XLSX, sealed at rest, only for whoever asked and until it expires,
run by the worker with progress, audited, and streamed with bounded memory."""

from __future__ import annotations

import csv
import io
import signal
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.audit.models import LogEntry
from phonebank.calling import services as calling
from phonebank.calling.models import CallAttempt, Outcome, Target
from phonebank.contacts.models import Contact
from phonebank.dashboards import exports
from phonebank.dashboards.models import ExportJob, ExportStatus
from phonebank.lib import crypto, jobs, phones, rawsql, sealedfiles, spreadsheets
from phonebank.lib.errors import DomainError
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD

MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday
NUMBER = "+8613700000001"
MASKED = "+86 137****0001"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _contact(n: int, province: str = "BJ") -> Contact:
    e164 = f"+86137{n:08d}"
    return Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name=f"王{n}",
        country="CN",
        province=province,
        city_en="Beijing",
        city_zh="北京",
        timezone="Asia/Shanghai",
    )


def _call(campaign, caller, outcome, now, objections=(), notes=""):
    claimed = calling.target_claim(campaign=campaign, caller=caller, now=now)
    extra = {}
    if outcome == Outcome.DECLARED:
        extra["declaration"] = {"alias": "明天会更好", "organisations": ["party"], "consent": True}
    attempt, _receipt = calling.outcome_record(
        target=claimed.target,
        caller=caller,
        outcome=outcome,
        objections=list(objections),
        notes=notes,
        now=now + timedelta(minutes=3),
        **extra,
    )
    return attempt


@pytest.fixture
def history(campaign, caller):
    """Three calls: one with a formula-like objection and notes, one declared."""
    for n in (1, 2, 3):
        Target.objects.create(campaign=campaign, contact=_contact(n, "BJ" if n < 3 else "GD"))
    evil = campaign.playbook.create(objection='=HYPERLINK("http://x")', response="…", order=1)
    _call(campaign, caller, Outcome.LISTENED, MORNING, [evil.pk], notes="@SUM(1+1) 他说明天")
    _call(campaign, caller, Outcome.DECLARED, MORNING + timedelta(minutes=10))
    _call(campaign, caller, Outcome.NO_ANSWER, MORNING + timedelta(hours=30))
    return evil


def _run(job: ExportJob) -> ExportJob:
    claimed = exports.export_job_claim()
    assert claimed is not None and claimed.pk == job.pk
    return exports.export_job_run(claimed)


def _plaintext(job: ExportJob) -> bytes:
    path = exports.exports_dir() / job.path
    with sealedfiles.sealed_opener(path, path.stem)() as fh:
        return fh.read()


def _csv_rows(job: ExportJob) -> list[list[str]]:
    data = _plaintext(job)
    assert data.startswith(spreadsheets.BOM)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))


def _xlsx_sheets(data: bytes) -> list[list[list]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [[list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets]
    finally:
        book.close()


def _export(campaign, actor, kind="attempts", format="csv", personal=False) -> ExportJob:
    job = exports.export_request(
        campaign=campaign, actor=actor, kind=kind, format=format, personal=personal
    )
    return _run(job)


# -- what the files hold ---------------------------------------------------------------------


def test_numbers_are_masked_and_formulas_defused_in_csv(campaign, coordinator, history):
    job = _export(campaign, coordinator)
    assert job.status == ExportStatus.FINISHED and job.rows_done == 3
    header, *rows = _csv_rows(job)
    assert header[:4] == ["Ended (UTC)", "Contact's local time", "Duration (seconds)", "Caller"]
    assert len(header) == 10  # no full number, name or notes
    first = dict(zip(header, rows[0], strict=True))
    assert first["Number (masked)"] == "'" + MASKED  # starts with "+": defused
    assert first["Objections"] == '\'=HYPERLINK("http://x")'
    assert first["Ended (UTC)"] == "2026-11-25T02:03:00+00:00"
    assert first["Contact's local time"] == "2026-11-25T10:03:00+08:00"
    assert first["Outcome code"] == "listened" and first["Province"] == "Beijing"
    assert first["Caller"] == "cal" and first["City"] == "Beijing"
    text = _plaintext(job).decode("utf-8-sig")
    assert NUMBER not in text and "王1" not in text and "他说明天" not in text
    for row in rows:
        for cell in row:
            assert cell[:1] not in spreadsheets.DANGEROUS


def test_full_numbers_names_and_notes_only_for_an_admin_who_asks(campaign, admin, history):
    plain = _export(campaign, admin)
    assert NUMBER not in _plaintext(plain).decode("utf-8-sig")
    job = _export(campaign, admin, personal=True)
    header, *rows = _csv_rows(job)
    first = dict(zip(header, rows[0], strict=True))
    assert first["Number"] == "'" + NUMBER
    assert first["Name"] == "王1"
    assert first["Notes"] == "'@SUM(1+1) 他说明天"


def test_a_coordinator_asking_for_personal_data_is_refused(client, campaign, coordinator, history):
    with pytest.raises(DomainError):
        exports.export_request(
            campaign=campaign, actor=coordinator, kind="attempts", format="csv", personal=True
        )
    client.force_login(coordinator)
    url = reverse("dashboards:exports", args=[campaign.slug])
    assert "personal" not in client.get(url).content.decode()
    client.post(url, {"kind": "attempts", "format": "csv", "personal": "on"})
    assert ExportJob.objects.get().personal is False


def test_xlsx_cells_are_defused_and_numbers_masked(campaign, admin, history):
    job = _export(campaign, admin, format="xlsx", personal=True)
    (sheet,) = _xlsx_sheets(_plaintext(job))
    header, first = sheet[0], dict(zip(sheet[0], sheet[1], strict=True))
    assert header[0] == "Ended (UTC)" and len(sheet) == 4
    assert first["Number (masked)"] == "'" + MASKED
    assert first["Objections"] == '\'=HYPERLINK("http://x")'
    assert first["Number"] == "'" + NUMBER and first["Notes"] == "'@SUM(1+1) 他说明天"
    assert first["Duration (seconds)"] == 180  # numbers stay numbers
    for row in sheet[1:]:
        for cell in row:
            assert not (isinstance(cell, str) and cell[:1] in spreadsheets.DANGEROUS)


def test_xlsx_starts_a_new_sheet_every_so_many_rows(monkeypatch):
    monkeypatch.setattr(spreadsheets, "SHEET_ROWS", 2)
    out = io.BytesIO()
    writer = spreadsheets.XlsxWriter(out, ["n", "text"], "calls")
    writer.writerows([[i, f"-{i}"] for i in range(5)])
    writer.close()
    sheets = _xlsx_sheets(out.getvalue())
    assert [len(s) for s in sheets] == [3, 3, 2]  # the header again on each sheet
    assert sheets[2] == [["n", "text"], [4, "'-4"]]
    assert openpyxl.load_workbook(io.BytesIO(out.getvalue())).sheetnames == [
        "calls",
        "calls 2",
        "calls 3",
    ]


def test_outcomes_per_day_come_from_the_rollups(campaign, coordinator, history):
    header, *rows = _csv_rows(_export(campaign, coordinator, kind="outcomes"))
    assert header[:5] == ["Day", "Calls", "Reached", "Listened", "Declared"]
    assert [r[:5] for r in rows] == [
        ["2026-11-25", "2", "2", "2", "1"],
        ["2026-11-26", "1", "0", "0", "0"],
    ]
    no_answer = header.index("No answer")
    assert rows[1][no_answer] == "1"


def test_declared_calls_hold_nothing_from_the_registry(campaign, admin, caller, history):
    job = _export(campaign, admin, kind="declarations", personal=True)
    assert job.personal is False  # personal data exists only in the call attempts export
    rows = _csv_rows(job)
    assert rows == [
        ["Day", "Province", "Caller", "Declared calls"],
        ["2026-11-25", "Beijing", "cal", "1"],
    ]
    text = _plaintext(job).decode("utf-8-sig")
    assert "明天会更好" not in text and "party" not in text.lower()


def test_an_export_in_chinese(campaign, coordinator, history):
    job = exports.export_request(
        campaign=campaign, actor=coordinator, kind="attempts", format="csv", language="zh-hans"
    )
    header, first, *_ = _csv_rows(_run(job))
    assert header[0] != "Ended (UTC)" and "北京" in first


# -- who may ----------------------------------------------------------------------------------


def test_only_the_requester_downloads_until_it_expires(
    client, campaign, coordinator, admin, history
):
    job = _export(campaign, coordinator)
    url = reverse("dashboards:export_download", args=[campaign.slug, job.pk])
    other = user_create(
        username="corinne", password=PASSWORD, role=Role.COORDINATOR, campaign=campaign
    )
    for someone in (other, admin):
        client.force_login(someone)
        assert client.get(url).status_code == 404
    client.force_login(coordinator)
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == _plaintext(job) and int(response["Content-Length"]) == len(body)
    assert response["Cache-Control"] == "no-store"
    assert 'attachment; filename="spring-attempts-' in response["Content-Disposition"]
    ExportJob.objects.filter(pk=job.pk).update(expires_at=MORNING)  # a day has gone by
    assert client.get(url).status_code == 404
    assert exports.exports_expire() == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and job.path == ""
    assert not list(exports.exports_dir().glob("*.sealed"))


@pytest.mark.parametrize("persona", ["caller", "other_campaign_coordinator"])
def test_callers_and_other_campaigns_coordinators_are_refused(
    client, request, campaign, coordinator, history, persona
):
    job = _export(campaign, coordinator)
    client.force_login(request.getfixturevalue(persona))
    status = 403 if persona == "caller" else 404
    assert client.get(reverse("dashboards:exports", args=[campaign.slug])).status_code == status
    assert (
        client.post(
            reverse("dashboards:exports", args=[campaign.slug]),
            {"kind": "attempts", "format": "csv"},
        ).status_code
        == status
    )
    url = reverse("dashboards:export_download", args=[campaign.slug, job.pk])
    assert client.get(url).status_code == status
    assert ExportJob.objects.count() == 1


def test_every_export_is_audited(client, campaign, admin, history):
    client.force_login(admin)
    url = reverse("dashboards:exports", args=[campaign.slug])
    response = client.post(url, {"kind": "attempts", "format": "xlsx", "personal": "on"})
    assert response.status_code == 302
    job = _run(ExportJob.objects.get())
    b"".join(client.get(reverse("dashboards:export_download", args=[campaign.slug, job.pk])))
    entries = {
        e.action: e
        for e in LogEntry.objects.filter(object_type="dashboards.exportjob", object_id=str(job.pk))
    }
    assert set(entries) == {
        "dashboards.export.requested",
        "dashboards.export.finished",
        "dashboards.export.downloaded",
    }
    for entry in entries.values():
        assert entry.actor == admin and entry.data["personal"] is True
    assert entries["dashboards.export.finished"].data["rows"] == 3
    assert entries["dashboards.export.requested"].data["format"] == "xlsx"


# -- as a background job ---------------------------------------------------------------------


def test_the_page_shows_progress_and_polls_while_a_job_runs(
    client, campaign, coordinator, history, monkeypatch
):
    client.force_login(coordinator)
    url = reverse("dashboards:exports", args=[campaign.slug])
    client.post(url, {"kind": "outcomes", "format": "csv"})
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, rows_total=200, rows_done=50
    )
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="exports"') and "<html" not in fragment
    assert 'hx-trigger="every 1s"' in fragment and 'value="25"' in fragment
    assert "50 of 200" in fragment
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.QUEUED, heartbeat_at=None)
    from phonebank.contacts.management.commands import worker

    # Inside the test's transaction close_old_connections would close the connection (its
    # autocommit differs from the settings'), and the worker installs signal handlers.
    monkeypatch.setattr(worker, "close_old_connections", lambda: None)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        out = io.StringIO()
        call_command("worker", "--once", stdout=out)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert f"export {job.pk}: finished" in out.getvalue()
    job.refresh_from_db()
    assert job.status == ExportStatus.FINISHED
    page = client.get(url).content.decode()
    assert "hx-trigger" not in page
    assert reverse("dashboards:export_download", args=[campaign.slug, job.pk]) in page


def test_the_export_list_takes_a_pinned_number_of_queries(
    client, campaign, coordinator, admin, history, django_assert_num_queries
):
    client.force_login(coordinator)
    url = reverse("dashboards:exports", args=[campaign.slug])
    _export(campaign, coordinator)
    client.get(url)  # session and caches warm
    with django_assert_num_queries(4) as one:
        client.get(url)
    for kind in ("attempts", "outcomes", "declarations"):
        _export(campaign, admin, kind=kind)
    for kind in ("attempts", "outcomes", "declarations"):
        exports.export_request(campaign=campaign, actor=coordinator, kind=kind, format="xlsx")
    with django_assert_num_queries(len(one.captured_queries)):
        client.get(url)


def test_an_export_whose_worker_died_starts_again(campaign, coordinator, history):
    job = exports.export_request(
        campaign=campaign, actor=coordinator, kind="attempts", format="csv"
    )
    partial = exports.exports_dir() / "dead.sealed"
    partial.write_bytes(b"PBENC1 half a file")
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING,
        runner="elsewhere:1",
        heartbeat_at=MORNING,
        path=partial.name,
        rows_done=2,
    )
    with time_machine.travel(MORNING + timedelta(seconds=30), tick=False):
        assert exports.export_job_claim() is None  # its worker may still be alive
    with time_machine.travel(MORNING + jobs.STALE_AFTER + timedelta(seconds=1), tick=False):
        claimed = exports.export_job_claim()
        assert claimed.pk == job.pk and claimed.runner == jobs.runner_id()
        finished = exports.export_job_run(claimed)
    assert finished.status == ExportStatus.FINISHED and finished.rows_done == 3
    assert not partial.exists()
    assert LogEntry.objects.filter(action="dashboards.export.restarted").count() == 1
    assert len(_csv_rows(finished)) == 4


def test_a_worker_taken_over_stops_and_leaves_no_file(campaign, coordinator, history, monkeypatch):
    job = exports.export_request(
        campaign=campaign, actor=coordinator, kind="attempts", format="csv"
    )
    claimed = exports.export_job_claim()
    ExportJob.objects.filter(pk=job.pk).update(runner="another:2")  # someone else took it
    result = exports.export_job_run(claimed)
    assert result.status == ExportStatus.RUNNING
    assert not list(exports.exports_dir().glob("*.sealed"))


def test_a_failed_export_says_so_without_the_message(campaign, coordinator, history, monkeypatch):
    def broken(job):
        raise RuntimeError("+8613700000001 should never reach a log")

    monkeypatch.setitem(exports.SOURCES, "attempts", broken)
    job = _export(campaign, coordinator)
    assert job.status == ExportStatus.FAILED and job.error == "RuntimeError" and job.path == ""
    assert not list(exports.exports_dir().glob("*.sealed"))


# -- sealed at rest ---------------------------------------------------------------------------


def test_the_file_is_sealed_at_rest(campaign, coordinator, history):
    job = _export(campaign, coordinator)
    path = exports.exports_dir() / job.path
    raw = path.read_bytes()
    assert raw.startswith(b"PBENC1")
    assert MASKED.encode() not in raw and b"Beijing" not in raw
    assert path.stat().st_mode & 0o077 == 0
    from phonebank.contacts.services import key_ids_in_use

    assert keyring().current in key_ids_in_use()


def test_an_unfinished_sealed_file_never_opens():
    ring = crypto.Keyring.generate()
    out = io.BytesIO()
    writer = crypto.SealedWriter(ring, out, "f1")
    writer.write(b"x" * (crypto.CHUNK + 10))
    with pytest.raises(crypto.DecryptionError):
        b"".join(crypto.open_stream(ring, io.BytesIO(out.getvalue()), "f1"))
    assert writer.finish() == crypto.CHUNK + 10
    assert b"".join(crypto.open_stream(ring, io.BytesIO(out.getvalue()), "f1")) == b"x" * (
        crypto.CHUNK + 10
    )


# -- at scale --------------------------------------------------------------------------------


def test_masking_a_stored_number_quickly_masks_as_parsing_does():
    for e164 in (NUMBER, "+8613912345678", "+862012345678", "+14155550123", "+390612345678",
                 "+447911123456", "+85261234567", "+12", "junk", "+"):  # fmt: skip
        assert phones.mask_e164(e164) == phones.mask(e164), e164


def _bulk_calls(campaign, caller, n: int, contacts: int = 2000) -> None:
    """n call attempts over a few thousand contacts, inserted with plain SQL (no rollups:
    the attempts export reads the calls themselves)."""
    ring = keyring()
    stamp = connection.ops.adapt_datetimefield_value(MORNING)
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {rawsql.table(Contact)} (blind_index, phone, details, country, "  # noqa: S608
            "province, city_zh, city_en, timezone, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            [
                (
                    ring.blind_index(f"+86138{i:08d}"),
                    ring.encrypt(f"+86138{i:08d}", "contact.phone"),
                    "",
                    "CN",
                    "GD",
                    "广州",
                    "Guangzhou",
                    "Asia/Shanghai",
                    stamp,
                )
                for i in range(contacts)
            ],
        )
        cur.execute(
            f"INSERT INTO {rawsql.table(Target)} (campaign_id, contact_id, status, attempts, "  # noqa: S608
            f"created_at, last_outcome, for_trusted) SELECT %s, id, 'open', 0, %s, '', %s "
            f"FROM {rawsql.table(Contact)} WHERE city_en = 'Guangzhou'",
            [campaign.pk, stamp, False],
        )
        cur.execute(
            f"SELECT id FROM {rawsql.table(Target)} WHERE campaign_id = %s",  # noqa: S608
            [campaign.pk],
        )
        targets = [row[0] for row in cur.fetchall()]
        outcomes = Outcome.values
        batch = []
        for i in range(n):
            at = connection.ops.adapt_datetimefield_value(MORNING + timedelta(seconds=i))
            batch.append(
                (targets[i % len(targets)], campaign.pk, caller.pk, at, at, outcomes[i % 10], "")
            )
            if len(batch) == 10_000 or i == n - 1:
                cur.executemany(
                    f"INSERT INTO {rawsql.table(CallAttempt)} (target_id, campaign_id, "  # noqa: S608
                    "caller_id, started_at, ended_at, outcome, notes) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                    batch,
                )
                batch = []


def _export_peak(campaign, actor, format: str) -> tuple[ExportJob, int, float]:
    job = exports.export_request(campaign=campaign, actor=actor, kind="attempts", format=format)
    claimed = exports.export_job_claim()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        done = exports.export_job_run(claimed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert done.pk == job.pk
    return done, peak, time.perf_counter() - started


@pytest.mark.parametrize(
    ("rows", "format"),
    [
        (20_000, "csv"),
        pytest.param(200_000, "csv", marks=pytest.mark.slow),
        pytest.param(20_000, "xlsx", marks=pytest.mark.slow),
    ],
)
def test_a_large_export_streams_with_bounded_memory(campaign, coordinator, caller, rows, format):
    _bulk_calls(campaign, caller, rows)
    job, peak, _seconds = _export_peak(campaign, coordinator, format)
    assert job.status == ExportStatus.FINISHED and job.rows_done == rows
    # A list of the rows alone would take ~100 MB at 200,000; the file is ~25 MB.
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    if format == "csv":
        path = exports.exports_dir() / job.path
        with sealedfiles.sealed_opener(path, path.stem)() as fh:
            lines = sum(1 for _ in io.TextIOWrapper(fh, encoding="utf-8-sig", newline=""))
        assert lines == rows + 1
