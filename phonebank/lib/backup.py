"""Database backups and restores: SQLite through its online backup API, PostgreSQL through
pg_dump and pg_restore.

No Django here: callers pass paths and the database's settings (``DATABASES["default"]``),
so the file handling can be tested plainly. Every failure is one ``BackupError`` whose
message says what to do; a failed backup leaves no file behind, a failed restore leaves the
database as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess  # pg_dump and pg_restore, argument lists, no shell  # nosec B404
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SUFFIX = {SQLITE: "sqlite3", POSTGRESQL: "pgdump"}
ENGINE_NAMES = {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}

# Pages copied per step of the SQLite backup (4 MiB with 4 KiB pages): each step reads one
# snapshot, so no lock is held for long.
STEP_PAGES = 1024
# A write by another connection between two steps restarts the copy from the first page.
# After this many restarts the rest is copied in one step instead: in WAL mode that is one
# read transaction on a snapshot, which writers do not wait for.
MAX_RESTARTS = 3

# DATABASE_URL options that libpq also reads from the environment.
LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def engine_of(db: dict) -> str:
    """SQLITE or POSTGRESQL for a Django database settings dict; others are refused."""
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        return SQLITE
    if engine.startswith("django.db.backends.postgresql"):
        return POSTGRESQL
    raise BackupError(f"backups cover SQLite and PostgreSQL, not {engine}")


def sqlite_path(db: dict) -> Path:
    name = str(db["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        raise BackupError("the database is in memory: there is no file to back up or restore")
    return Path(name)


def file_kind(path: Path) -> str | None:
    """SQLITE or POSTGRESQL (a pg_dump custom archive) from the file's first bytes, or None."""
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return SQLITE
    if head.startswith(PGDUMP_MAGIC):
        return POSTGRESQL
    return None


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600; refuse to overwrite anything."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupError(f"{path} already exists: choose another name") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _removed_on_error(path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def publish(partial: Path, target: Path) -> None:
    """Move a finished file to its name, durably, never over an existing file."""
    _fsync(partial)
    if target.exists():
        raise BackupError(f"{target} already exists: choose another name")
    os.replace(partial, target)
    _fsync(target.parent)


# -- SQLite ---------------------------------------------------------------------------------


class _Restarted(Exception):
    pass


_BUSY_OR_LOCKED = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def _integrity_problems(db: sqlite3.Connection) -> list[str]:
    rows = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
    return [] if rows == ["ok"] else rows


def sqlite_backup(
    source: Path,
    target: Path,
    *,
    pages: int = STEP_PAGES,
    on_step: Callable[[int, int], None] | None = None,
) -> None:
    """Copy a live SQLite database into the new file ``target`` (mode 0600) with the online
    backup API, then check the copy's integrity. Writers carry on meanwhile; the copy is one
    consistent snapshot, holds no -wal beside it, and is left only when it checked clean.
    ``on_step(pages copied, pages in all)`` is called after each step."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}: nothing to back up")
    partial = target.with_name(f".{target.name}.partial")
    create_private(partial)
    with _removed_on_error(partial):
        src = sqlite3.connect(source, timeout=20)
        dst = sqlite3.connect(partial)
        try:
            restarts = 0
            last = None

            def stepped(status: int, remaining: int, total: int) -> None:
                nonlocal restarts, last
                if status in _BUSY_OR_LOCKED:  # no step taken; it is tried again shortly
                    return
                # Without a restart each step copies `pages` more of the same total.
                if last is not None and remaining != max(last - pages, 0):
                    restarts += 1
                    if restarts >= MAX_RESTARTS:
                        raise _Restarted
                last = remaining
                if on_step:
                    on_step(total - remaining, total)

            try:
                src.backup(dst, pages=pages, progress=stepped)
            except _Restarted:
                src.backup(dst, pages=-1, progress=lambda _s, r, t: on_step and on_step(t - r, t))
            # A self-contained file: no WAL to carry along or to lose.
            dst.execute("PRAGMA journal_mode=DELETE")
            problems = _integrity_problems(dst)
        except sqlite3.Error as exc:
            raise BackupError(f"the SQLite backup failed: {exc}") from exc
        finally:
            dst.close()
            src.close()
        if problems:
            raise BackupError(
                "the copy failed its integrity check, so the database itself may be damaged "
                f"(run `phonebank manage dbshell` and PRAGMA integrity_check): {problems[:3]}"
            )
        publish(partial, target)


def _open_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def sqlite_check(path: Path, *, integrity: bool = True) -> None:
    """Refuse a file that is not a SQLite database of phonebank, or (``integrity``) not a
    sound one. Reads only."""
    if file_kind(path) != SQLITE:
        raise BackupError(f"{path} is not a SQLite database")
    problems: list[str] = []
    try:
        with contextlib.closing(_open_ro(path)) as db:
            found = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                "('django_migrations', 'contacts_contact')"
            ).fetchone()[0]
            if integrity:
                problems = _integrity_problems(db)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is corrupt: {exc}") from exc
    if problems:
        raise BackupError(f"{path} is corrupt (integrity check: {'; '.join(problems[:3])})")
    if found != 2:
        raise BackupError(f"{path} is a SQLite database, but not one of phonebank")


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal")]


@contextlib.contextmanager
def sqlite_exclusive(database: Path, *, timeout: float = 1.0) -> Iterator[None]:
    """Hold the database for ourselves, or refuse: a writer (BEGIN IMMEDIATE would wait) or
    any other open connection (in WAL mode every reader keeps a shared lock) means the
    server or a worker is still running, and a file replaced under it would lose writes."""
    if not database.exists():
        yield
        return
    db = sqlite3.connect(database, timeout=timeout, isolation_level=None)
    try:
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise BackupError(
                f"a writer holds the database ({exc}): stop `phonebank serve` and "
                "`phonebank worker`, then restore"
            ) from exc
        try:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            raise BackupError(
                f"another process has the database open ({exc}): stop `phonebank serve` "
                "and `phonebank worker`, then restore"
            ) from exc
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()


def sqlite_restore(backup: Path, database: Path, *, lock_timeout: float = 1.0) -> None:
    """Replace ``database`` with a copy of ``backup``, atomically: the copy is made beside
    it, checked, synced, and renamed over it, all while no other process has it open."""
    sqlite_check(backup, integrity=False)  # the copy's integrity is checked below
    if database.exists() and database.samefile(backup):
        raise BackupError(f"{backup} is the database itself")
    partial = database.with_name(f".{database.name}.restoring")
    partial.unlink(missing_ok=True)  # left by a restore that was killed
    create_private(partial)
    with _removed_on_error(partial):
        with sqlite_exclusive(database, timeout=lock_timeout):
            try:
                src = _open_ro(backup)
                dst = sqlite3.connect(partial)
                try:
                    src.backup(dst)
                    problems = _integrity_problems(dst)
                finally:
                    dst.close()
                    src.close()
            except sqlite3.Error as exc:
                raise BackupError(f"{backup} is corrupt: {exc}") from exc
            if problems:
                raise BackupError(
                    f"{backup} is corrupt (integrity check: {'; '.join(problems[:3])})"
                )
            _fsync(partial)
        # An old WAL beside the new file would be replayed into it: remove it first.
        for stale in _sidecars(database):
            stale.unlink(missing_ok=True)
        os.replace(partial, database)
        _fsync(database.parent)


# -- PostgreSQL -----------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client programs (Debian: "
            f"apt-get install postgresql-client) in a version at least the server's"
        )
    return found


@contextlib.contextmanager
def pg_environment(db: dict) -> Iterator[dict[str, str]]:
    """The environment for pg_dump and pg_restore: the connection from DATABASE_URL in PG*
    variables and the password in a passfile of mode 0600, removed afterwards. Nothing
    shows on the command line, and the password is not in the environment either."""
    env = dict(os.environ)
    for key, variable in (
        ("NAME", "PGDATABASE"),
        ("USER", "PGUSER"),
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
    ):
        if db.get(key) not in (None, ""):
            env[variable] = str(db[key])
    for option, variable in LIBPQ_OPTIONS.items():
        value = (db.get("OPTIONS") or {}).get(option)
        if value not in (None, ""):
            env[variable] = str(value)
    password = db.get("PASSWORD") or ""
    if not password:
        yield env
        return
    env.pop("PGPASSWORD", None)  # it would win over the passfile
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    with tempfile.TemporaryDirectory(prefix="phonebank-pg-") as folder:
        passfile = Path(folder) / "pgpass"
        create_private(passfile)
        passfile.write_text(f"*:*:*:*:{escaped}\n")
        env["PGPASSFILE"] = str(passfile)
        yield env


def _run(argv: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    # S603: our argv, no shell; the connection is in env, never in argv.
    return subprocess.run(argv, env=env, stderr=subprocess.PIPE, check=False, **kwargs)  # noqa: S603  # nosec B603


def _tail(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return " / ".join(lines[-5:]) or "no message"


def pg_dump(db: dict, target: Path) -> None:
    """Dump the database into the new file ``target`` (mode 0600) in pg_dump's custom format
    (compressed, one consistent snapshot, read by pg_restore)."""
    tool = pg_tool("pg_dump")
    partial = target.with_name(f".{target.name}.partial")
    create_private(partial)
    with _removed_on_error(partial):
        with pg_environment(db) as env, open(partial, "wb") as out:
            done = _run([tool, "--format=custom", "--no-password"], env, stdout=out)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed (exit {done.returncode}): {_tail(done.stderr)}")
        if file_kind(partial) != POSTGRESQL:
            raise BackupError("pg_dump wrote something that is not a custom-format archive")
        publish(partial, target)


_LIST_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")


def pg_archive_tables(db: dict, backup: Path) -> set[str]:
    """The tables a pg_dump archive holds (reading its table of contents only)."""
    if file_kind(backup) != POSTGRESQL:
        raise BackupError(f"{backup} is not a pg_dump custom-format archive")
    with pg_environment(db) as env:
        done = _run([pg_tool("pg_restore"), "--list", str(backup)], env, stdout=subprocess.PIPE)
    if done.returncode != 0:
        raise BackupError(f"{backup} is not a readable archive: {_tail(done.stderr)}")
    tables = set()
    for line in done.stdout.decode(errors="replace").splitlines():
        match = _LIST_TABLE.match(line)
        if match:
            tables.add(match.group(2))
    if "django_migrations" not in tables:
        raise BackupError(f"{backup} is a pg_dump archive, but not one of phonebank")
    return tables


def pg_restore(db: dict, backup: Path) -> None:
    """Restore an archive into the database in one transaction: the objects it holds are
    dropped and recreated, and on any error nothing changes."""
    tool = pg_tool("pg_restore")
    argv = [
        tool,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-acl",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        "--dbname=",  # connect (to PGDATABASE) rather than print a script
        str(backup),
    ]
    with pg_environment(db) as env:
        done = _run(argv, env, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BackupError(
            f"pg_restore failed (exit {done.returncode}); nothing was changed: {_tail(done.stderr)}"
        )
