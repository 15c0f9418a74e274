"""SQLite settings for bulk writes on the current connection, restored afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def bulk_pragmas(*, cache_kib: int, checkpoint_pages: int) -> Iterator[None]:
    """A page cache of ``cache_kib`` and a WAL checkpoint every ``checkpoint_pages`` pages on
    this connection while the block runs (SQLite's defaults are 2 MB and 1,000 pages);
    nothing on other databases. Pages are only cached as they are read."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        (cache,) = cur.fetchone()
        cur.execute("PRAGMA wal_autocheckpoint")
        (checkpoint,) = cur.fetchone()
        cur.execute(f"PRAGMA cache_size = -{int(cache_kib):d}")
        cur.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages):d}")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA cache_size = {int(cache):d}")
            cur.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint):d}")
