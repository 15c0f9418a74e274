"""Benchmark: export throughput (issue 5), CSV and XLSX, on a throwaway database.

    uv run python bench/exports.py [--calls 200000] [--formats csv,xlsx] [--database-url URL]

Makes a throwaway PHONEBANK_HOME, migrates (SQLite unless --database-url names an empty
PostgreSQL database), inserts ``--calls`` call attempts over 2,000 contacts with plain SQL,
then runs the call attempts export of each format through the worker's own functions
(``export_job_claim`` + ``export_job_run``: read, mask, defuse, write, seal) and prints rows
per second. The baseline, measured in the same run, is ``csv.writer`` alone writing the same
number of ready-made rows to memory: the ratio says how much of the export's time goes to
reading, masking and sealing.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
from pathlib import Path

import benchhome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.test_exports
    benchhome.setup(tempfile.mkdtemp(prefix="phonebank-bench-exports-"), args.database_url)
    from phonebank.accounts.services import user_create
    from phonebank.campaigns.services import campaign_create
    from phonebank.dashboards import exports
    from tests.test_exports import _bulk_calls

    campaign = campaign_create(slug="bench", name="Bench", actor=None)
    user = user_create(username="bench", password="x" * 20, role="coordinator", campaign=campaign)
    started = time.perf_counter()
    _bulk_calls(campaign, user, args.calls)
    print(f"inserted {args.calls} calls in {time.perf_counter() - started:.1f} s")

    row = ["2026-11-25T02:03:00+00:00", "2026-11-25T10:03:00+08:00", 180, "bench",
           "No answer", "no_answer", "Guangdong", "Guangzhou", "'+86 138****0001", ""]  # fmt: skip
    started = time.perf_counter()
    out = csv.writer(io.StringIO())
    for _ in range(args.calls):
        out.writerow(row)
    baseline = args.calls / (time.perf_counter() - started)
    print(f"baseline csv.writer alone: {baseline:,.0f} rows/s")
    for fmt in args.formats.split(","):
        exports.export_request(campaign=campaign, actor=user, kind="attempts", format=fmt)
        job = exports.export_job_claim()
        started = time.perf_counter()
        job = exports.export_job_run(job)
        seconds = time.perf_counter() - started
        rate = job.rows_done / seconds
        print(
            f"{fmt}: {job.status}, {job.rows_done} rows in {seconds:.1f} s: {rate:,.0f} rows/s "
            f"({rate / baseline:.2f}x baseline), {job.size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
