"""`phonebank backup` and `phonebank restore`: consistent copies while the application
runs, restores that replace the database whole or not at all, and clear refusals.

The end-to-end tests run the real console script in subprocesses against a database of
their own (a SQLite file in its own PHONEBANK_HOME, or a PostgreSQL database created for
the test), with data made through the services, and check that what comes back opens
with the same keys. The SQLite file mechanics are tested on plain files beside them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.audit.models import LogEntry
from phonebank.campaigns.services import campaign_create
from phonebank.contacts.management.commands.restore import Command as Restore
from phonebank.contacts.services import contacts_import_file
from phonebank.lib import backup
from phonebank.lib.backup import BackupError
from phonebank.lib.crypto import Keyring
from phonebank.registry.services import declaration_record, registry_publish
from tests.conftest import PASSWORD

NUMBERS = {"+8613800138000": "张三", "+8613900139000": "李四"}


def on_sqlite() -> bool:
    return connection.vendor == "sqlite"


# -- helpers ---------------------------------------------------------------------------------


def _env(home: Path, database_url: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    for variable in ("PHONEBANK_DATA_KEY", "PHONEBANK_SECRET_KEY", "DATABASE_URL"):
        env.pop(variable, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def cli(home: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    """The console script, as an operator runs it (its exit code is not checked here)."""
    return subprocess.run(  # noqa: S603 - our own console script
        [sys.executable, "-m", "phonebank.cli", *args],
        env=_env(home, database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _home_with_this_keyring(tmp_path: Path) -> Path:
    """A PHONEBANK_HOME whose keyring is the one the test process seals data with."""
    home = tmp_path / "installation"
    home.mkdir(mode=0o700)
    fd = os.open(home / "data-keys.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(settings.PHONEBANK_KEYRING.dumps())
    return home


def _make_data(tmp_path: Path) -> None:
    """An admin, a campaign with two imported contacts, one declaration sealed in the log."""
    user_create(username="ada", password=PASSWORD, role=Role.ADMIN)
    campaign = campaign_create(slug="spring", name="Spring calls", actor=None)
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "手机,姓名\n" + "".join(f"{n[3:]},{name}\n" for n, name in NUMBERS.items()),
        encoding="utf-8",
    )
    contacts_import_file(path=csv, campaign=campaign, actor=None)
    declaration_record(
        alias="自由人", organisations=["party"], allowed={"party"}, source="phone", consent=True
    )
    registry_publish()


def _phones(rows) -> dict[str, str]:
    """Decrypt (phone, details) rows with the test process's keyring: number → name."""
    ring = settings.PHONEBANK_KEYRING
    out = {}
    for phone, details in rows:
        name = json.loads(ring.decrypt(details, "contact.details"))[0]
        out[ring.decrypt(phone, "contact.phone")] = name
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _phonebank_like(path: Path, rows: int = 500) -> Path:
    """A small WAL database with the tables restore looks for, and enough pages to step."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app, name)")
        db.execute("CREATE TABLE contacts_contact (id INTEGER PRIMARY KEY, phone TEXT)")
        db.execute("CREATE INDEX contact_phone ON contacts_contact (phone)")
        db.executemany(
            "INSERT INTO contacts_contact (phone) VALUES (?)",
            [(f"k1${i:06d}" + "x" * 200,) for i in range(rows)],
        )
        db.commit()
    return path


def _count(path: Path, table: str = "contacts_contact") -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


# -- SQLite: the file mechanics, on plain files ------------------------------------------------


def test_a_backup_taken_during_an_open_write_is_one_consistent_snapshot(tmp_path):
    live = _phonebank_like(tmp_path / "live.sqlite3", rows=10)
    writer = sqlite3.connect(live, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO contacts_contact (phone) VALUES ('uncommitted')")
        target = tmp_path / "copy.sqlite3"
        backup.sqlite_backup(live, target)  # the writer keeps its lock: readers do not wait
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert _count(target) == 10
    assert _count(live) == 11
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == [
        "copy.sqlite3"
    ]  # self-contained: no -wal to carry along, no partial file left
    with contextlib.closing(sqlite3.connect(target)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_a_backup_under_constant_writes_still_finishes_and_checks_clean(tmp_path):
    live = _phonebank_like(tmp_path / "live.sqlite3")
    steps = 0
    with contextlib.closing(sqlite3.connect(live)) as app:

        def a_write_after_every_step(copied: int, total: int) -> None:
            # Each write by another connection restarts a stepped copy from its first page:
            # only the fall-back to one snapshot lets the backup end.
            nonlocal steps
            steps += 1
            assert steps < 100, "the backup keeps restarting"
            app.execute("INSERT INTO contacts_contact (phone) VALUES ('new')")
            app.commit()

        backup.sqlite_backup(
            live, tmp_path / "copy.sqlite3", pages=1, on_step=a_write_after_every_step
        )
    backup.sqlite_check(tmp_path / "copy.sqlite3")
    assert 500 < _count(tmp_path / "copy.sqlite3") < _count(live)


def test_a_backup_never_overwrites_a_file(tmp_path):
    live = _phonebank_like(tmp_path / "live.sqlite3", rows=1)
    target = tmp_path / "taken.sqlite3"
    target.write_text("precious")
    with pytest.raises(BackupError, match="already exists"):
        backup.sqlite_backup(live, target)
    assert target.read_text() == "precious"


@pytest.mark.parametrize("holder", ["reader", "writer"])
def test_restore_refuses_while_the_database_is_open_elsewhere_and_replaces_nothing(
    tmp_path, holder
):
    live = _phonebank_like(tmp_path / "live.sqlite3", rows=3)
    good = _phonebank_like(tmp_path / "good.sqlite3", rows=7)
    other = sqlite3.connect(live, isolation_level=None)  # as a running server's connection
    try:
        other.execute("SELECT count(*) FROM contacts_contact").fetchone()
        if holder == "writer":
            other.execute("BEGIN IMMEDIATE")
        before = _digest(live)
        message = "a writer holds" if holder == "writer" else "another process has"
        with pytest.raises(BackupError, match=f"{message} the database.*stop `phonebank serve`"):
            backup.sqlite_restore(good, live, lock_timeout=0.1)
        assert _digest(live) == before
        if holder == "writer":
            other.execute("ROLLBACK")
    finally:
        other.close()
    assert _count(live) == 3
    assert not list(tmp_path.glob(".*restoring*"))
    backup.sqlite_restore(good, live)  # nobody has it open now
    assert _count(live) == 7
    assert _mode(live) == 0o600


def test_restore_removes_a_stale_wal_before_the_new_file_takes_its_place(tmp_path):
    live = _phonebank_like(tmp_path / "live.sqlite3", rows=3)
    good = _phonebank_like(tmp_path / "good.sqlite3", rows=7)
    wal = live.with_name("live.sqlite3-wal")
    wal.write_bytes(b"frames of the old database")
    backup.sqlite_restore(good, live)
    assert not wal.exists()
    assert _count(live) == 7


def _corrupt(path: Path) -> Path:
    """Overwrite a page in the middle of the file (the contacts table's b-tree)."""
    with open(path, "r+b") as fh:
        fh.seek(4096 * 5)
        fh.write(os.urandom(4096))
    return path


def test_restore_refuses_a_corrupt_sqlite_file_and_touches_nothing(tmp_path, db):
    broken = _phonebank_like(tmp_path / "broken.sqlite3")
    with contextlib.closing(sqlite3.connect(broken)) as sq:
        sq.execute("PRAGMA journal_mode=DELETE")
    _corrupt(broken)
    live = _phonebank_like(tmp_path / "live.sqlite3", rows=3)
    before = _digest(live)
    with pytest.raises(BackupError, match="is corrupt"):
        backup.sqlite_restore(broken, live)
    assert _digest(live) == before
    if on_sqlite():  # without --yes, the command checks the file itself and says so
        with pytest.raises(CommandError, match="is corrupt"):
            call_command("restore", str(broken), stdout=io.StringIO())


def test_restore_refuses_a_file_that_is_not_a_backup_of_this_engine(tmp_path, db):
    text = tmp_path / "contacts.csv"
    text.write_text("手机,姓名\n13800138000,张三\n", encoding="utf-8")
    with pytest.raises(CommandError, match="is no backup"):
        call_command("restore", str(text), "--yes", stdout=io.StringIO())
    other = tmp_path / "other-engine.backup"
    other.write_bytes((backup.PGDUMP_MAGIC if on_sqlite() else backup.SQLITE_MAGIC) + b"\0" * 99)
    expected = "a PostgreSQL backup" if on_sqlite() else "a SQLite backup"
    with pytest.raises(CommandError, match=f"is {expected}; this installation's database"):
        call_command("restore", str(other), "--yes", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a file"):
        call_command("restore", str(tmp_path / "missing.sqlite3"), "--yes")
    sqlite_not_ours = tmp_path / "other-app.sqlite3"
    with contextlib.closing(sqlite3.connect(sqlite_not_ours)) as sq:
        sq.execute("CREATE TABLE notes (body)")
    with pytest.raises(BackupError, match="not one of phonebank"):
        backup.sqlite_check(sqlite_not_ours)


def test_without_pg_dump_on_path_a_backup_fails_clearly_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    db = {"ENGINE": "django.db.backends.postgresql", "NAME": "phonebank", "PASSWORD": "x"}
    with pytest.raises(BackupError, match="pg_dump is not on PATH: install"):
        backup.pg_dump(db, tmp_path / "out.pgdump")
    with pytest.raises(BackupError, match="pg_restore is not on PATH"):
        backup.pg_restore(db, tmp_path / "out.pgdump")
    assert not list(tmp_path.glob("*out.pgdump*"))


def test_the_password_reaches_pg_tools_in_a_private_passfile_not_argv_or_environment():
    db = {"NAME": "pb", "USER": "u", "HOST": "h", "PORT": 5433, "PASSWORD": r"p:a\ss"}
    db["OPTIONS"] = {"sslmode": "require", "pool": True}
    with backup.pg_environment(db) as env:
        passfile = Path(env["PGPASSFILE"])
        assert passfile.read_text() == "*:*:*:*:p\\:a\\\\ss\n"
        assert _mode(passfile) == 0o600
        assert (env["PGDATABASE"], env["PGUSER"], env["PGHOST"], env["PGPORT"]) == (
            "pb",
            "u",
            "h",
            "5433",
        )
        assert env["PGSSLMODE"] == "require"
        assert r"p:a\ss" not in env.values()
    assert not passfile.exists()


# -- the restore report ------------------------------------------------------------------------


def _report() -> str:
    out = io.StringIO()
    Restore(stdout=out)._report(Path("phonebank-x.sqlite3"), "sqlite")
    return out.getvalue()


def test_the_report_counts_what_came_back_checks_the_keyring_and_audits_the_restore(db, tmp_path):
    _make_data(tmp_path)
    report = _report()
    assert "users 1, contacts 2, declarations 1, registry log 1 entries" in report
    assert "schema: current" in report
    assert "keyring: opens the restored data" in report
    entry = LogEntry.objects.get(action="backup.restored")
    assert entry.data == {"engine": "sqlite", "file": "phonebank-x.sqlite3"}


def test_the_report_fails_when_the_keyring_in_force_does_not_open_the_data(db, tmp_path, settings):
    _make_data(tmp_path)
    settings.PHONEBANK_KEYRING = Keyring.generate()  # the same key id "k1", other bytes
    with pytest.raises(CommandError, match=r"does not open its data.*contact\.phone"):
        _report()


def test_the_report_tells_to_migrate_a_backup_from_an_older_schema(db):
    latest = MigrationRecorder.Migration.objects.filter(app="contacts").latest("id")
    latest.delete()  # as in a backup made before that migration
    report = _report()
    assert "older schema (1 migrations to apply): run `phonebank manage migrate`" in report
    assert not LogEntry.objects.filter(action="backup.restored").exists()


# -- end to end: the console script on a SQLite file ------------------------------------------


@pytest.mark.skipif("not on_sqlite()", reason="the SQLite end-to-end test (PostgreSQL: below)")
def test_sqlite_backup_then_restore_brings_the_data_back_readable_with_the_same_keys(
    transactional_db, tmp_path
):
    _make_data(tmp_path)
    home = _home_with_this_keyring(tmp_path)
    live = home / "phonebank.sqlite3"
    with contextlib.closing(sqlite3.connect(live)) as copy:
        connection.ensure_connection()
        connection.connection.backup(copy)  # the migrated test database, data and all

    made = cli(home, "backup")
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.splitlines()[0].removeprefix("backup written to "))
    assert path.parent == home / "backups"
    assert path.name.startswith("phonebank-") and path.suffix == ".sqlite3"
    assert (_mode(path.parent), _mode(path)) == (0o700, 0o600)
    assert "not the keys" in made.stdout and str(home / "data-keys.json") in made.stdout
    with contextlib.closing(sqlite3.connect(live)) as sq:
        (data,) = sq.execute(
            "SELECT data FROM audit_logentry WHERE action = 'backup.created'"
        ).fetchone()
    assert set(json.loads(data)) == {"engine", "file", "bytes", "seconds"}

    # Everything that matters is lost or changed after the backup.
    with contextlib.closing(sqlite3.connect(live)) as sq:
        sq.executescript(
            "DELETE FROM registry_declarationorganisation; DELETE FROM registry_declaration;"
            "DELETE FROM calling_target; DELETE FROM contacts_contact;"
            "UPDATE accounts_user SET username = 'mallory';"
        )
    changed = _digest(live)

    refused = cli(home, "restore", str(path))
    assert refused.returncode != 0
    assert "replaces the SQLite database" in refused.stderr
    assert "run again with --yes" in refused.stderr
    assert _digest(live) == changed

    restored = cli(home, "restore", str(path), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "users 1, contacts 2, declarations 1, registry log 1 entries" in restored.stdout
    assert "schema: current" in restored.stdout
    assert "keyring: opens the restored data" in restored.stdout
    assert _mode(live) == 0o600
    with contextlib.closing(sqlite3.connect(live)) as sq:
        contacts = sq.execute("SELECT phone, details FROM contacts_contact").fetchall()
        assert sq.execute("SELECT username FROM accounts_user").fetchall() == [("ada",)]
        assert sq.execute("SELECT alias FROM registry_declaration").fetchall() == [("自由人",)]
        assert sq.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _phones(contacts) == NUMBERS


# -- end to end: PostgreSQL ---------------------------------------------------------------------


@contextlib.contextmanager
def _scratch_database(name: str):
    """A database of its own on the test server, dropped afterwards."""
    import psycopg

    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "dbname": connection.settings_dict["NAME"]}) as admin:
        admin.autocommit = True
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield lambda: psycopg.connect(**{**params, "dbname": name}, autocommit=True)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _url(name: str) -> str:
    s = connection.settings_dict
    auth = quote(s["USER"], safe="") + (
        ":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else ""
    )
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{name}"


@pytest.mark.skipif(
    "on_sqlite()",
    reason="PostgreSQL backup and restore need DATABASE_URL pointing to PostgreSQL (CI's second leg)",
)
def test_postgresql_backup_then_restore_brings_the_data_back_readable_with_the_same_keys(
    transactional_db, tmp_path
):
    _make_data(tmp_path)
    home = _home_with_this_keyring(tmp_path)
    archive = tmp_path / "taken.pgdump"
    out = io.StringIO()
    call_command("backup", "--output", str(archive), stdout=out)  # pg_dump of the test database
    assert backup.file_kind(archive) == backup.POSTGRESQL and _mode(archive) == 0o600
    assert "not the keys" in out.getvalue()
    assert LogEntry.objects.filter(action="backup.created").count() == 1

    name = f"{connection.settings_dict['NAME']}_restore"
    with _scratch_database(name) as connect:
        url = _url(name)
        refused = cli(home, "restore", str(archive), database_url=url)
        assert refused.returncode != 0 and "run again with --yes" in refused.stderr

        for round_ in (1, 2):  # into an empty database, then over changed data
            restored = cli(home, "restore", str(archive), "--yes", database_url=url)
            assert restored.returncode == 0, restored.stderr
            assert "users 1, contacts 2, declarations 1, registry log 1" in restored.stdout
            assert "keyring: opens the restored data" in restored.stdout
            with connect() as pg:
                rows = pg.execute("SELECT phone, details FROM contacts_contact").fetchall()
                assert _phones(rows) == NUMBERS
                assert pg.execute("SELECT alias FROM registry_declaration").fetchall() == [
                    ("自由人",)
                ]
                if round_ == 1:
                    pg.execute("DELETE FROM registry_declarationorganisation")
                    pg.execute("DELETE FROM registry_declaration")
                    pg.execute("UPDATE accounts_user SET username = 'mallory'")


@pytest.mark.skipif("on_sqlite()", reason="needs DATABASE_URL pointing to PostgreSQL")
def test_postgresql_backup_and_restore_without_the_tools_fail_clearly(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="pg_dump is not on PATH"):
        call_command("backup", "--output", str(tmp_path / "x.pgdump"))
    assert not list(tmp_path.glob("*x.pgdump*"))
    fake = tmp_path / "x.pgdump"
    fake.write_bytes(backup.PGDUMP_MAGIC + b"\0" * 99)
    with pytest.raises(CommandError, match="pg_restore is not on PATH"):
        call_command("restore", str(fake), "--yes")
