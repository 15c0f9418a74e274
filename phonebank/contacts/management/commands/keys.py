import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from phonebank.audit.services import log_action
from phonebank.contacts import services


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Command(BaseCommand):
    help = "Data keys: `keys status`, `keys rotate` (new key, re-encrypt), `keys retire`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="key ids, which is current, which are still in use")
        sub.add_parser("rotate", help="add a new current key and re-encrypt everything")
        sub.add_parser("retire", help="drop old keys that no stored value uses any more")

    def _keyring_path(self) -> Path:
        source = settings.PHONEBANK_DATA_KEY_SOURCE
        if source == "PHONEBANK_DATA_KEY":
            raise CommandError(
                "the keyring comes from the PHONEBANK_DATA_KEY variable; rotate needs it in a "
                "file: put it in a file readable only by this user and set PHONEBANK_DATA_KEY_FILE"
            )
        return Path(source)

    def handle(self, *args, action, **options):
        ring = settings.PHONEBANK_KEYRING
        if action == "status":
            used = services.key_ids_in_use()
            for kid in ring.data_keys:
                flags = ["current"] if kid == ring.current else []
                flags.append("in use" if kid in used else "unused")
                self.stdout.write(f"{kid}\t{', '.join(flags)}")
            return
        path = self._keyring_path()
        if action == "rotate":
            new = ring.with_new_key()
            _write_private(path, new.dumps())
            settings.PHONEBANK_KEYRING = new
            changed = services.reseal_all(
                progress=lambda n: self.stderr.write(f"\rre-encrypted {n} rows", ending="")
            )
            self.stderr.write("")
            with transaction.atomic():
                log_action(None, "keys.data.rotated", actor=None, new=new.current, rows=changed)
            self.stdout.write(
                f"new current key {new.current}; re-encrypted {changed} rows. Restart the "
                "server and workers so they load the new key, then run `phonebank keys retire`."
            )
        else:
            used = services.key_ids_in_use()
            keep = {k for k in ring.data_keys if k in used}
            dropped = sorted(set(ring.data_keys) - keep - {ring.current})
            if not dropped:
                self.stdout.write("no key to retire")
                return
            _write_private(path, ring.without_keys_except(keep).dumps())
            with transaction.atomic():
                log_action(None, "keys.data.retired", actor=None, keys=dropped)
            self.stdout.write(f"retired {', '.join(dropped)}")
