import argparse

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phonebank.campaigns import demo
from phonebank.campaigns.management.commands.serve import defaults_for, serve


class Command(BaseCommand):
    help = "Set up a demo installation (synthetic data) in PHONEBANK_HOME and serve it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="set up, then exit")
        parser.add_argument(
            "--size",
            choices=["small", "large"],
            default="small",
            help="small: one campaign, 2,000 contacts; large: also 1,000,000 contacts with "
            "120 days of calls (5,000,000) and 100,000 declarations, for dashboards under load",
        )
        # Tests run the large demo tiny; the size itself is what the demo shows.
        parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
        parser.add_argument("--workers", type=int, default=None, help="gunicorn workers")

    def handle(self, *args, host, port, no_serve, size, scale, workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        creds = demo.demo_load()
        if size == "large":
            self._large(scale)
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
            default_workers, threads = defaults_for(connection.vendor)
            serve(host, port, workers or default_workers, True, self.stdout, threads=threads)

    def _large(self, scale: float) -> None:
        from phonebank.campaigns.demo_large import demo_large_load

        with Progress(
            TextColumn("[bold]{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            loaded = demo_large_load(scale=scale, progress=bar)
        if loaded.already:
            self.stdout.write(
                f"large demo already loaded: {loaded.contacts:,} contacts, "
                f"{loaded.attempts:,} calls, {loaded.declarations:,} declarations"
            )
        else:
            self.stdout.write(
                f"large demo loaded in {loaded.seconds:.0f} s: {loaded.contacts:,} contacts, "
                f"{loaded.attempts:,} calls, {loaded.declarations:,} declarations "
                f"({loaded.withdrawals:,} withdrawn)"
            )
