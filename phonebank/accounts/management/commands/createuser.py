import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from phonebank.accounts import services
from phonebank.accounts.models import Role
from phonebank.campaigns.models import Campaign
from phonebank.lib.errors import DomainError


class Command(BaseCommand):
    help = "Create a user with a role, optionally a member of a campaign."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--campaign", help="slug of a campaign to join")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )

    def handle(self, *args, name, role, campaign, password_stdin, **options):
        camp = None
        if campaign:
            camp = Campaign.objects.filter(slug=campaign).first()
            if camp is None:
                raise CommandError(f"no campaign {campaign!r}")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("the passwords differ")
        try:
            user = services.user_create(username=name, password=password, role=role, campaign=camp)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"created {user.username} ({user.role})" + (f" in {camp.slug}" if camp else "")
        )
