"""`phonebank restore FILE --yes`: put a backup made by `phonebank backup` back in place."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from phonebank.accounts.models import User
from phonebank.audit.models import LogEntry
from phonebank.audit.services import log_action
from phonebank.contacts.models import Contact
from phonebank.contacts.services import SEALED_FIELDS, key_ids_in_use
from phonebank.lib import backup
from phonebank.lib.backup import BackupError
from phonebank.lib.crypto import DecryptionError
from phonebank.registry.models import Declaration
from phonebank.tlog.selectors import tree_size


def _database(db: dict, engine: str) -> str:
    if engine == backup.SQLITE:
        return f"the SQLite database {db['NAME']}"
    return f"the PostgreSQL database {db['NAME']!r} on {db.get('HOST') or 'the local socket'}"


def schema_state() -> tuple[list[str], list[str]]:
    """(migrations still to apply, applied migrations this code does not know)."""
    executor = MigrationExecutor(connection)
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    unknown = sorted(
        f"{a}.{n}" for a, n in loader.applied_migrations if (a, n) not in loader.disk_migrations
    )
    return [f"{m.app_label}.{m.name}" for m, _ in plan], unknown


def keyring_problems() -> list[str]:
    """What stops the keyring in force from opening the restored data: key ids it lacks,
    and a sample value of each sealed column that does not open (same ids, other keys)."""
    ring = settings.PHONEBANK_KEYRING
    problems = [
        f"values are sealed under key {kid!r}, which the keyring does not hold"
        for kid in sorted(key_ids_in_use() - set(ring.data_keys))
    ]
    q = connection.ops.quote_name
    for model, fields in SEALED_FIELDS:
        for name in fields:
            column = model._meta.get_field(name)
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT {q(column.column)} FROM {q(model._meta.db_table)} "  # noqa: S608 - identifiers from model metadata  # nosec B608
                    f"WHERE {q(column.column)} <> '' ORDER BY id LIMIT 1"
                )
                row = cur.fetchone()
            if row is None:
                continue
            try:
                ring.decrypt(row[0], column.purpose)
            except DecryptionError as exc:
                problems.append(str(exc))
    return problems


def _count(read) -> str:
    try:
        return f"{read():,}"
    except DatabaseError:
        return "?"


class Command(BaseCommand):
    help = (
        "Replace the whole database with a backup made by `phonebank backup`. Stop the server "
        "and workers first; without --yes it only checks the file and says what it would "
        "replace."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a .sqlite3 or .pgdump file from `backup`")
        parser.add_argument(
            "--yes", action="store_true", help="really replace the database with the backup"
        )

    def handle(self, *args, file: Path, yes: bool, **options):
        db = connection.settings_dict
        try:
            engine = backup.engine_of(db)
            if not file.is_file():
                raise BackupError(f"{file} is not a file")
            kind = backup.file_kind(file)
            if kind != engine:
                what = f"a {backup.ENGINE_NAMES[kind]} backup" if kind else "no backup"
                raise BackupError(
                    f"{file} is {what}; this installation's database is "
                    f"{backup.ENGINE_NAMES[engine]}, so it restores only "
                    f"{'a SQLite file' if engine == backup.SQLITE else 'a pg_dump archive'} "
                    "from `phonebank backup`"
                )
            if engine == backup.SQLITE:
                # With --yes, the copy about to replace the database is checked instead.
                backup.sqlite_check(file, integrity=not yes)
            else:
                archived = backup.pg_archive_tables(db, file)
            if not yes:
                sound = (
                    "a sound backup (integrity checked)"
                    if engine == backup.SQLITE
                    else "a pg_dump archive of phonebank"
                )
                raise BackupError(
                    f"{file} is {sound}. Restoring it replaces {_database(db, engine)} "
                    "as a whole: users, campaigns, contacts, calls, declarations, the registry "
                    "log and the audit log become the backup's, and everything written since "
                    "the backup was made is lost. Stop `phonebank serve` and `phonebank "
                    "worker`, then run again with --yes."
                )
            started = time.monotonic()
            if engine == backup.SQLITE:
                connections.close_all()  # our own connection would count as another user
                backup.sqlite_restore(file, backup.sqlite_path(db))
            else:
                self._pg_refuse_if_unsafe(archived)
                connections.close_all()
                backup.pg_restore(db, file)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        took = time.monotonic() - started
        connections.close_all()  # the next query opens the restored database
        self.stdout.write(f"restored {file} into {_database(db, engine)} in {took:.1f} s")
        self._report(file, engine)

    def _pg_refuse_if_unsafe(self, archived: set[str]) -> None:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            (others,) = cur.fetchone()
        if others:
            raise BackupError(
                f"{others} other connection(s) to the database: stop `phonebank serve` and "
                "`phonebank worker`, then restore"
            )
        extra = sorted(set(connection.introspection.table_names()) - archived)
        if extra:
            raise BackupError(
                f"the database has tables the backup lacks ({', '.join(extra[:5])}"
                f"{', ...' if len(extra) > 5 else ''}): the backup comes from an older "
                "schema, and restoring over a newer one would mix the two. Restore into an "
                "empty database instead (createdb, point DATABASE_URL at it), then run "
                "`phonebank manage migrate`"
            )

    def _report(self, file: Path, engine: str) -> None:
        self.stdout.write(
            f"users {_count(User.objects.count)}, contacts {_count(Contact.objects.count)}, "
            f"declarations {_count(Declaration.objects.count)}, registry log "
            f"{_count(tree_size)} entries, audit log {_count(LogEntry.objects.count)} entries"
        )
        pending, unknown = schema_state()
        if unknown:
            self.stdout.write(
                self.style.WARNING(
                    f"The backup comes from a newer phonebank ({len(unknown)} migrations this "
                    f"version does not know, e.g. {unknown[0]}): upgrade phonebank before "
                    "starting the server."
                )
            )
        elif pending:
            self.stdout.write(
                self.style.WARNING(
                    f"The backup comes from an older schema ({len(pending)} migrations to "
                    "apply): run `phonebank manage migrate` before starting the server."
                )
            )
        else:
            self.stdout.write("schema: current")
            with transaction.atomic():
                log_action(None, "backup.restored", actor=None, engine=engine, file=file.name)
        try:
            problems = keyring_problems()
        except DatabaseError as exc:
            self.stdout.write(f"keyring: not checked ({exc}); check after migrating")
            return
        if problems:
            raise CommandError(
                "the database is restored, but the keyring in force does not open its data: "
                + "; ".join(problems[:3])
                + ". Put back the keyring that was in use when the backup was made."
            )
        self.stdout.write("keyring: opens the restored data (a value of each sealed column)")
