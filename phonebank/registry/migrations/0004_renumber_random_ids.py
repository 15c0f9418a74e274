"""Existing declarations, organisation rows and withdrawals get random keys.

Until 0003 their keys came from a sequence, in the order they were written, which a reader
of the database could line up with the calls (docs/registry.md, "What links a declaration
to a call"). Every row gets a key from `random_id()`; the organisation rows and withdrawals
follow their declaration's new key. Set-based, through a temporary table filled a chunk at
a time, so memory stays flat however many rows there are.

Going back (to 0002, whose keys come from a sequence again) numbers the rows 1 … N in the
order of their random keys, which is no order of writing, and the sequence goes on from N.

In its own migration (its own transaction) so that, on PostgreSQL, the updates' deferred
foreign-key checks are done before any table is altered.
"""

from django.db import IntegrityError, migrations, transaction

from phonebank.lib.randomid import random_ids

CHUNK = 5000
DECLARATION = "registry_declaration"
CHILDREN = [("registry_declarationorganisation", "declaration_id"), ("registry_withdrawal", "declaration_id")]
TABLES = [(DECLARATION, CHILDREN), ("registry_declarationorganisation", []), ("registry_withdrawal", [])]
MAP = "registry_renumber_map"
SMALLEST = -(2**63)


def _renumber(connection, table, children, keys):
    """Gives every row of `table` the key `keys(old_ids, state)` names, and points the
    children's foreign keys at it. New keys must be distinct and disjoint from all old ones
    (checked by the map's constraints; `keys` is asked again on a clash)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id), COUNT(*) FROM {table}")  # noqa: S608 - our table names  # nosec B608
        top, count = cursor.fetchone()
        if not count:
            return
        cursor.execute(f"CREATE TEMPORARY TABLE {MAP} (old bigint PRIMARY KEY, new bigint NOT NULL UNIQUE)")
        state = {"top": top, "done": 0}
        last = SMALLEST
        while True:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id > %s ORDER BY id LIMIT {CHUNK}",  # noqa: S608  # nosec B608
                [last],
            )
            old = [row[0] for row in cursor.fetchall()]
            if not old:
                break
            last = old[-1]
            for attempt in range(5):
                new = keys(old, state)
                try:
                    with transaction.atomic(using=connection.alias):  # a clash undoes this chunk only
                        cursor.executemany(f"INSERT INTO {MAP} (old, new) VALUES (%s, %s)", list(zip(old, new)))  # noqa: S608  # nosec B608
                except IntegrityError:
                    if attempt == 4:
                        raise
                    continue
                break
            state["done"] += len(old)
        for child, column in children:
            cursor.execute(
                f"UPDATE {child} SET {column} = (SELECT new FROM {MAP} WHERE old = {child}.{column})"  # noqa: S608  # nosec B608
            )
        cursor.execute(f"UPDATE {table} SET id = (SELECT new FROM {MAP} WHERE old = {table}.id)")  # noqa: S608  # nosec B608
        cursor.execute(f"DROP TABLE {MAP}")


def _random_keys(old, state):
    """Random keys above every old one (so no new key can equal a key not yet renumbered)."""
    while True:
        new = random_ids(len(old))
        if min(new) > state["top"]:
            return new


def _negative_ranks(old, state):
    """−1, −2, … in the order of the (random) keys: disjoint from them, negated afterwards."""
    start = state["done"]
    return [-(start + i + 1) for i in range(len(old))]


def forwards(apps, schema_editor):
    for table, children in TABLES:
        _renumber(schema_editor.connection, table, children, _random_keys)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    for table, children in TABLES:
        _renumber(connection, table, children, _negative_ranks)
        with connection.cursor() as cursor:
            for child, column in children:
                cursor.execute(f"UPDATE {child} SET {column} = -{column}")  # noqa: S608  # nosec B608
            cursor.execute(f"UPDATE {table} SET id = -id")  # noqa: S608  # nosec B608


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_random_ids")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
