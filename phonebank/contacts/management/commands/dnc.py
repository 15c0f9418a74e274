import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from phonebank.contacts import services
from phonebank.contacts.management.commands._progress import import_progress
from phonebank.contacts.models import ImportKind
from phonebank.contacts.reader import FileProblem
from phonebank.lib.errors import DomainError


class Command(BaseCommand):
    help = "The installation-wide do-not-call list."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="never call this number again")
        add.add_argument("number")
        add.add_argument("--reason", default="")
        remove = sub.add_parser("remove", help="take a number off the list (a mistake)")
        remove.add_argument("number")
        remove.add_argument("--reason", default="")
        check = sub.add_parser("check", help="is this number on the list?")
        check.add_argument("number")
        imp = sub.add_parser("import", help="add every number of a CSV or XLSX file")
        imp.add_argument("file", type=Path)
        imp.add_argument("--json", action="store_true")
        for p in (add, remove, check):
            p.add_argument("--default-region", default="CN")

    def handle(self, *args, action, **opts):
        try:
            if action == "add":
                _entry, created = services.dnc_add(
                    phone=opts["number"],
                    actor=None,
                    reason=opts["reason"],
                    region=opts["default_region"],
                )
                self.stdout.write("added" if created else "already on the list")
            elif action == "remove":
                entry = services.dnc_find(opts["number"], opts["default_region"])
                if entry is None:
                    raise CommandError("that number is not on the list")
                services.dnc_remove(entry=entry, actor=None, reason=opts["reason"])
                self.stdout.write("removed")
            elif action == "check":
                entry = services.dnc_find(opts["number"], opts["default_region"])
                self.stdout.write("on the list" if entry else "not on the list")
            else:
                self._import(opts)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc

    def _import(self, opts):
        show = not opts["json"] and sys.stderr.isatty()
        with import_progress(show, opts["file"].name) as (on_start, on_progress):
            try:
                job = services.contacts_import_file(
                    path=opts["file"],
                    campaign=None,
                    actor=None,
                    kind=ImportKind.DNC,
                    progress=on_progress,
                    on_start=on_start,
                )
            except FileProblem as exc:
                raise CommandError(f"{opts['file']}: {exc}") from exc
        summary = {"added": job.imported, "duplicates": job.duplicates, "rejected": job.rejected}
        self.stdout.write(
            json.dumps(summary)
            if opts["json"]
            else f"added {job.imported}, already listed {job.duplicates}, rejected {job.rejected}"
        )
