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


def _db_value(field, value):
    if isinstance(value, Model):  # a related instance given for a foreign key
        value = value.pk
    return field.get_db_prep_save(value, connection)


@functools.lru_cache(maxsize=64)
def _insert_sql(model: type[Model], vendor: str) -> tuple[str, tuple]:
    q = connection.ops.quote_name
    pk = model._meta.pk
    fields = tuple(f for f in model._meta.concrete_fields if f is not pk)
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(q(f.column) for f in fields)}) "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {q(pk.column)}"
    )
    return sql, fields


def _saved_values(instance: Model, fields: tuple) -> list | None:
    """What ``save()`` would write to ``fields`` of a new instance (pre_save, then
    get_db_prep_save), or None if a value is an expression (e.g. a database default)."""
    values = [f.pre_save(instance, True) for f in fields]
    if any(hasattr(v, "resolve_expression") for v in values):
        return None
    return [_db_value(f, v) for f, v in zip(fields, values, strict=True)]


def insert(instance: Model) -> Model:
    """Save a new instance (automatic primary key) with one INSERT … RETURNING: what
    ``Model.save()`` does for it (each field's pre_save, e.g. auto_now_add, then its
    get_db_prep_save, e.g. sealing or JSON), without compiling the query. Sends no model
    signals; phonebank connects none. Anything but plain values goes through save()."""
    sql, fields = _insert_sql(type(instance), connection.vendor)
    values = _saved_values(instance, fields)
    if values is None:
        instance.save(force_insert=True)
        return instance
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


@functools.lru_cache(maxsize=64)
def _insert_from_sql(
    model: type[Model], source: str, given: tuple[tuple[str, str], ...], vendor: str
) -> tuple[str, tuple]:
    q = connection.ops.quote_name
    pk = model._meta.pk
    fields = tuple(f for f in model._meta.concrete_fields if f is not pk)
    sql_of = dict(given)
    # Each value is cast to its column's type: in a SELECT list an untyped literal or NULL
    # would otherwise be taken as text.
    values = ", ".join(sql_of.get(f.attname) or f"%s::{f.cast_db_type(connection)}" for f in fields)
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(q(f.column) for f in fields)}) "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"SELECT {values} FROM {source} RETURNING {q(pk.column)}"
    )
    return sql, tuple(f for f in fields if f.attname not in sql_of)


def insert_from(instance: Model, source: str, **sql_of: str) -> tuple[str, list]:
    """``insert()``'s statement and parameters as ``INSERT … SELECT … FROM source``, for a
    data-modifying WITH on PostgreSQL: one row for each row of ``source`` (none, none).
    ``sql_of`` gives some columns (by attname) as SQL over ``source`` instead of values,
    e.g. ``object_id="a.id::text"``; the instance's primary key is not set here."""
    sql, fields = _insert_from_sql(
        type(instance), source, tuple(sorted(sql_of.items())), connection.vendor
    )
    values = _saved_values(instance, fields)
    if values is None:
        raise ValueError("insert_from() takes plain values only")
    return sql, values


@functools.lru_cache(maxsize=64)
def _update_sql(model: type[Model], sets: tuple[str, ...], where: tuple[str, ...], vendor: str):
    q = connection.ops.quote_name
    meta = model._meta
    set_fields = [meta.get_field(name) for name in sets]
    where_fields = [meta.get_field(name) for name in where]
    sql = (
        f"UPDATE {table(model)} SET "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        + ", ".join(f"{q(f.column)} = %s" for f in set_fields)
        + " WHERE "
        + " AND ".join(f"{q(f.column)} = %s" for f in where_fields)
    )
    return sql, set_fields, where_fields


def update_sql(model: type[Model], where: dict, values: dict) -> tuple[str, list]:
    """The statement and parameters of ``update()``, to run as part of another one."""
    sql, set_fields, where_fields = _update_sql(
        model, tuple(values), tuple(where), connection.vendor
    )
    params = [_db_value(f, v) for f, v in zip(set_fields, values.values(), strict=True)]
    for f, v in zip(where_fields, where.values(), strict=True):
        if v is None:
            raise ValueError(f"{f.name}: compare with None through the ORM (IS NULL)")
        params.append(_db_value(f, v))
    return sql, params


def update(model: type[Model], where: dict, values: dict) -> int:
    """``UPDATE model SET values WHERE`` every ``where`` field equals its value (none may be
    None), as ``model.objects.filter(**where).update(**values)`` with plain values would;
    the number of rows changed. Field names as in the ORM (a foreign key takes an
    instance or an id)."""
    sql, params = update_sql(model, where, values)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
