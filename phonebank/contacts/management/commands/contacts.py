import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from phonebank.campaigns.models import Campaign
from phonebank.contacts import selectors, services
from phonebank.contacts.management.commands._progress import import_progress
from phonebank.contacts.models import ImportStatus
from phonebank.contacts.reader import FileProblem, parse_mapping


class Command(BaseCommand):
    help = "Contacts: `contacts import FILE --campaign SLUG`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a CSV or XLSX file into a campaign")
        imp.add_argument("file", type=Path)
        imp.add_argument("--campaign", required=True)
        imp.add_argument(
            "--default-region",
            default="",
            help="country for numbers without a country code (default: the "
            "campaign's, normally CN)",
        )
        imp.add_argument("--rejects", type=Path, help="write rejected rows to this CSV file")
        imp.add_argument(
            "--map", default="", dest="mapping", help="explicit columns, e.g. phone=手机,name=2"
        )
        imp.add_argument(
            "--json", action="store_true", help="no progress bar; the last line is a JSON summary"
        )

    def handle(self, *args, **opts):
        campaign = Campaign.objects.filter(slug=opts["campaign"]).first()
        if campaign is None:
            raise CommandError(f"no campaign {opts['campaign']!r}")
        try:
            mapping = parse_mapping(opts["mapping"])
        except FileProblem as exc:
            raise CommandError(str(exc)) from exc
        show = not opts["json"] and sys.stderr.isatty()
        with import_progress(show, opts["file"].name) as (on_start, on_progress):
            try:
                job = services.contacts_import_file(
                    path=opts["file"],
                    campaign=campaign,
                    actor=None,
                    mapping=mapping,
                    default_region=opts["default_region"].upper(),
                    progress=on_progress,
                    on_start=on_start,
                )
            except FileProblem as exc:
                raise CommandError(f"{opts['file']}: {exc}") from exc
        if job.status != ImportStatus.FINISHED:
            raise CommandError(job.error or "the import did not finish")
        if opts["rejects"]:
            with open(opts["rejects"], "w", encoding="utf-8", newline="") as fh:
                for chunk in selectors.rejects_csv(job):
                    fh.write(chunk)
        summary = {
            "imported": job.imported,
            "duplicates": job.duplicates,
            "rejected": job.rejected,
            "skipped_dnc": job.skipped_dnc,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"imported {job.imported}, duplicates {job.duplicates}, rejected "
                f"{job.rejected}, on do-not-call {job.skipped_dnc}"
                + (f" (rejects in {opts['rejects']})" if opts["rejects"] and job.rejected else "")
            )
