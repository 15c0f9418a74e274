"""Benchmark: the contact import against a bare phonenumbers loop (SPEC section 4).

    uv run python bench/import.py [--rows N] [--processes P] [--repeat R]
                                  [--database-url URL] [--json]

Writes N synthetic contacts (header 手机,姓名,单位,职务; 13x/15x/18x mobiles, ~1% invalid
rows, ~2% duplicates, seeded) to a CSV file in a temporary folder, then measures in one run,
R rounds (default 3) alternating which of 1 and 2 goes first:

1. the baseline: ``phonenumbers.parse(raw, "CN")``, ``is_valid_number`` and
   ``format_number(E164)`` over the same phone cells, one process, in rows/s;
2. the real import path, ``contacts_import_file`` end to end (file checks, parsing,
   geocoding, encryption in ``--processes`` parser processes, by default what
   PHONEBANK_IMPORT_PROCESSES defaults to, SQLite or ``--database-url`` writes),
   in a child process with a throwaway PHONEBANK_HOME so its peak memory is its own;
3. the peak RSS of the importing process and of its largest worker.

Reported: each round's figures and ratio, the medians over the rounds (the ratio is the
median of the rounds' own ratios, each measured minutes apart at most on this shared
machine), the highest peak RSS, and the load average at the start and end.
Targets: import ≥ 0.5 × baseline rows/s; peak RSS < 300 MB in every process.
This is a benchmark, not a test: it prints figures and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchhome

TARGET_RATIO = 0.5
TARGET_PEAK_MB = 300

# Prefixes phonenumbers accepts as valid CN mobiles (154 is unassigned, so left out).
PREFIXES = [*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, *range(180, 190)]
INVALID = [
    "12345",  # too short
    "1380013800",  # ten digits
    "138001380001",  # twelve digits
    "10012345678",  # no such prefix
    "00000000000",
    "abc",
    "电话待补",
    "",  # the row has a name but no number
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力宇浩鹏飞云晨阳佳欣怡婷雪梅琳志海波峰斌鑫龙凯俊"
CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "成都",
    "武汉",
    "杭州",
    "南京",
    "西安",
    "重庆",
    "长沙",
    "郑州",
    "济南",
    "沈阳",
    "昆明",
    "南宁",
]
ORG_KINDS = [
    "第一中学",
    "人民医院",
    "师范大学",
    "机械厂",
    "电力公司",
    "街道办事处",
    "出版社",
    "律师事务所",
    "农业合作社",
    "研究所",
]
TITLES = [
    "教师",
    "医生",
    "工程师",
    "会计",
    "经理",
    "主任",
    "科员",
    "研究员",
    "律师",
    "护士",
    "销售",
    "司机",
    "编辑",
    "技术员",
]


# -- generation -----------------------------------------------------------------------------


def generate(path: Path, rows: int, seed: int) -> tuple[list[str], dict[str, int]]:
    """Write the CSV; return the phone cells (for the baseline) and what the import should find."""
    rng = random.Random(seed)
    phones: list[str] = []
    issued: list[str] = []  # distinct valid numbers written so far, as 11 digits
    known: set[str] = set()
    invalid = duplicates = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["手机", "姓名", "单位", "职务"])
        for _ in range(rows):
            roll = rng.random()
            if roll < 0.01:
                raw = rng.choice(INVALID)
                invalid += 1
            else:
                if roll < 0.03 and issued:
                    digits = rng.choice(issued)  # a number seen before
                else:
                    digits = f"{rng.choice(PREFIXES)}{rng.randrange(10**8):08d}"
                if digits in known:
                    duplicates += 1
                else:
                    known.add(digits)
                    issued.append(digits)
                style = rng.random()
                if style < 0.9:
                    raw = digits
                elif style < 0.95:
                    raw = f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
                else:
                    raw = f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
            org = f"{rng.choice(CITIES)}市{rng.choice(ORG_KINDS)}" if rng.random() < 0.8 else ""
            title = rng.choice(TITLES) if rng.random() < 0.7 else ""
            out.writerow([raw, name, org, title])
            phones.append(raw)
    expected = {
        "imported": len(known),
        "duplicates": duplicates,
        "rejected": invalid,
    }
    return phones, expected


# -- the baseline ---------------------------------------------------------------------------


def baseline(phones: list[str]) -> tuple[float, int]:
    """Seconds for a bare parse + validate + E.164 loop over the cells; valid numbers seen."""
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat

    parse, is_valid, fmt, e164 = (
        phonenumbers.parse,
        phonenumbers.is_valid_number,
        phonenumbers.format_number,
        PhoneNumberFormat.E164,
    )
    parse("13800138000", "CN")  # load the CN metadata outside the timing
    valid = 0
    start = time.perf_counter()
    for raw in phones:
        try:
            number = parse(raw, "CN")
        except NumberParseException:
            continue
        if is_valid(number):
            fmt(number, e164)
            valid += 1
    return time.perf_counter() - start, valid


# -- the import, in a child process ---------------------------------------------------------


class _PeakSampler(threading.Thread):
    """Samples the peak RSS (VmHWM) of every descendant process, as a cross-check.

    getrusage(RUSAGE_CHILDREN) is exact but only covers children that were reaped; pool
    workers are children of the forkserver, reaped only when it stops.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, int] = {}  # pid → KiB
        self._stop_event = threading.Event()

    def _descendants(self) -> list[int]:
        parent: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parent[int(entry)] = int(stat.rpartition(")")[2].split()[1])
        mine, found = {os.getpid()}, []
        changed = True
        while changed:
            changed = False
            for pid, ppid in parent.items():
                if ppid in mine and pid not in mine:
                    mine.add(pid)
                    found.append(pid)
                    changed = True
        return found

    def sample(self) -> None:
        for pid in self._descendants():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        kib = int(line.split()[1])
                        self.peaks[pid] = max(self.peaks.get(pid, 0), kib)
            except OSError:
                continue

    def run(self) -> None:
        while not self._stop_event.wait(0.5):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def child(args: argparse.Namespace) -> None:
    """Set up Django in a throwaway home, import the file, print one JSON line of figures."""
    if args.processes:
        os.environ["PHONEBANK_IMPORT_PROCESSES"] = str(args.processes)
    else:  # the installation's default
        os.environ.pop("PHONEBANK_IMPORT_PROCESSES", None)
    benchhome.setup(args.home, args.database_url)
    from django.conf import settings

    from phonebank.campaigns.services import campaign_create
    from phonebank.contacts.services import contacts_import_file

    campaign = campaign_create(slug="bench", name="bench", actor=None)

    sampler = _PeakSampler()
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    job = contacts_import_file(path=Path(args.csv), campaign=campaign, actor=None)
    seconds = time.perf_counter() - start
    sampler.sample()
    sampler.stop()
    # Workers are children of the forkserver: stop it so that it (and, through it, they) are
    # reaped and counted in RUSAGE_CHILDREN. _stop is what CPython's own tests use.
    from multiprocessing import forkserver

    time.sleep(0.3)  # let the forkserver reap the terminated workers first
    forkserver._forkserver._stop()  # private: there is no public way to stop it
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "status": job.status,
                "counts": job.counts(),
                "peak_importer_kib": me.ru_maxrss,
                "peak_worker_kib": max(kids.ru_maxrss, *sampler.peaks.values(), 0),
                # CPU seconds of the import: steadier than wall time on a shared machine,
                # and they show which half bounds it.
                "cpu_importer_s": me.ru_utime + me.ru_stime - before.ru_utime - before.ru_stime,
                "cpu_workers_s": kids.ru_utime + kids.ru_stime,
                "workers_seen": len(sampler.peaks),
                "processes": settings.PHONEBANK_IMPORT_PROCESSES,
            }
        )
    )


def run_import(args: argparse.Namespace, csv_path: Path, home: Path) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--csv",
        str(csv_path),
        "--home",
        str(home),
        "--processes",
        str(args.processes or 0),
    ]
    if args.database_url:
        command += ["--database-url", args.database_url]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the report -----------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--processes", type=int, default=0, help="parser processes (default: the setting's)"
    )
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    parser.add_argument("--seed", type=int, default=20240604)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of baseline and import (medians reported)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.database_url and args.repeat > 1:
        parser.error("--database-url needs --repeat 1 (each import needs an empty database)")

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="phonebank-bench-") as tmp:
        csv_path = Path(tmp) / "contacts.csv"
        say(f"generating {args.rows:,} rows …")
        phones, expected = generate(csv_path, args.rows, args.seed)
        size_mb = csv_path.stat().st_size / 1e6
        load_start = os.getloadavg()[0]
        for i in range(max(args.repeat, 1)):
            # Baseline and import alternate which goes first, so a change of load on this
            # shared machine during a round weighs on both halves alike over the rounds.
            one: dict = {"load_1min": round(os.getloadavg()[0], 1)}
            for step in ("baseline", "import") if i % 2 == 0 else ("import", "baseline"):
                if step == "baseline":
                    say(f"round {i + 1}: baseline, a bare phonenumbers loop …")
                    one["baseline_s"], one["valid"] = baseline(phones)
                else:
                    say(f"round {i + 1}: import, contacts_import_file …")
                    home = Path(tmp) / f"home{i}"
                    one.update(run_import(args, csv_path, home))
                    shutil.rmtree(home, ignore_errors=True)
            one["baseline_rows_per_s"] = args.rows / one["baseline_s"]
            one["import_rows_per_s"] = args.rows / one["seconds"]
            one["ratio"] = one["import_rows_per_s"] / one["baseline_rows_per_s"]
            rounds.append(one)
            say(
                f"  baseline {one['baseline_rows_per_s']:,.0f} rows/s, import "
                f"{one['import_rows_per_s']:,.0f} rows/s, ratio {one['ratio']:.3f}"
            )
        load_end = os.getloadavg()[0]
        del phones

    counts = rounds[-1]["counts"]
    valid = rounds[-1]["valid"]
    ratio = _median([r["ratio"] for r in rounds])
    importer_mb = max(r["peak_importer_kib"] for r in rounds) / 1024
    worker_mb = max(r["peak_worker_kib"] for r in rounds) / 1024
    checks = {
        "counts as generated": all(
            r["counts"][k] == v for r in rounds for k, v in expected.items()
        ),
        "rejected = invalid in baseline": all(
            r["counts"]["rejected"] == args.rows - r["valid"] for r in rounds
        ),
        "every import finished": all(r["status"] == "finished" for r in rounds),
    }
    figures = {
        "rows": args.rows,
        "processes": rounds[-1]["processes"],
        "database": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
        "rounds": len(rounds),
        # medians over the rounds; the ratio is the median of each round's own ratio
        "baseline_rows_per_s": round(_median([r["baseline_rows_per_s"] for r in rounds])),
        "import_rows_per_s": round(_median([r["import_rows_per_s"] for r in rounds])),
        "import_seconds": round(_median([r["seconds"] for r in rounds]), 2),
        "ratio": round(ratio, 3),
        "ratios": [round(r["ratio"], 3) for r in rounds],
        # peaks: the highest of the rounds
        "peak_importer_mb": round(importer_mb, 1),
        "peak_worker_mb": round(worker_mb, 1),
        "cpu_us_per_row_importer": round(
            _median([r["cpu_importer_s"] for r in rounds]) / args.rows * 1e6, 1
        ),
        "cpu_us_per_row_workers": round(
            _median([r["cpu_workers_s"] for r in rounds]) / args.rows * 1e6, 1
        ),
        "load_1min": {"start": round(load_start, 1), "end": round(load_end, 1)},
        "per_round": [
            {
                k: round(r[k], 3) if isinstance(r[k], float) else r[k]
                for k in ("load_1min", "baseline_rows_per_s", "import_rows_per_s", "ratio")
            }
            | {
                "peak_importer_mb": round(r["peak_importer_kib"] / 1024, 1),
                "peak_worker_mb": round(r["peak_worker_kib"] / 1024, 1),
            }
            for r in rounds
        ],
        "counts": counts,
        "expected": expected,
        "checks_ok": all(checks.values()),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(
            f"contact import, {args.rows:,} rows ({size_mb:.0f} MB CSV), {figures['database']}, "
            f"{len(rounds)} round(s); load average (1 min) {load_start:.1f} at the start, "
            f"{load_end:.1f} at the end"
        )
        for n, r in enumerate(rounds, start=1):
            print(
                f"  round {n} (load {r['load_1min']}): baseline {r['baseline_rows_per_s']:>7,.0f}, "
                f"import {r['import_rows_per_s']:>7,.0f} rows/s ({r['seconds']:.1f} s), "
                f"ratio {r['ratio']:.3f}; peak {r['peak_importer_kib'] / 1024:.0f} / "
                f"{r['peak_worker_kib'] / 1024:.0f} MB"
            )
        print(
            f"  baseline (bare phonenumbers loop), median: {figures['baseline_rows_per_s']:>9,} rows/s"
        )
        print(
            f"  import ({figures['processes']} parser process(es)), median: "
            f"{figures['import_rows_per_s']:>9,} rows/s  ({figures['import_seconds']:.1f} s)"
        )
        print(
            f"  ratio import/baseline, median of rounds:  {ratio:>9.3f}   ({verdict} ≥ {TARGET_RATIO})"
        )
        for label, mb in (("importer", importer_mb), ("largest worker", worker_mb)):
            shown = f"{mb:>7.0f} MB" if mb else "      - (none)"
            flag = "" if mb < TARGET_PEAK_MB else f"  OVER {TARGET_PEAK_MB} MB"
            print(f"  peak RSS (highest round), {label + ':':<16} {shown}{flag}")
        print(
            f"  CPU per row (median): importer {figures['cpu_us_per_row_importer']} µs, "
            f"workers {figures['cpu_us_per_row_workers']} µs (all workers together)"
        )
        print(
            "  counts: {imported:,} imported, {duplicates:,} duplicates, "
            "{rejected:,} rejected, {skipped_dnc:,} on do-not-call".format(**counts)
        )
        for label, ok in checks.items():
            if not ok:
                print(f"  CHECK FAILED: {label} (expected {expected}, baseline valid {valid:,})")
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
