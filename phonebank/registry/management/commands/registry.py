"""`phonebank registry publish` and `phonebank registry verify` (SPEC section 3)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from phonebank.tlog.audit import AuditError, AuditResult, Fetch, audit, http_fetcher


def local_host(allowed_hosts: list[str]) -> str:
    """A Host header this installation accepts, from the first of ALLOWED_HOSTS."""
    host = allowed_hosts[0].strip() if allowed_hosts else "*"
    if host == "*":
        return "localhost"
    return host.removeprefix(".")  # ".example.org" allows example.org itself


def local_fetcher() -> Fetch:
    """Fetches through Django's test client: the auditor sees exactly what is served."""
    from django.test import Client

    client = Client(raise_request_exception=False, HTTP_HOST=local_host(settings.ALLOWED_HOSTS))
    secure = settings.PHONEBANK_HTTPS

    def fetch(path: str) -> tuple[int, str, bytes]:
        response = client.get(path, secure=secure)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, response.get("Content-Type", ""), body

    return fetch


def default_state_path(url: str | None) -> Path:
    """PHONEBANK_HOME/audit/<digest of the URL>.json: one state file per log audited."""
    name = hashlib.sha256((url or "local").encode()).hexdigest()[:16]
    folder = Path(settings.PHONEBANK_HOME) / "audit"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder / f"{name}.json"


def _figures(table: dict[str, int]) -> str:
    return ", ".join(f"{code} {n:,}" for code, n in table.items()) or "none"


class Command(BaseCommand):
    help = (
        "The public registry's log: `registry publish` seals pending entries now; "
        "`registry verify` audits a log (this one by default) and fails on any inconsistency."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("publish", help="seal the pending registry entries into the log now")
        verify = sub.add_parser(
            "verify", help="audit a transparency log; exit status 1 on any inconsistency"
        )
        verify.add_argument(
            "--url", help="the log's site, e.g. https://example.org (default: this installation)"
        )
        verify.add_argument(
            "--state",
            type=Path,
            help="where to keep what was verified (default: PHONEBANK_HOME/audit/<url digest>.json)",
        )
        verify.add_argument(
            "--key",
            metavar="VKEY",
            help="the log's verifier key name+hex8+base64 (default: trust the first key seen)",
        )
        verify.add_argument(
            "--full", action="store_true", help="check every leaf again, not only new ones"
        )

    def handle(self, *args, action, **options):
        if action == "publish":
            self._publish()
        else:
            self._verify(options["url"], options["state"], options["key"], options["full"])

    def _publish(self) -> None:
        # Imported here: the log's services are not needed to audit.
        from phonebank.registry.services import registry_publish
        from phonebank.tlog.selectors import tree_size
        from phonebank.tlog.services import LogRefused

        try:
            sealed = registry_publish()
        except LogRefused as exc:
            raise CommandError(f"publish REFUSED: {exc}") from None
        size = tree_size()
        if sealed is None:
            self.stdout.write(f"nothing pending; the log has {size} entries")
        else:
            self.stdout.write(f"sealed {sealed.added} entries; the log now has {size} entries")

    def _verify(self, url: str | None, state: Path | None, key: str | None, full: bool) -> None:
        if url is not None:
            url = url.rstrip("/")
        state = state or default_state_path(url)
        try:
            fetch = http_fetcher(url) if url else local_fetcher()
            result = audit(fetch, state, key=key, full=full)
        except AuditError as exc:
            raise CommandError(f"verify FAILED: {exc}") from None
        self._summary(url or "the local log", state, result)

    def _summary(self, where: str, state: Path, result: AuditResult) -> None:
        c = result.counts
        if result.previous_size is None:
            pinned, since = "trusted on first use, now pinned", "first run"
        else:
            pinned, since = "pinned", f"size {result.previous_size:,} before"
        lines = [
            f"verified {where}: {result.size:,} entries",
            f"root      {base64.b64encode(result.root).decode()}",
            f"key       {result.key_id} ({pinned})",
            f"counts    {c['declarations']:,} declarations, {c['withdrawals']:,} withdrawals, "
            f"{c['active']:,} active",
            f"          organisations: {_figures(c['organisations'])}",
            f"          provinces: {_figures(c['provinces'])}",
            f"checked   {result.new_leaves:,} leaves ({since}) in {result.elapsed:.2f} s",
            f"state     {state}",
        ]
        self.stdout.write("\n".join(lines))
