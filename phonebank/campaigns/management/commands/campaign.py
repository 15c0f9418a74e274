from django.core.management.base import BaseCommand, CommandError

from phonebank.campaigns import services
from phonebank.lib import hours
from phonebank.lib.errors import DomainError


class Command(BaseCommand):
    help = "Campaigns: `campaign create SLUG --name TEXT [--hours ...]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a campaign")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--hours",
            default=hours.DEFAULT,
            help="calling hours in the contact's local time (00:00-24:00 means all day)",
        )
        create.add_argument("--default-region", default="CN")

    def handle(self, *args, action, slug, name, hours, default_region, **options):
        try:
            campaign = services.campaign_create(
                slug=slug,
                name=name,
                actor=None,
                calling_hours=hours,
                default_region=default_region.upper(),
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created campaign {campaign.slug} ({campaign.calling_hours})")
