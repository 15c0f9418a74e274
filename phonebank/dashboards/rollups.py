"""The rollups of call attempts: what one call adds to them, and all of them computed again
from the calls.

Every outcome adds one to a counter in each table (DayStat, HourStat, ProvinceStat,
CallerDayStat, and ObjectionStat per objection ticked) in the outcome's own transaction,
with one ``INSERT … ON CONFLICT DO UPDATE`` per table: SQLite and PostgreSQL share the
syntax. Days and hours are the contact's local ones, of the call's end.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import connection, models

from phonebank.dashboards.models import (
    CallerDayStat,
    DayStat,
    HourStat,
    ObjectionStat,
    ProvinceStat,
)
from phonebank.lib import rawsql

# Each rollup table and its key columns (attnames), in the order Rollups keeps them.
TABLES: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "days": (DayStat, ("campaign_id", "day", "outcome")),
    "hours": (HourStat, ("campaign_id", "hour", "outcome")),
    "provinces": (ProvinceStat, ("campaign_id", "province", "outcome")),
    "callers": (CallerDayStat, ("campaign_id", "caller_id", "day", "outcome")),
    "objections": (ObjectionStat, ("campaign_id", "entry_id", "day", "outcome")),
}


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(moment: datetime, zone: str) -> datetime:
    """The moment on the contact's wall clock."""
    return moment.astimezone(_zone(zone or "UTC"))


@dataclass
class Rollups:
    """Counters keyed as the tables are: one Counter per table."""

    days: Counter = field(default_factory=Counter)
    hours: Counter = field(default_factory=Counter)
    provinces: Counter = field(default_factory=Counter)
    callers: Counter = field(default_factory=Counter)
    objections: Counter = field(default_factory=Counter)

    def add_call(
        self,
        *,
        campaign_id: int,
        caller_id: int | None,
        ended_at: datetime,
        outcome: str,
        province: str,
        zone: str,
        objections: Iterable[int] = (),
        n: int = 1,
    ) -> None:
        """Count one call (or ``n`` alike)."""
        when = local(ended_at, zone)
        day = when.date()
        self.days[(campaign_id, day, outcome)] += n
        self.hours[(campaign_id, when.hour, outcome)] += n
        self.provinces[(campaign_id, province or "", outcome)] += n
        if caller_id is not None:
            self.callers[(campaign_id, caller_id, day, outcome)] += n
        for entry in objections:
            self.objections[(campaign_id, entry, day, outcome)] += n

    def tables(self) -> dict[str, Counter]:
        return {name: getattr(self, name) for name in TABLES}


def _upsert(model: type[models.Model], keys: tuple[str, ...], rows_sql: str) -> str:
    """``INSERT INTO`` model's key columns and calls ``rows_sql`` (VALUES or a SELECT),
    adding the calls to a counter that is there already."""
    q = connection.ops.quote_name
    columns = ", ".join(q(model._meta.get_field(k).column) for k in keys)
    name = rawsql.table(model)
    return (
        f"INSERT INTO {name} ({columns}, {q('calls')}) {rows_sql} "  # nosec B608 - identifiers from model metadata, values as parameters
        f"ON CONFLICT ({columns}) DO UPDATE SET {q('calls')} = {name}.{q('calls')} + "
        f"excluded.{q('calls')}"
    )


@functools.lru_cache(maxsize=16)
def _upsert_sql(model: type[models.Model], keys: tuple[str, ...], vendor: str) -> str:
    return _upsert(model, keys, f"VALUES ({', '.join(['%s'] * (len(keys) + 1))})")


def _param(value):
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


def _rows(counter: Counter) -> list[list]:
    """A table's counters as parameter rows: the key's values, then the count."""
    return [[*(_param(v) for v in key), n] for key, n in counter.items() if n]


def write(rollups: Rollups) -> None:
    """Add the counters to the tables (inside the caller's transaction)."""
    with connection.cursor() as cursor:
        for name, counter in rollups.tables().items():
            if not counter:
                continue
            model, keys = TABLES[name]
            sql = _upsert_sql(model, keys, connection.vendor)
            rows = _rows(counter)
            if len(rows) == 1:
                cursor.execute(sql, rows[0])
            else:
                for start in range(0, len(rows), 1000):
                    cursor.executemany(sql, rows[start : start + 1000])


@functools.lru_cache(maxsize=32)
def _upsert_from_sql(
    model: type[models.Model], keys: tuple[str, ...], rows: int, source: str, vendor: str
) -> str:
    fields = [model._meta.get_field(k) for k in keys]
    # Typed values: in VALUES under a SELECT, untyped literals would be taken as text.
    row = "(" + ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields) + ", %s::integer)"
    return _upsert(
        model,
        keys,
        f"SELECT v.* FROM {source}, (VALUES {', '.join([row] * rows)}) AS v",  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
    )


def write_from(rollups: Rollups, source: str) -> list[tuple[str, list]]:
    """``write()``'s upserts as statements and parameters, each ``INSERT … SELECT … FROM
    source``: for a data-modifying WITH on PostgreSQL, where ``source`` is the row the
    call's own statement wrote (no row there, nothing counted)."""
    statements = []
    for name, counter in rollups.tables().items():
        rows = _rows(counter)
        if rows:
            model, keys = TABLES[name]
            sql = _upsert_from_sql(model, keys, len(rows), source, connection.vendor)
            statements.append((sql, [value for row in rows for value in row]))
    return statements


def stored(campaign_id: int) -> Rollups:
    """The rollups of a campaign as the tables hold them now."""
    found = Rollups()
    for name, (model, keys) in TABLES.items():
        counter = found.tables()[name]
        for row in model.objects.filter(campaign_id=campaign_id).values_list(*keys, "calls"):
            if row[-1]:
                counter[tuple(row[:-1])] = row[-1]
    return found


def compute(campaign_id: int, *, after_id: int = 0, upto_id: int | None = None) -> Rollups:
    """The rollups of a campaign computed from its call attempts (ids in (after_id, upto_id]),
    the independent reckoning the incremental counters must equal."""
    from phonebank.calling.models import CallAttempt

    found = Rollups()
    attempts = CallAttempt.objects.filter(campaign_id=campaign_id, pk__gt=after_id)
    if upto_id is not None:
        attempts = attempts.filter(pk__lte=upto_id)
    rows = attempts.values_list(
        "caller_id",
        "ended_at",
        "outcome",
        "target__contact__province",
        "target__contact__timezone",
        "campaign__default_timezone",
    )
    for caller_id, ended_at, outcome, province, zone, default_zone in rows.iterator(
        chunk_size=20_000
    ):
        found.add_call(
            campaign_id=campaign_id,
            caller_id=caller_id,
            ended_at=ended_at,
            outcome=outcome,
            province=province,
            zone=zone or default_zone,
        )
    through = CallAttempt.objections.through.objects.filter(
        callattempt__campaign_id=campaign_id, callattempt_id__gt=after_id
    )
    if upto_id is not None:
        through = through.filter(callattempt_id__lte=upto_id)
    for entry, ended_at, outcome, zone, default_zone in through.values_list(
        "playbookentry_id",
        "callattempt__ended_at",
        "callattempt__outcome",
        "callattempt__target__contact__timezone",
        "callattempt__campaign__default_timezone",
    ).iterator(chunk_size=20_000):
        day = local(ended_at, zone or default_zone).date()
        found.objections[(campaign_id, entry, day, outcome)] += 1
    return found


def delete(campaign_id: int) -> None:
    for model, _keys in TABLES.values():
        model.objects.filter(campaign_id=campaign_id).delete()


def differences(a: Rollups, b: Rollups) -> dict[str, int]:
    """How many keys differ between two sets of rollups, per table (0s left out)."""
    out = {}
    for name in TABLES:
        x, y = a.tables()[name], b.tables()[name]
        keys = {k for k in set(x) | set(y) if x.get(k, 0) != y.get(k, 0)}
        if keys:
            out[name] = len(keys)
    return out
