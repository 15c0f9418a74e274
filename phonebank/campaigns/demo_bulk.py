"""Bulk writes for the large demo: millions of rows in batches of a few thousand, as fast as
each database takes them.

SQLite: multi-row INSERTs and executemany straight on the sqlite3 cursor (Django's wrapper
rewrites placeholders on every call), a large page cache, rarer WAL checkpoints. PostgreSQL:
COPY (psycopg's ``cursor.copy``), through a scratch table where ids must come back. Both:
secondary indexes of the calls table dropped while it is filled and built again after (a
sort is several times cheaper than millions of B-tree inserts), and the writing done on a
thread of its own while the caller prepares the next batch (the database works without the
GIL). Only identifiers from model metadata are put into SQL text; values are parameters.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence

from django.db import connection, transaction

from phonebank.lib.sqlitebulk import bulk_pragmas

DAY = 86_400
INSERT_ROWS = 500  # rows per INSERT statement where ids come back
_SQLITE_MAX_PARAMS = 32_000  # SQLite allows 32,766 parameters per statement
SQLITE_CACHE_KIB = 256 * 1024
SQLITE_CHECKPOINT_PAGES = 16_000  # ~64 MB of WAL between checkpoints (default ~4 MB)


class Stamps:
    """Timestamps as text the database reads back exactly as Django wrote them, from epoch
    seconds (UTC): ``YYYY-MM-DD HH:MM:SS`` on SQLite, with ``+00`` on PostgreSQL."""

    _tod: list[str] = []

    def __init__(self) -> None:
        self.suffix = "" if connection.vendor == "sqlite" else "+00"
        self._days: dict[int, str] = {}
        if not Stamps._tod:
            Stamps._tod = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY)]

    def __call__(self, moment: int) -> str:
        day, seconds = divmod(moment, DAY)
        prefix = self._days.get(day)
        if prefix is None:
            date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
            prefix = self._days[day] = date.isoformat() + " "
        return prefix + self._tod[seconds] + self.suffix


def _raw(cur):
    """The driver's own cursor under Django's wrapper."""
    return cur.cursor


def insert_many(table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Rows into a table, nothing back: executemany on SQLite, COPY on PostgreSQL."""
    if not rows:
        return
    cols = ", ".join(columns)
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            marks = ", ".join("?" * len(columns))
            sqlite3.Cursor.executemany(
                _raw(cur),
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
                rows,
            )
            return
        with _raw(cur).copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def insert_returning(
    table: str, columns: Sequence[str], rows: list[tuple], *, conflict: str, returning: str
) -> list[tuple]:
    """Rows into a table under ``conflict`` (an ON CONFLICT clause); ``returning`` of each
    row written. Multi-row INSERTs on SQLite; on PostgreSQL, COPY into a scratch table of
    the same columns and one INSERT … SELECT from it."""
    if not rows:
        return []
    cols = ", ".join(columns)
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            raw, out = _raw(cur), []
            one = "(" + ", ".join("?" * len(columns)) + ")"
            step = min(INSERT_ROWS, _SQLITE_MAX_PARAMS // len(columns))
            for i in range(0, len(rows), step):
                chunk = rows[i : i + step]
                sqlite3.Cursor.execute(
                    raw,
                    f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
                    f"{conflict} RETURNING {returning}",
                    [v for row in chunk for v in row],
                )
                out.extend(raw.fetchall())
            return out
        scratch = f"demo_in_{table}"
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS AS "  # noqa: S608 - identifiers from model metadata  # nosec B608
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        with _raw(cur).copy(f"COPY {scratch} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {scratch} "  # noqa: S608 - identifiers from model metadata  # nosec B608
            f"{conflict} RETURNING {returning}"
        )
        out = cur.fetchall()
        cur.execute(f"TRUNCATE {scratch}")
    return out


def select_in(sql: str, values: list, extra: Sequence = ()) -> list[tuple]:
    """``sql`` (ending in ``IN``) run for ``values`` in chunks; every row found."""
    out: list[tuple] = []
    with connection.cursor() as cur:
        for i in range(0, len(values), INSERT_ROWS):
            chunk = values[i : i + INSERT_ROWS]
            cur.execute(f"{sql} ({', '.join(['%s'] * len(chunk))})", [*extra, *chunk])
            out.extend(cur.fetchall())
    return out


def reserve_ids(table: str, count: int) -> int:
    """Move the table's id sequence past ``count`` ids; returns the id before them (call in
    a transaction: on SQLite it holds the write lock, so nobody takes one meanwhile)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cur.fetchone()
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - identifier from model metadata  # nosec B608
            base = max(row[0] if row else 0, cur.fetchone()[0])
            if row:
                cur.execute(
                    "UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [base + count, table]
                )
            else:
                cur.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, base + count]
                )
            return base
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cur.fetchone()
        cur.execute("SELECT nextval(%s)", [sequence])
        (first,) = cur.fetchone()
        cur.execute("SELECT setval(%s, %s)", [sequence, first - 1 + count])
        return first - 1


def secondary_indexes(table: str) -> list[str]:
    """The CREATE INDEX statements of the table's indexes that back no constraint."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%' ORDER BY name",
                [table],
            )
        else:
            cur.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = %s AND indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = %s::regclass) AND indexdef NOT LIKE 'CREATE UNIQUE%%' "
                "ORDER BY indexname",
                [table, table],
            )
        return [row[0] for row in cur.fetchall()]


def index_name(statement: str) -> str:
    """The (quoted) name in a CREATE INDEX statement."""
    head = statement.split(" ON ", 1)[0].split()
    return head[-1]


@contextlib.contextmanager
def _no_pending_checks(cur) -> Iterator[None]:
    """PostgreSQL refuses to change a table's indexes while deferred foreign-key checks of
    rows written in the same transaction wait: run them now."""
    if connection.vendor != "postgresql":
        yield
        return
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    cur.execute("SET CONSTRAINTS ALL DEFERRED")


def drop_indexes(statements: list[str]) -> None:
    with connection.cursor() as cur, _no_pending_checks(cur):
        for statement in statements:
            cur.execute(f"DROP INDEX IF EXISTS {index_name(statement)}")


def create_indexes(statements: list[str]) -> None:
    with connection.cursor() as cur, _no_pending_checks(cur):
        for statement in statements:
            cur.execute(statement.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))


def sqlite_bulk():
    """A large page cache and rarer WAL checkpoints on this connection, restored after."""
    return bulk_pragmas(cache_kib=SQLITE_CACHE_KIB, checkpoint_pages=SQLITE_CHECKPOINT_PAGES)


class Background:
    """Runs write jobs in order, each in a transaction, on a thread with its own database
    connection, while the caller prepares the next; ``ahead`` jobs wait at most.

    Inside an outer transaction (a test's) the jobs run at once on the caller's connection
    instead: another connection would not see that transaction's rows.
    """

    def __init__(self, ahead: int = 2) -> None:
        self.inline = transaction.get_connection().in_atomic_block
        self._jobs: queue.Queue = queue.Queue(maxsize=ahead)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-writer", daemon=True)
        if not self.inline:
            self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        if self.inline:
            with transaction.atomic():
                job()
            return
        while True:
            self._raise()
            try:
                self._jobs.put(job, timeout=1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait for every job; raises the first job's error."""
        if not self.inline:
            while self._thread.is_alive():
                try:
                    self._jobs.put(None, timeout=1)
                    break
                except queue.Full:
                    continue
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            with sqlite_bulk():
                while (job := self._jobs.get()) is not None:
                    if self._error is None:
                        with transaction.atomic():
                            job()
        except BaseException as exc:  # handed to the caller's thread by _raise
            self._error = exc
            while self._jobs.get() is not None:  # let the caller finish putting
                pass
        finally:
            connection.close()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.close()
            return
        with contextlib.suppress(BaseException):
            self.close()
