"""CampaignZone: the time zones each campaign's contacts are in, noted by whatever adds
targets, so that a claim no longer scans the queue for them. Filled here from the targets
already there."""

import django.db.models.deletion
from django.db import migrations, models


def fill(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO calling_campaignzone (campaign_id, timezone) "
        "SELECT DISTINCT t.campaign_id, k.timezone FROM calling_target t "
        "INNER JOIN contacts_contact k ON k.id = t.contact_id"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("calling", "0005_callattempt_no_single_fk_indexes"),
        ("campaigns", "0001_initial"),
        ("contacts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignZone",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("timezone", models.CharField(blank=True, max_length=64)),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("campaign", "timezone"), name="campaign_zone_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
