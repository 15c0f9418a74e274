"""A coordinator imports a contact file in a real browser and watches it run; the language
switcher on the sign-in page; a caller refused the staff pages.

The import runs in a background worker, as in production: a thread of this process running
the worker's loop (claim a job, run it, else wait), on its own database connection. The
test holds the worker after every batch, so it can look at the page in each state (part
done, then finished) without racing the import, and the page must show each state by
itself, through htmx's polling, without being reloaded.

Set PHONEBANK_SCREENSHOTS=/some/dir to keep the screenshot (else it goes to tmp_path).
"""

from __future__ import annotations

import csv
import io
import math
import os
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import close_old_connections, connections
from playwright.sync_api import Page, expect

from phonebank.contacts.models import ImportJob, ImportStatus
from phonebank.contacts.services import BATCH_ROWS, import_job_claim, import_job_run
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WAIT_MS = 20_000
WAIT_S = WAIT_MS / 1000

expect.set_options(timeout=WAIT_MS)


# -- the background worker ---------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the worker had written when it stopped: the page must show exactly this."""

    status: str
    percent: int
    imported: int
    duplicates: int
    rejected: int


class ImportWorker:
    """The `worker` command's loop in a thread: claim a queued job and run it, else wait.

    With ``hold_between_batches()``, the worker stops after each batch it writes (and once
    more when the job has finished), reports what it wrote through ``next_stop()`` and goes
    on at ``resume()``. It holds no transaction while it waits.
    """

    def __init__(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="import-worker", daemon=True)
        self._stopping = threading.Event()
        self._holding = False
        self._stops: queue.Queue[Snapshot] = queue.Queue()
        self._resume = threading.Semaphore(0)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._resume.release()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the import worker did not stop"

    def hold_between_batches(self) -> None:
        self._holding = True

    def next_stop(self) -> Snapshot:
        try:
            return self._stops.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError(f"the import worker stopped nowhere: {self.error!r}") from None

    def resume(self) -> None:
        self._resume.release()

    def _after_batch(self, job: ImportJob) -> None:
        if not self._holding or self._stopping.is_set():
            return
        self._stops.put(
            Snapshot(str(job.status), job.percent, job.imported, job.duplicates, job.rejected)
        )
        if not self._resume.acquire(timeout=WAIT_S * 2):
            raise TimeoutError("the test never let the import worker go on")

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                close_old_connections()
                job = import_job_claim()
                if job is not None:
                    import_job_run(job, progress=self._after_batch)
                else:
                    time.sleep(0.2)
        except BaseException as exc:  # reported by the fixture, and by next_stop()
            self.error = exc
        finally:
            # A connection left open would keep PostgreSQL from dropping the test database.
            connections.close_all()


@pytest.fixture
def import_worker(transactional_db):
    worker = ImportWorker()
    worker.start()
    yield worker
    worker.stop()
    assert worker.error is None, f"the import worker failed: {worker.error!r}"


# -- the file ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactFile:
    content: bytes
    imported: int
    duplicates: int
    rejected: int
    reject_lines: list[int]


BAD_PHONES = ("12345", "not a number", "", "999", "+86 139", "1390000000x", "电话待补", "0")


def contact_file(size: int = 3000) -> ContactFile:
    """``size`` rows under Chinese headers: distinct mobiles written three ways, every 100th
    row a number seen before (often in an earlier batch), every 375th a bad number."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["手机", "姓名", "单位", "职务", "地区"])
    line = 1  # the header's
    fresh = duplicates = 0
    reject_lines: list[int] = []
    bad = iter(BAD_PHONES)
    for row in range(size):
        line += 1
        if row % 375 == 374 and (phone := next(bad, None)) is not None:
            reject_lines.append(line)
        elif row % 100 == 99:
            phone = f"0086 139{(row * 7) % fresh:08d}"  # another way to write a known one
            duplicates += 1
        else:
            n = fresh
            fresh += 1
            phone = (f"139{n:08d}", f"139 {n // 10000:04d} {n % 10000:04d}", f"+86 139{n:08d}")[
                n % 3
            ]
        writer.writerow([phone, f"测试{row}", "某区教育局", "科员", "北京"])
    return ContactFile(out.getvalue().encode(), fresh, duplicates, len(reject_lines), reject_lines)


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught page errors."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))
    page.set_default_timeout(WAIT_MS)
    return found


@pytest.fixture
def shots(tmp_path) -> Path:
    where = os.environ.get("PHONEBANK_SCREENSHOTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sign_in(page: Page, live_server, user) -> None:
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def _shows(page: Page, snapshot: Snapshot) -> None:
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", snapshot.status)
    expect(progress.locator("progress")).to_have_attribute("value", str(snapshot.percent))
    expect(page.locator("#count-imported")).to_have_text(str(snapshot.imported))
    expect(page.locator("#count-duplicates")).to_have_text(str(snapshot.duplicates))
    expect(page.locator("#count-rejected")).to_have_text(str(snapshot.rejected))


# -- the tests -----------------------------------------------------------------------------------


def test_a_coordinator_uploads_a_file_and_watches_it_import_live(
    page: Page, live_server, coordinator, import_worker, tmp_path, shots, problems
):
    the_file = contact_file()
    path = tmp_path / "联系人.csv"
    path.write_bytes(the_file.content)
    import_worker.hold_between_batches()

    _sign_in(page, live_server, coordinator)
    expect(page).to_have_url(live_server.url + "/campaigns/")
    page.get_by_role("link", name="Spring calls").click()
    page.locator("nav.tabs").get_by_role("link", name="Imports").click()
    expect(page).to_have_url(live_server.url + "/campaigns/spring/imports/")

    page.get_by_label("File", exact=True).set_input_files(path)
    expect(page.get_by_label("Default country")).to_have_value("CN")
    page.get_by_role("button", name="Upload and import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    job = ImportJob.objects.get()
    assert page.url == f"{live_server.url}/imports/{job.pk}/"
    assert job.filename == "联系人.csv"

    # From here on the page is never loaded again: only htmx swaps the progress card.
    page.evaluate("window.stillTheSamePage = true")
    progress = page.locator("#import-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("hx-trigger", "every 1s")
    download = page.get_by_role("link", name=re.compile("Download the rejected rows"))

    stops = []
    while not stops or stops[-1].status != ImportStatus.FINISHED:
        stops.append(import_worker.next_stop())
        _shows(page, stops[-1])
        if stops[-1].status == ImportStatus.RUNNING:
            expect(progress.locator(".badge")).to_have_text("Running")
            expect(download).to_have_count(0)
            if len(stops) == 1:
                page.screenshot(path=shots / "import-running.png", full_page=True)
        import_worker.resume()

    rows = the_file.imported + the_file.duplicates + the_file.rejected
    assert len(stops) == math.ceil(rows / BATCH_ROWS) + 1, stops  # each batch, then finished
    assert [s.percent for s in stops] == sorted({s.percent for s in stops}), stops
    assert 0 < stops[0].imported < the_file.imported
    finished = stops[-1]
    assert (finished.imported, finished.duplicates, finished.rejected) == (
        the_file.imported,
        the_file.duplicates,
        the_file.rejected,
    )
    expect(progress.locator(".badge")).to_have_text("Finished")
    # The total is an estimate from the file's newlines (hence "about").
    expect(progress.locator(".percent")).to_have_text(
        re.compile(rf"^100% · {rows} of about \d+ rows$")
    )
    expect(progress).not_to_have_attribute("hx-trigger", re.compile(".*"))  # polling ended
    expect(download).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True

    job.refresh_from_db()
    assert job.status == ImportStatus.FINISHED
    assert job.campaign.targets.count() == the_file.imported

    page.screenshot(path=shots / "import-finished.png", full_page=True)

    with page.expect_download() as downloaded:
        download.click()
    assert downloaded.value.suggested_filename == f"rejects-{job.pk}.csv"
    rejects = list(csv.reader(io.StringIO(Path(downloaded.value.path()).read_text("utf-8"))))
    assert rejects[0] == ["line", "reason", "row"]
    assert [int(reject[0]) for reject in rejects[1:]] == the_file.reject_lines
    assert problems == []


def test_the_language_switcher_turns_the_sign_in_page_chinese_and_back(
    page: Page, live_server, problems
):
    page.goto(live_server.url + "/accounts/login/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    for code in ("zh-hans", "zh-hant", "en"):
        page.locator("#language").select_option(code)
        page.locator(".langswitch button").click()
        expect(html).to_have_attribute("lang", code)
        expect(page).to_have_url(live_server.url + "/accounts/login/")
        expect(page.locator("#language")).to_have_value(code)
        expect(page.locator("#id_username")).to_be_visible()
    assert problems == []


def test_a_caller_is_refused_the_campaign_pages(page: Page, live_server, caller, problems):
    _sign_in(page, live_server, caller)
    expect(page).to_have_url(live_server.url + "/call/spring/")
    for where in ("/campaigns/", "/campaigns/spring/contacts/"):
        response = page.goto(live_server.url + where)
        assert response is not None
        assert response.status == 403, where
        expect(page.locator("h1")).to_contain_text("Not allowed")
        expect(page.locator("body")).not_to_contain_text("Spring calls")
    # Chromium logs the 403 itself.
    assert [p for p in problems if not p.startswith("Failed to load resource")] == []
