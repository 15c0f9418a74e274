"""On PostgreSQL, an index in the queue's exact order (NULLS FIRST), so a claim reads the
next contact instead of sorting the campaign's whole queue. SQLite cannot declare NULLS
FIRST in an index and needs none: it sorts NULLs first already (index target_queue_idx)."""

from django.db import migrations

INDEX = "target_queue_nulls_first_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON calling_target "
            "(campaign_id, status, next_call_at ASC NULLS FIRST, id)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("calling", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
