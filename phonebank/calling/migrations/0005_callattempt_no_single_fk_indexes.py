"""Drop CallAttempt's single-column campaign and caller indexes: the (campaign, ended_at)
and (caller, ended_at) indexes lead with the same columns and serve every lookup by either.
Each index is one more B-tree written by every outcome.

DROP INDEX on both databases rather than Django's AlterField, which on SQLite copies the
whole table (twice: once per field; millions of calls in a large campaign) and on
PostgreSQL leaves the index in place.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = ("calling_callattempt_caller_id_cf9dbb2e", "calling_callattempt_campaign_id_e296df23")


class Migration(migrations.Migration):
    dependencies = [
        ("calling", "0004_claim_daily_cap_and_scraping_flag"),
        ("campaigns", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="callattempt",
                    name="caller",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="callattempt",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "calling_callattempt" ("{column}")',
                )
                for name, column in zip(INDEXES, ("caller_id", "campaign_id"), strict=True)
            ],
        ),
    ]
