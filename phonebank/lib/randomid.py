"""Primary keys drawn at random, for rows whose order of creation must not be readable.

A sequence (an auto-increment id) numbers rows in the order they were written, so whoever
reads the database can line two tables up by that order. The registry's rows must not line
up with the calls they came from (docs/registry.md, "What links a declaration to a call"),
so their keys are 63 random bits from `secrets` instead: no order, no count, no gaps to read.

A collision is possible but vanishingly rare (about one in 10^10 after the first million
rows); the writers retry inside a savepoint (registry/services.py). Raw SQL inserts must
supply an id from `random_id()` / `random_ids()`: the database has no default for it.
"""

from __future__ import annotations

import secrets

from django.db import models

BITS = 63  # positive in a signed 64-bit column on every backend


def random_id() -> int:
    """A key in 1 … 2^63 − 1, uniformly at random (`secrets`)."""
    while True:
        value = secrets.randbits(BITS)
        if value:
            return value


def random_ids(count: int) -> list[int]:
    """`count` distinct random keys (for bulk inserts by raw SQL)."""
    chosen: set[int] = set()
    while len(chosen) < count:
        chosen.add(random_id())
    return list(chosen)


class RandomIdField(models.BigIntegerField):
    """A primary key that defaults to `random_id()`, never to a sequence.

    On SQLite the column is declared `integer`, so that it *is* the table's rowid: with any
    other type (`bigint`) SQLite would keep its own hidden rowid beside it, numbered in the
    order rows were written — the very order this field exists to hide.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("primary_key", True)
        kwargs.setdefault("default", random_id)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("serialize", False)
        super().__init__(*args, **kwargs)

    def db_type(self, connection):
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)
