"""Shared by the import commands: run an import with a rich progress bar or quietly."""

from __future__ import annotations

import contextlib

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def import_progress(enabled: bool, label: str):
    """Yields (on_start, on_progress) callbacks for contacts_import_file."""
    if not enabled:
        yield None, None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "new {task.fields[imported]} · dup {task.fields[duplicates]} · "
            "rejected {task.fields[rejected]}"
        ),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None, imported=0, duplicates=0, rejected=0)

        def on_progress(job):
            bar.update(
                task,
                total=job.rows_total,
                completed=job.rows_done,
                imported=job.imported,
                duplicates=job.duplicates,
                rejected=job.rejected,
            )

        yield on_progress, on_progress
