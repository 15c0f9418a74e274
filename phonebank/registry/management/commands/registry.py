"""`phonebank registry publish`, `verify` (SPEC section 3) and `rotate-key`."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from phonebank.tlog.audit import AuditError, AuditResult, Fetch, audit, http_fetcher
from phonebank.tlog.records import key_label


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
        "`registry verify` audits a log (this one by default) and fails on any inconsistency; "
        "`registry rotate-key` replaces the log's signing key, announcing the new one in the log."
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
        rotate = sub.add_parser(
            "rotate-key",
            help="a new signing key for the log, announced in the log and signed by the old one",
        )
        rotate.add_argument(
            "--new-key-file",
            type=Path,
            metavar="PATH",
            help="only with the key in PHONEBANK_LOG_KEY: create PATH (mode 0600) with the new key",
        )

    def handle(self, *args, action, **options):
        if action == "publish":
            self._publish()
        elif action == "rotate-key":
            self._rotate(options["new_key_file"])
        else:
            self._verify(options["url"], options["state"], options["key"], options["full"])

    def _rotate(self, new_key_file: Path | None) -> None:
        from phonebank.tlog.services import KeyRotationRefused, LogRefused, log_key_rotate

        try:
            rotated = log_key_rotate(new_key_file=new_key_file)
        except (KeyRotationRefused, LogRefused) as exc:
            raise CommandError(f"rotate-key REFUSED: {exc}") from None
        done = "finished switching" if rotated.resumed else "rotated"
        cp, old, new = rotated.checkpoint, key_label(rotated.previous), key_label(rotated.key)
        lines = [
            f"{done} the log's signing key: {old} -> {new}",
            f"announced at leaf {rotated.index:,}, in the checkpoint of size {cp.size:,} "
            "(signed by both keys; later checkpoints by the new key only)",
            f"verifier  {rotated.key}",
            f"new key   {rotated.written} (mode 0600)",
        ]
        if rotated.retired is not None:
            lines += [
                f"old key   {rotated.retired} (retired, mode 0600)",
                "Running workers switch to the new key file at their next seal; /log/key and "
                "/log/keys serve the new key now.",
            ]
        else:
            lines += [
                "The old key is in PHONEBANK_LOG_KEY. Put the contents of the new key file in "
                "PHONEBANK_LOG_KEY for every server and worker and restart them, then delete "
                "the file: until they restart they refuse to sign (pending entries wait).",
            ]
        self.stdout.write("\n".join(lines))

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
        if result.followed:
            changes = ", ".join(
                f"from {key_label(c.previous)} at leaf {c.index:,}" for c in result.followed
            )
            pinned = f"handed over in the log {changes}; now pinned"
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
