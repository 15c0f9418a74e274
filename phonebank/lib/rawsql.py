"""Model instances from hand-written SQL, for the few statements on the hottest paths.

Compiling an ORM query costs 0.3-0.5 ms of CPU, more than running it: on a claim or an
outcome, compiling was most of the time spent (docs/benchmarks.md). The statements on those
paths are fixed, so they are written once in SQL; their rows become model instances here,
through the same converters the ORM applies (dates on SQLite, sealed fields decrypted), so
the instances are the ones a queryset would have given.

Only quoted column and table names are put into SQL text; values are always parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


class Columns:
    """The columns of ``model`` (all concrete fields, or ``only`` these attnames) as read
    under a table alias: ``sql`` for a SELECT list, ``load()`` to turn a row into an
    instance. Get one with ``columns()``; it is cached per database vendor."""

    def __init__(self, model: type[Model], alias: str, only: tuple[str, ...] = ()) -> None:
        fields = [f for f in model._meta.concrete_fields if not only or f.attname in only]
        self.model = model
        self.width = len(fields)
        self.names = [f.attname for f in fields]
        q = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{q(f.column)}" for f in fields)
        self._converters = []
        for index, field in enumerate(fields):
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                self._converters.append((index, col, found))

    def values(self, row: Sequence, start: int = 0) -> list:
        """The converted values of this model's columns in ``row``, from ``start``."""
        values = list(row[start : start + self.width])
        for index, col, converters in self._converters:
            value = values[index]
            for convert in converters:
                value = convert(value, col, connection)
            values[index] = value
        return values

    def load(self, row: Sequence, start: int = 0) -> Model:
        """An instance as the ORM would build it from this model's columns in ``row``."""
        return self.model.from_db(connection.alias, self.names, self.values(row, start))


@functools.lru_cache(maxsize=64)
def _columns(model: type[Model], alias: str, only: tuple[str, ...], vendor: str) -> Columns:
    return Columns(model, alias, only)


def columns(model: type[Model], alias: str, *only: str) -> Columns:
    """The (cached) Columns of ``model`` under ``alias``, for the connection in use."""
    return _columns(model, alias, only, connection.vendor)


def table(model: type[Model]) -> str:
    """The quoted table name of a model."""
    return connection.ops.quote_name(model._meta.db_table)
