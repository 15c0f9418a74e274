from django.core.management.base import BaseCommand, CommandError

from phonebank.accounts import services
from phonebank.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "API tokens: `token create NAME` prints a new token (shown once, stored hashed)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="print a new API token for a user")
        create.add_argument("name", help="the user's username")
        create.add_argument("--label", default="", help="what the token is for")
        listing = sub.add_parser("list", help="a user's tokens (never the tokens themselves)")
        listing.add_argument("name")

    def handle(self, *args, action, name, **options):
        user = User.objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"no user {name!r}")
        if action == "create":
            _token, raw = services.token_create(user=user, actor=None, name=options["label"])
            self.stdout.write(raw)
        else:
            for t in ApiToken.objects.filter(user=user).order_by("id"):
                state = "revoked" if t.revoked_at else "active"
                self.stdout.write(f"{t.pk}\t{t}\t{state}\t{t.name}")
