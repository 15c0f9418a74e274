"""Vetting moves from the user to each campaign membership.

Each membership takes its user's status and trust as they were, so an existing installation
keeps working: a caller approved (or suspended, or trusted) before is so in each campaign
they are in. New memberships start pending. 0005 then drops the user's columns.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_to_memberships(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("accounts", "Membership")
    of_user = User.objects.filter(pk=OuterRef("user_id"))
    Membership.objects.update(
        status=Subquery(of_user.values("status")[:1]),
        trusted=Subquery(of_user.values("trusted")[:1]),
    )


def copy_back_to_users(apps, schema_editor):
    """Undo: one status per user again, the strictest of their campaigns (suspended, then
    pending, then approved); trusted only if trusted in every campaign they are in."""
    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("accounts", "Membership")
    for user in User.objects.filter(memberships__isnull=False).distinct():
        rows = list(Membership.objects.filter(user=user).values_list("status", "trusted"))
        statuses = {status for status, _trusted in rows}
        status = next(s for s in ("suspended", "pending", "approved") if s in statuses)
        User.objects.filter(pk=user.pk).update(
            status=status, trusted=all(trusted for _status, trusted in rows)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_second_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Waiting for approval"),
                    ("approved", "Approved"),
                    ("suspended", "Suspended"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="membership",
            name="trusted",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="user",
            name="suspended",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(copy_to_memberships, copy_back_to_users, elidable=False),
    ]
