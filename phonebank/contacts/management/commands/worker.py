import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from phonebank.contacts import services
from phonebank.registry import services as registry
from phonebank.tlog.services import LogRefused

log = logging.getLogger("phonebank.worker")


class Command(BaseCommand):
    help = (
        "Run background imports and seal the registry's batches into the log (started by "
        "`phonebank serve`; run more for more import throughput)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is queued, then exit")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks")

    def handle(self, *args, once, poll, **options):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            if not connection.in_atomic_block:  # a caller's transaction (a test) keeps its own
                close_old_connections()
            self._registry()
            self._prune_sign_in_attempts()
            self._fold_target_counts()
            job = services.import_job_claim()
            if job is not None:
                self.stdout.write(f"import {job.pk}: running")
                try:
                    job = services.import_job_run(job)
                except Exception as exc:
                    # Only the type: a message could quote a row of the file. The job stays
                    # "running" and is resumed from its last batch when its heartbeat ages.
                    log.error("import %s stopped by %s", job.pk, type(exc).__name__)
                    time.sleep(poll)
                    continue
                self.stdout.write(f"import {job.pk}: {job.status} {job.counts()}")
                continue
            if self._exports():
                continue
            if once:
                return
            time.sleep(poll)

    def _registry(self) -> None:
        """Seals the registry's pending batch once its period is over; prunes throttles."""
        try:
            sealed = registry.registry_publish_due(settings.PHONEBANK_LOG_BATCH_SECONDS)
            registry.throttles_prune()
        except LogRefused as exc:
            log.error("registry: %s", exc)
            return
        if sealed is not None:
            self.stdout.write(f"registry: sealed {sealed.added} entries; log size {sealed.size}")

    _pruned_at = None  # monotonic time of the last prune

    def _prune_sign_in_attempts(self) -> None:
        """Once a minute: sign-in throttling records past their cool-off go."""
        from phonebank.accounts.throttle import attempts_prune

        if self._pruned_at is None or time.monotonic() - self._pruned_at >= 60:
            attempts_prune()
            self._pruned_at = time.monotonic()

    _folded_at = None  # monotonic time the target counts were last folded

    def _fold_target_counts(self) -> None:
        """Once a minute: the dashboards' target counts (PostgreSQL) folded into one row per
        campaign and status (dashboards/targetcounts.py)."""
        from phonebank.dashboards import targetcounts

        if self._folded_at is None or time.monotonic() - self._folded_at >= 60:
            targetcounts.compact()
            self._folded_at = time.monotonic()

    _expired_at = None  # monotonic time exports were last expired

    def _exports(self) -> bool:
        """Runs one queued export, if any (True when it did); once a minute deletes the
        exports past their expiry."""
        from phonebank.dashboards import exports

        if self._expired_at is None or time.monotonic() - self._expired_at >= 60:
            exports.exports_expire()
            self._expired_at = time.monotonic()
        job = exports.export_job_claim()
        if job is None:
            return False
        job = exports.export_job_run(job)  # a failure is recorded on the job
        self.stdout.write(f"export {job.pk}: {job.status} {job.rows_done} rows")
        return True
