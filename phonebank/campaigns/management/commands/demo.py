from django.core.management import call_command
from django.core.management.base import BaseCommand

from phonebank.campaigns import demo
from phonebank.campaigns.management.commands.serve import serve


class Command(BaseCommand):
    help = "Set up a demo installation (synthetic data) in PHONEBANK_HOME and serve it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="set up, then exit")
        parser.add_argument(
            "--size", choices=["small"], default="small", help="small: one campaign, 2,000 contacts"
        )
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, host, port, no_serve, size, workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        creds = demo.demo_load()
        demo.demo_registry()
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS("phonebank demo is ready (synthetic data only)."))
        self.stdout.write(f"  open   {url}")
        self.stdout.write(
            f"  public registry {url}registry/   transparency log {url}log/checkpoint"
        )
        for name, password in creds.items():
            self.stdout.write(f"  sign in as {name:<12} password {password}")
        if not no_serve:
            serve(host, port, workers, True, self.stdout)
