import sys

from django.core.management.base import BaseCommand, CommandError

from phonebank.campaigns.models import Campaign
from phonebank.dashboards import targetcounts
from phonebank.dashboards.services import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Dashboards: `dashboards rebuild [--campaign SLUG] [--check]` recomputes the rollups "
        "from the calls (and, on PostgreSQL, the targets' counts by status from the targets) "
        "and repairs any that differ (--check: only report; exit 1 if any do)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rebuild = sub.add_parser("rebuild", help="recompute the rollups from the calls")
        rebuild.add_argument("--campaign", help="one campaign's slug (default: every campaign)")
        rebuild.add_argument(
            "--check", action="store_true", help="compare only; exit 1 when any differ"
        )

    def handle(self, *args, action, campaign, check, **options):
        campaigns = Campaign.objects.order_by("slug")
        if campaign:
            campaigns = campaigns.filter(slug=campaign)
            if not campaigns.exists():
                raise CommandError(f"no campaign {campaign}")
        differed_any = False
        for found in campaigns:
            differed = rollups_rebuild(campaign=found, write=not check)
            counts = targetcounts.rebuild(found, write=not check)  # PostgreSQL's kept counts
            if counts:
                differed = {**differed, "targets": len(counts)}
            if not differed:
                self.stdout.write(f"{found.slug}: matches")
                continue
            differed_any = True
            detail = ", ".join(f"{name} {n}" for name, n in sorted(differed.items()))
            verb = "differs" if check else "repaired"
            self.stdout.write(f"{found.slug}: {verb} ({detail} counters)")
        if check and differed_any:
            sys.exit(1)
