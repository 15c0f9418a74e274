# The user's status and trust now live on each membership (0004 copied them there).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_vetting_per_campaign"),
    ]

    operations = [
        migrations.RemoveField(model_name="user", name="status"),
        migrations.RemoveField(model_name="user", name="trusted"),
    ]
