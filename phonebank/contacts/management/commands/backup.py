"""`phonebank backup`: a consistent copy of the database, taken while the application runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from phonebank.audit.services import log_action
from phonebank.lib import backup
from phonebank.lib.backup import BackupError


def human_size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # unreachable


def default_target(engine: str) -> Path:
    """PHONEBANK_HOME/backups/phonebank-<UTC time>.<sqlite3|pgdump>, the folder mode 0700."""
    folder = Path(settings.PHONEBANK_HOME) / "backups"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"phonebank-{stamp}.{backup.SUFFIX[engine]}"


def _where(source: str) -> str:
    return f"the {source} variable" if source.startswith("PHONEBANK_") else source


class Command(BaseCommand):
    help = (
        "Back up the database while phonebank runs: SQLite through its online backup API "
        "(then an integrity check of the copy), PostgreSQL through pg_dump. The backup holds "
        "the personal data encrypted and not the keys: back the keys up separately."
    )
    _shown = False  # whether a progress line is on stderr

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            "-o",
            type=Path,
            help="the file to write (default: PHONEBANK_HOME/backups/phonebank-<UTC time>."
            "sqlite3 or .pgdump); never overwritten",
        )

    def _progress(self, copied: int, total: int) -> None:
        if total > backup.STEP_PAGES:  # more than one step: worth showing
            self._shown = True
            self.stderr.write(f"\rcopied {copied:,} of {total:,} pages", ending="")

    def handle(self, *args, output: Path | None, **options):
        db = connection.settings_dict
        try:
            engine = backup.engine_of(db)
            target = output or default_target(engine)
            if not target.parent.is_dir():
                raise BackupError(f"{target.parent} is not a folder")
            started = time.monotonic()
            if engine == backup.SQLITE:
                backup.sqlite_backup(backup.sqlite_path(db), target, on_step=self._progress)
            else:
                backup.pg_dump(db, target)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        took = time.monotonic() - started
        if self._shown:
            self.stderr.write("")
        size = target.stat().st_size
        # An export of personal data (encrypted or not) is audited; the file name and size
        # say which backup, and nothing about anyone in it.
        with transaction.atomic():
            log_action(
                None,
                "backup.created",
                actor=None,
                engine=engine,
                file=target.name,
                bytes=size,
                seconds=round(took, 2),
            )
        how = "online backup API, integrity checked" if engine == backup.SQLITE else "pg_dump"
        self.stdout.write(f"backup written to {target}")
        self.stdout.write(
            f"{human_size(size)} in {took:.1f} s ({backup.ENGINE_NAMES[engine]}, {how})"
        )
        self.stdout.write(
            "It holds the personal data encrypted, and not the keys. Back up the keys "
            "separately and keep them apart from it: without its keyring this backup is "
            "unreadable, by design.\n"
            f"  data keyring:     {_where(settings.PHONEBANK_DATA_KEY_SOURCE)}\n"
            f"  log signing key:  {_where(settings.PHONEBANK_LOG_KEY_SOURCE)}\n"
            f"  secret key:       {_where(settings.PHONEBANK_SECRET_KEY_SOURCE)}"
        )
