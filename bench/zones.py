"""Benchmark: reading a campaign's time zones for the claim, against scanning its queue.

    uv run python bench/zones.py [--targets 200000] [--repeat 7] [--database-url URL] [--json]

The claim asks only about the time zones where it is calling time now, so it needs the
zones a campaign's contacts are in (``calling.selectors.campaign_zones``). It reads them
from ``CampaignZone``, which the import fills. The baseline, measured in the same run on
the same database, is the scan that was used before (and is still the fallback for a
campaign with nothing noted): the distinct zones of the campaign's open targets, joined
with their contacts.

In a throwaway PHONEBANK_HOME (SQLite) or an empty ``--database-url`` database, it imports
N synthetic contacts into one campaign with ``contacts_import_file``. Then it times each
read ``--repeat`` times with the process cache cleared, and prints the medians and their
ratio. This is a benchmark, not a test: it prints figures and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

import benchhome


def _median_ms(read, repeat: int) -> tuple[float, list[str]]:
    from django.core.cache import cache

    times, zones = [], []
    for _ in range(repeat):
        cache.clear()
        began = time.perf_counter()
        zones = read()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e3, zones


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="phonebank-zones-"))
    benchhome.setup(tmp / "home", args.database_url)
    from django.db import connection

    from phonebank.calling import selectors
    from phonebank.calling.models import CampaignZone
    from phonebank.campaigns.demo import synthetic_rows
    from phonebank.campaigns.services import campaign_create
    from phonebank.contacts import services as contacts

    campaign = campaign_create(slug="zones", name="zones", actor=None)
    path = tmp / "contacts.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["手机", "姓名", "单位", "职务"])
        out.writerows(synthetic_rows(args.targets, seed=args.seed))
    contacts.POOL_MIN_ROWS = 10**12  # parse in this process: the import's speed is not measured
    began = time.perf_counter()
    job = contacts.contacts_import_file(path=path, campaign=campaign, actor=None)
    imported = time.perf_counter() - began

    noted, zones = _median_ms(lambda: selectors.campaign_zones(campaign), args.repeat)
    CampaignZone.objects.filter(campaign=campaign).delete()  # what the fallback then reads
    scanned, scanned_zones = _median_ms(lambda: selectors.campaign_zones(campaign), args.repeat)
    if zones != scanned_zones:
        raise SystemExit(f"the two reads disagree: {zones} noted, {scanned_zones} scanned")
    figures = {
        "database": connection.vendor,
        "targets": job.imported,
        "zones": zones,
        "noted_ms": round(noted, 3),
        "scan_ms": round(scanned, 1),
        "ratio": round(scanned / noted, 1),
        "import_s": round(imported, 1),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"campaign time zones, {figures['database']}, {job.imported:,} targets "
        f"(imported in {imported:.1f} s), medians of {args.repeat}, cache cleared each time\n"
        f"  read from CampaignZone:          {noted:8.2f} ms  {zones}\n"
        f"  baseline, scan of the queue:     {scanned:8.1f} ms\n"
        f"  ratio scan / read:               {scanned / noted:8.0f}×"
    )


if __name__ == "__main__":
    main()
