"""``action``'s index declared in Meta.indexes (same name, same index) instead of with
db_index, and on PostgreSQL the ``varchar_pattern_ops`` twin db_index had added dropped:
no query looks actions up by prefix, and every audit entry wrote it."""

from django.db import migrations, models

INDEX = "audit_logentry_action_f498be5d"


def drop_twin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}_like"')


def create_twin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{INDEX}_like" ON "audit_logentry" '
            '("action" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="logentry",
                    name="action",
                    field=models.CharField(max_length=64),
                ),
                migrations.AddIndex(
                    model_name="logentry",
                    index=models.Index(fields=["action"], name=INDEX),
                ),
            ],
            database_operations=[migrations.RunPython(drop_twin, create_twin)],
        ),
    ]
