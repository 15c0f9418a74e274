"""Declarations, their organisation rows and withdrawals get random keys (lib/randomid.py)
instead of a sequence; 0004 renumbers the rows already there. The public order's index:
day, then place in the log."""

import phonebank.lib.randomid
from django.db import migrations, models


def _sequences_after_going_back(apps, schema_editor):
    """Run last when going back to 0002 (it is this migration's first operation): the keys
    come from a sequence again, and on PostgreSQL the new identity sequence must start after
    the rows 0004 numbered 1 … N."""
    from django.core.management.color import no_style

    tables = [apps.get_model("registry", name) for name in ("Declaration", "DeclarationOrganisation", "Withdrawal")]
    statements = schema_editor.connection.ops.sequence_reset_sql(no_style(), tables)
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0002_withdrawals_log_index_throttles'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, _sequences_after_going_back, elidable=False),
        migrations.RemoveIndex(
            model_name='declaration',
            name='registry_de_declare_7f1dcb_idx',
        ),
        migrations.AlterField(
            model_name='declaration',
            name='id',
            field=phonebank.lib.randomid.RandomIdField(default=phonebank.lib.randomid.random_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='declarationorganisation',
            name='id',
            field=phonebank.lib.randomid.RandomIdField(default=phonebank.lib.randomid.random_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='withdrawal',
            name='id',
            field=phonebank.lib.randomid.RandomIdField(default=phonebank.lib.randomid.random_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.AddIndex(
            model_name='declaration',
            index=models.Index(fields=['declared_on', 'log_index'], name='registry_decl_day_log_idx'),
        ),
    ]
