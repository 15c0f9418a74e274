"""An import killed with SIGKILL part-way finishes on the next run: nothing lost, nothing doubled.

This drives the real console script against a file-based SQLite database in its own
PHONEBANK_HOME, kills the whole process group (the importer and its worker processes) once
some batches have landed, and runs the same command again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROWS = 30_000  # 30 batches: a few seconds, and the kill lands with most of them to go
DNC_NUMBER = "13900000777"


def _env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    for variable in ("PHONEBANK_DATA_KEY", "PHONEBANK_SECRET_KEY", "DATABASE_URL"):
        env.pop(variable, None)
    return env


def _cli(home: Path, *args: str) -> list[str]:
    result = subprocess.run(  # noqa: S603 - our own console script
        [sys.executable, "-m", "phonebank.cli", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return result.stdout.strip().splitlines()


def _set_up(home: Path) -> None:
    """A migrated database with a campaign and one do-not-call number (one process, not three:
    this is not what the test is about)."""
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command as c\n"
        "c('migrate', verbosity=0)\n"
        "c('campaign', 'create', 'crash', '--name', 'Crash')\n"
        f"c('dnc', 'add', '{DNC_NUMBER}')\n"
    )
    subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", script], env=_env(home), timeout=180, check=True, capture_output=True
    )


def _write_file(path: Path) -> tuple[set[str], int, int, int]:
    """A messy file of ROWS data rows; returns (distinct valid numbers, duplicate rows,
    invalid rows, rows of the do-not-call number)."""
    seen: set[str] = set()
    duplicates = invalid = dnc = 0
    lines = ["手机,姓名"]
    for i in range(ROWS):
        if i % 211 == 5:
            lines.append(f"not a number {i},x{i}")
            invalid += 1
            continue
        if i % 1499 == 7:
            number = DNC_NUMBER
        elif i % 97 == 3 and i > 2000:
            number = f"139{(i - 1500) * 13:08d}"  # a number from an earlier batch
        elif i % 89 == 4:
            number = f"139{(i - 1) * 13:08d}"  # the row before: the same batch
        else:
            number = f"139{i * 13:08d}"
        if number == DNC_NUMBER:
            dnc += 1
        elif number in seen:
            duplicates += 1
        else:
            seen.add(number)
        written = (number, f"{number[:3]} {number[3:7]} {number[7:]}", f"+86 {number}")[i % 3]
        lines.append(f"{written},名{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return seen, duplicates, invalid, dnc


def _job(db: sqlite3.Connection) -> tuple[str, int] | None:
    try:
        return db.execute("SELECT status, resume_line FROM contacts_importjob").fetchone()
    except sqlite3.OperationalError:  # the writer holds a lock for a moment; ask again
        return None


def test_an_import_killed_mid_way_finishes_on_the_next_run_with_nothing_lost_or_doubled(
    tmp_path,
):
    home = tmp_path / "home"
    path = tmp_path / "big.csv"
    distinct, duplicates, invalid, dnc = _write_file(path)
    _set_up(home)
    command = ["contacts", "import", str(path), "--campaign", "crash", "--json"]

    importer = subprocess.Popen(  # noqa: S603 - our own console script
        [sys.executable, "-m", "phonebank.cli", *command],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, worker processes included
    )
    database = home / "phonebank.sqlite3"
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
    try:
        deadline = time.monotonic() + 120
        while True:
            job = _job(db)
            if job and job[0] == "running" and job[1] > 0:
                break
            assert importer.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.005)
        os.killpg(importer.pid, signal.SIGKILL)
        importer.wait(timeout=30)
        status, killed_at = _job(db)
    finally:
        db.close()
        if importer.poll() is None:
            os.killpg(importer.pid, signal.SIGKILL)
    assert status == "running"
    assert 0 < killed_at < ROWS + 1

    summary = json.loads(_cli(home, *command)[-1])

    assert summary == {
        "imported": len(distinct),
        "duplicates": duplicates,
        "rejected": invalid,
        "skipped_dnc": dnc,
    }
    assert sum(summary.values()) == ROWS
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:

        def one(sql: str):
            return db.execute(sql).fetchone()

        assert one("SELECT count(*), count(DISTINCT blind_index) FROM contacts_contact") == (
            len(distinct),
            len(distinct),
        )
        assert one("SELECT count(*), count(DISTINCT contact_id) FROM calling_target") == (
            len(distinct),
            len(distinct),
        )
        assert one(
            "SELECT count(*), status, resume_line, imported + duplicates + rejected + skipped_dnc"
            " FROM contacts_importjob"
        ) == (1, "finished", ROWS + 1, ROWS)
        assert one("SELECT count(*), count(DISTINCT line) FROM contacts_importreject") == (
            invalid,
            invalid,
        )
        actions = [row[0] for row in db.execute("SELECT action FROM audit_logentry ORDER BY id")]
    assert actions.count("contacts.import.started") == 1
    assert actions.count("contacts.import.resumed") == 1
    assert actions.count("contacts.import.finished") == 1
