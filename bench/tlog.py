"""Benchmark: the transparency log at 10,000,000 entries against pymerkle (SPEC section 4).

    uv run --group bench python bench/tlog.py [--entries 10000000] [--batch 10000]
        [--proofs 1000] [--pymerkle-entries N] [--pymerkle-proofs 200]
        [--pymerkle-memory-entries 1000000] [--database-url URL] [--profile FILE]
        [--timeout 3600] [--json]

Targets: appending ≥ 20,000 entries/s in batches (Tessera, the reference Go log, publishes
about 2,900/s on 12 cores); an inclusion proof and a consistency proof at 10,000,000 leaves
in ≤ 5 ms median server time.

The entries are realistic leaves: a pool of 4,093 declarations encoded by
``records.encode_declaration`` (Chinese aliases, 1-3 organisations, a province or none, a
2024-2025 date, phone or web), each with its receipt replaced by SHA-256(seed ‖ index) in
hex, so every entry is distinct, canonical (``records.decode`` accepts a sample) and cheap to
make again from its index (about 1.5 µs; ``encode_declaration`` itself costs ~15 µs). Every
phase makes its entries batch by batch and reports that time apart from what it measures.

Three child processes, one after the other, each with its own peak RSS:

1. **ours**: a throwaway PHONEBANK_HOME, ``phonebank manage migrate`` (SQLite; or an empty
   ``--database-url``), then in-process Django appends N entries in batches, each batch
   ``with transaction.atomic(): log_append(batch); checkpoint_sign()``: entries/s overall
   and the median over batches, CPU per entry, database size, peak RSS. Then, at size N,
   ``--proofs`` rounds of: ``GET /healthz`` (the baseline), ``GET /log/proof/inclusion``
   for a random index and ``GET /log/proof/consistency`` for a random first size, through
   Django's test ``Client``, and the same two proofs straight from ``selectors``. Server
   time is from Django's ``request_started`` to ``request_finished`` signal: the handler,
   middleware, view and JSON, not the test client's own work. The test client keeps its
   database connection between requests. Every proof served is checked afterwards with
   ``merkle.verify_inclusion`` / ``verify_consistency`` against the last checkpoint's
   root (and the first size's root read from the tiles), and a sample of leaves is read
   back and compared with the entries appended.
2. **pymerkle** (7.x, the ``bench`` dependency group): ``SqliteTree``, the persistent one,
   appending the same entries (``--pymerkle-entries``, default N) with ``append_entries``
   per batch and ``get_root()`` per batch (what a signed checkpoint needs), on the same
   SQLite settings as ours (WAL, synchronous=NORMAL). Its default hashing is RFC 6962's:
   SHA-256 with the 0x00 leaf and 0x01 node prefixes (``disable_security=False``), so its
   roots must equal ours, and they are checked. Then ``--pymerkle-proofs`` of the same
   proofs with ``prove_inclusion`` / ``prove_consistency`` on that tree, as it is after the
   appends (its subroot cache warm with what the roots needed); the first call is reported
   apart. Its inclusion path is the leaf hash followed by RFC 9162's PATH, which is checked
   with ``merkle.verify_inclusion``; its consistency proofs have their own layout and are
   checked with pymerkle's ``verify`` against the roots all three agree on.
3. **memory**: the pure core, ``merkle.MemoryTree``, leaf hashing included, a root per
   batch: the upper bound for any storage; and its proofs. Then pymerkle's ``InmemoryTree``
   (a node object per leaf and per interior node) on a sample of the entries
   (``--pymerkle-memory-entries``), appending only.

Every root, inclusion proof and root at a first size that two phases both computed must be
equal. Ratios are ours ÷ pymerkle, measured in the same run. The run gives up after
--timeout seconds. This is a benchmark, not a test: it prints figures and exits 0 unless
something broke (a proof that does not verify, roots that differ, a phase that failed).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_APPEND_PER_S = 20_000
TARGET_PROOF_MS = 5.0
TESSERA_PER_S = 2_900  # Tessera's published POSIX figure, 12 cores
HOST = "127.0.0.1"
POOL = 4093  # distinct declaration shapes; prime, so they do not line up with batches
PLACEHOLDER = "0" * 64

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力宇浩鹏飞云晨阳佳欣怡婷雪梅琳志海波峰斌鑫龙凯俊"
_CODES = "BJTJHESXNMLNJLHLSHJSZJAHFJJXSDHAHBHNGDGXHICQSCGZYNXZSNGSQHNXXJ"  # ISO 3166-2:CN
PROVINCES = [_CODES[i : i + 2] for i in range(0, len(_CODES), 2)]
ORG_KINDS = ("school", "hospital", "factory", "union", "college", "press", "bureau", "coop")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    """The resident set now (VmRSS), for what a phase holds after an earlier one's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# -- the entries ---------------------------------------------------------------------------


class Entries:
    """Leaf i, the same in every process: a declaration of the pool with a receipt of its own."""

    def __init__(self, seed: int) -> None:
        from phonebank.tlog import records

        rng = random.Random(seed)
        orgs = [f"{kind}-{n:02d}" for kind in ORG_KINDS for n in range(1, 13)]
        start = datetime.date(2024, 1, 1)
        marker = f'"receipt":"{PLACEHOLDER}"'.encode()
        self.pool: list[tuple[bytes, bytes]] = []
        for _ in range(POOL):
            alias = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
            if rng.random() < 0.3:
                alias += str(rng.randrange(1, 1000))
            leaf = records.encode_declaration(
                alias=alias,
                organisations=rng.sample(orgs, rng.choice((1, 1, 2, 3))),
                province=rng.choice(PROVINCES) if rng.random() < 0.85 else "",
                date=start + datetime.timedelta(days=rng.randrange(730)),
                source="phone" if rng.random() < 0.7 else "web",
                receipt=PLACEHOLDER,
            )
            head, found, tail = leaf.partition(marker)
            if not found:
                raise RuntimeError("encode_declaration changed: no receipt marker")
            self.pool.append((head + b'"receipt":"', b'"' + tail))
        self.key = hashlib.sha256(f"phonebank-bench-tlog-{seed}".encode()).digest()

    def entry(self, i: int) -> bytes:
        head, tail = self.pool[i % POOL]
        receipt = hashlib.sha256(self.key + i.to_bytes(8, "big")).hexdigest().encode()
        return head + receipt + tail

    def batch(self, start: int, count: int) -> list[bytes]:
        pool, key, sha = self.pool, self.key, hashlib.sha256
        out = []
        for i in range(start, start + count):
            head, tail = pool[i % POOL]
            out.append(head + sha(key + i.to_bytes(8, "big")).hexdigest().encode() + tail)
        return out

    def check(self, indices: list[int]) -> None:
        """Each sampled entry is a canonical declaration (records.decode is strict)."""
        from phonebank.tlog import records

        for i in indices:
            records.decode(self.entry(i))


def samples(seed: int, size: int, count: int) -> tuple[list[int], list[int]]:
    """The random leaf indices and first sizes the proofs use, the same in every phase."""
    rng = random.Random(seed * 1_000_003 + size)
    indices = [rng.randrange(size) for _ in range(count)]
    firsts = [rng.randrange(1, size) if size > 1 else 1 for _ in range(count)]
    return indices, firsts


def digest(proof: list[bytes]) -> str:
    return hashlib.sha256(b"".join(proof)).hexdigest()[:16]


class Batches:
    """Per batch: entries, wall seconds and CPU seconds of the measured work; progress."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.sizes: list[int] = []
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.generate_s = 0.0
        self._last = time.monotonic()
        self._started = time.monotonic()

    def add(self, count: int, wall: float, cpu: float) -> None:
        self.sizes.append(count)
        self.walls.append(wall)
        self.cpus.append(cpu)
        now = time.monotonic()
        done = sum(self.sizes)
        if now - self._last >= 15 or done == self.total:
            self._last = now
            rate = done / max(sum(self.walls), 1e-9)
            recent = [n / w for n, w in zip(self.sizes[-20:], self.walls[-20:], strict=True)]
            eta = (self.total - done) / max(done, 1) * (now - self._started)
            say(
                f"  {self.label}: {done:,}/{self.total:,} entries, {rate:,.0f}/s overall, "
                f"{percentile(recent, 50):,.0f}/s lately, {now - self._started:.0f} s, "
                f"~{eta:.0f} s to go"
            )

    def summary(self) -> dict:
        entries, wall, cpu = sum(self.sizes), sum(self.walls), sum(self.cpus)
        rates = [n / w for n, w in zip(self.sizes, self.walls, strict=True) if w > 0]
        return {
            "entries": entries,
            "batches": len(self.sizes),
            "seconds": round(wall, 2),
            "per_s": round(entries / wall) if wall else 0,
            "median_batch_per_s": round(percentile(rates, 50)),
            "p10_batch_per_s": round(percentile(rates, 10)),
            "slowest_batch_s": round(max(self.walls, default=0), 3),
            "cpu_us_per_entry": round(cpu / max(entries, 1) * 1e6, 2),
            "generate_s": round(self.generate_s, 2),
            "generate_us_per_entry": round(self.generate_s / max(entries, 1) * 1e6, 2),
        }


def timings(values: list[float]) -> dict:
    return {
        "n": len(values),
        "median_ms": ms(percentile(values, 50)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values, default=0)),
    }


# -- phase 1: ours, in-process Django ------------------------------------------------------


def child_ours(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    import cProfile
    import pstats

    from django.core.signals import request_finished, request_started
    from django.db import connection, transaction
    from django.test import Client

    from phonebank.tlog import merkle, selectors, services
    from phonebank.tlog.models import Bundle, Checkpoint

    if Bundle.objects.exists() or Checkpoint.objects.exists():
        sys.exit("bench: --database-url must name a database whose log is empty")
    entries = Entries(args.seed)
    entries.check(range(0, min(args.entries, POOL * 3), 97))
    batches = Batches("ours", args.entries)
    profiler = cProfile.Profile() if args.profile else None
    size, failures = 0, []
    while size < args.entries:
        count = min(args.batch, args.entries - size)
        t0 = time.perf_counter()
        batch = entries.batch(size, count)
        t1, c1 = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        with transaction.atomic():
            appended = services.log_append(batch)
            checkpoint = services.checkpoint_sign()
        if profiler:
            profiler.disable()
        t2, c2 = time.perf_counter(), time.process_time()
        batches.generate_s += t1 - t0
        batches.add(count, t2 - t1, c2 - c1)
        if (appended.first, appended.size, checkpoint.size) != (size, size + count, size + count):
            failures.append(f"batch at {size}: appended {appended}, checkpoint {checkpoint.size}")
        if bytes(checkpoint.root) != appended.root:
            failures.append(f"batch at {size}: checkpoint root differs from the append's")
        size += count
    rss = peak_rss_mb()
    if profiler:
        profiler.dump_stats(args.profile)
        say(f"ours: profile of the appends written to {args.profile}; the top of it:")
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)

    say("ours: database size …")
    storage = database_size(connection)

    # Proofs at size N, through the test client and straight from the selectors.
    n = size
    latest = selectors.latest_checkpoint()
    root_n = bytes(latest.root)
    indices, firsts = samples(args.seed, n, args.proofs)
    say(f"ours: {args.proofs:,} rounds of healthz, inclusion and consistency proofs at {n:,} …")
    marks: list[float] = []

    def started(**kwargs) -> None:
        marks.append(time.perf_counter())

    def finished(**kwargs) -> None:
        marks.append(time.perf_counter())

    request_started.connect(started)
    request_finished.connect(finished)
    client = Client(HTTP_HOST=HOST, raise_request_exception=True)

    def served(path: str) -> tuple[float, object]:
        marks.clear()
        response = client.get(path)
        return marks[-1] - marks[0], response

    for k in range(20):  # warm-up: imports, URL resolver, statement caches
        served("/healthz")
        served(f"/log/proof/inclusion?index={indices[k % len(indices)]}&size={n}")
        served(f"/log/proof/consistency?first={firsts[k % len(firsts)]}&second={n}")
    kinds = ("healthz", "inclusion", "consistency", "inclusion_selector", "consistency_selector")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    served_proofs: list[tuple[int, int, object, object]] = []
    for i, m in zip(indices, firsts, strict=True):
        took, health = served("/healthz")
        times["healthz"].append(took)
        took, inc = served(f"/log/proof/inclusion?index={i}&size={n}")
        times["inclusion"].append(took)
        took, con = served(f"/log/proof/consistency?first={m}&second={n}")
        times["consistency"].append(took)
        t0 = time.perf_counter()
        selectors.inclusion_proof(i, n)
        t1 = time.perf_counter()
        selectors.consistency_proof(m, n)
        t2 = time.perf_counter()
        times["inclusion_selector"].append(t1 - t0)
        times["consistency_selector"].append(t2 - t1)
        if health.status_code != 200:
            failures.append(f"GET /healthz: {health.status_code}")
        served_proofs.append((i, m, inc, con))
    request_started.disconnect(started)
    request_finished.disconnect(finished)

    say("ours: checking every proof served …")
    inclusion_digests, first_roots = [], []
    for i, m, inc, con in served_proofs:
        try:
            if inc.status_code != 200 or con.status_code != 200:
                raise ValueError(f"status {inc.status_code} / {con.status_code}")
            proof = [base64.b64decode(h) for h in json.loads(inc.content)["hashes"]]
            merkle.verify_inclusion(merkle.leaf_hash(entries.entry(i)), i, n, proof, root_n)
            inclusion_digests.append(digest(proof))
            root_m = selectors.root(m)
            proof = [base64.b64decode(h) for h in json.loads(con.content)["hashes"]]
            merkle.verify_consistency(m, n, proof, root_m, root_n)
            first_roots.append(root_m.hex())
        except (ValueError, KeyError) as exc:
            failures.append(f"proof of leaf {i} / from size {m} at {n}: {exc}")
    for i in indices[:50]:
        if selectors.leaf(i) != entries.entry(i):
            failures.append(f"leaf {i} read back differs from the entry appended")
    return {
        "database": connection.vendor,
        "append": batches.summary(),
        "peak_rss_mb": rss,
        "storage": storage,
        "size": n,
        "root": root_n.hex(),
        "checkpoints": Checkpoint.objects.count(),
        "proofs": {kind: timings(values) for kind, values in times.items()},
        "inclusion_digests": inclusion_digests,
        "first_roots": first_roots,
        "failures": failures,
    }


def database_size(connection) -> dict:
    out: dict = {}
    tables = ("tlog_bundle", "tlog_tile", "tlog_checkpoint")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            path = Path(connection.settings_dict["NAME"])
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            out["bytes"] = sum(f.stat().st_size for f in files if f.exists())
            try:
                cursor.execute(  # each table with its indexes
                    "SELECT s.tbl_name, SUM(d.pgsize) FROM dbstat d"
                    " JOIN sqlite_schema s ON s.name = d.name"
                    " WHERE s.tbl_name IN (%s, %s, %s) GROUP BY s.tbl_name",
                    list(tables),
                )
                out["objects"] = dict(cursor.fetchall())
            except Exception:  # dbstat is a compile-time option of SQLite
                out["objects"] = {}
        else:
            cursor.execute("SELECT pg_database_size(current_database())")
            out["bytes"] = cursor.fetchone()[0]
            objects = {}
            for table in tables:
                cursor.execute("SELECT pg_total_relation_size(%s)", [table])
                objects[table] = cursor.fetchone()[0]
            out["objects"] = objects
    return out


# -- phase 2: pymerkle's SqliteTree --------------------------------------------------------


def child_pymerkle(args: argparse.Namespace) -> dict:
    import pymerkle

    from phonebank.tlog import merkle

    entries = Entries(args.seed)
    path = Path(args.home) / "pymerkle.sqlite3"
    tree = pymerkle.SqliteTree(str(path), algorithm="sha256")  # RFC 6962 prefixes by default
    if (tree.algorithm, tree.leaf_prefix, tree.node_prefix) != ("sha256", b"\x00", b"\x01"):
        raise RuntimeError("pymerkle does not hash as RFC 6962 here")
    tree.con.execute("PRAGMA journal_mode=WAL")  # the settings ours runs with
    tree.con.execute("PRAGMA synchronous=NORMAL")
    total = args.pymerkle_entries
    batches = Batches("pymerkle SqliteTree", total)
    size, failures = 0, []
    while size < total:
        count = min(args.batch, total - size)
        t0 = time.perf_counter()
        batch = entries.batch(size, count)
        t1, c1 = time.perf_counter(), time.process_time()
        tree.append_entries(batch)
        tree.get_root()
        t2, c2 = time.perf_counter(), time.process_time()
        batches.generate_s += t1 - t0
        batches.add(count, t2 - t1, c2 - c1)
        size += count
    rss = peak_rss_mb()
    tree.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    storage = sum(
        f.stat().st_size for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if f.exists()
    )

    n = tree.get_size()
    root_n = tree.get_root()
    indices, firsts = samples(args.seed, n, args.proofs)
    indices, firsts = indices[: args.pymerkle_proofs], firsts[: args.pymerkle_proofs]
    say(f"pymerkle: {len(indices):,} inclusion and consistency proofs at {n:,} …")
    times: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    first_call: dict[str, float] = {}
    made = []
    for i, m in zip(indices, firsts, strict=True):
        t0 = time.perf_counter()
        inc = tree.prove_inclusion(i + 1, n)  # pymerkle counts leaves from one
        t1 = time.perf_counter()
        con = tree.prove_consistency(m, n)
        t2 = time.perf_counter()
        if not first_call:
            first_call = {"inclusion_ms": ms(t1 - t0), "consistency_ms": ms(t2 - t1)}
        else:
            times["inclusion"].append(t1 - t0)
            times["consistency"].append(t2 - t1)
        made.append((i, m, inc, con))
    say("pymerkle: checking its proofs …")
    inclusion_digests, first_roots = [], []
    for i, m, inc, con in made:
        try:
            leaf = merkle.leaf_hash(entries.entry(i))
            path_ = list(inc.path)
            if path_[0] != leaf:
                raise merkle.ProofError("the path does not start with the leaf hash")
            merkle.verify_inclusion(leaf, i, n, path_[1:], root_n)
            inclusion_digests.append(digest(path_[1:]))
            root_m = tree.get_root(m)
            con.verify(root_m, root_n)
            first_roots.append(root_m.hex())
        except (ValueError, pymerkle.InvalidProof) as exc:
            failures.append(f"pymerkle proof of leaf {i} / from size {m} at {n}: {exc!r}")
    tree.close()
    return {
        "append": batches.summary(),
        "peak_rss_mb": rss,
        "storage": {"bytes": storage},
        "size": n,
        "root": root_n.hex(),
        "first_call": first_call,
        "proofs": {kind: timings(values) for kind, values in times.items()},
        "inclusion_digests": inclusion_digests,
        "first_roots": first_roots,
        "failures": failures,
    }


# -- phase 3: the pure core, and pymerkle's InmemoryTree on a sample -----------------------


def child_memory(args: argparse.Namespace) -> dict:
    import pymerkle

    from phonebank.tlog import merkle

    entries = Entries(args.seed)
    tree = merkle.MemoryTree()
    leaf_hash = merkle.leaf_hash
    batches = Batches("merkle.MemoryTree", args.entries)
    size = 0
    while size < args.entries:
        count = min(args.batch, args.entries - size)
        t0 = time.perf_counter()
        batch = entries.batch(size, count)
        t1, c1 = time.perf_counter(), time.process_time()
        tree.extend([leaf_hash(e) for e in batch])
        tree.root()
        t2, c2 = time.perf_counter(), time.process_time()
        batches.generate_s += t1 - t0
        batches.add(count, t2 - t1, c2 - c1)
        size += count
    rss = peak_rss_mb()
    n = tree.size
    root_n = tree.root()
    indices, firsts = samples(args.seed, n, args.proofs)
    times: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    inclusion_digests, first_roots = [], []
    for i, m in zip(indices, firsts, strict=True):
        t0 = time.perf_counter()
        proof = tree.inclusion_proof(i, n)
        t1 = time.perf_counter()
        tree.consistency_proof(m, n)
        t2 = time.perf_counter()
        times["inclusion"].append(t1 - t0)
        times["consistency"].append(t2 - t1)
        inclusion_digests.append(digest(proof))
        first_roots.append(tree.root(m).hex())
    del tree
    before = rss_mb()

    sample = min(args.pymerkle_memory_entries, args.entries)
    memory = Batches("pymerkle InmemoryTree", sample)
    ptree = pymerkle.InmemoryTree(algorithm="sha256")
    size = 0
    while size < sample:
        count = min(args.batch, sample - size)
        t0 = time.perf_counter()
        batch = entries.batch(size, count)
        t1, c1 = time.perf_counter(), time.process_time()
        ptree.append_entries(batch)
        ptree.get_root()
        t2, c2 = time.perf_counter(), time.process_time()
        memory.generate_s += t1 - t0
        memory.add(count, t2 - t1, c2 - c1)
        size += count
    return {
        "append": batches.summary(),
        "peak_rss_mb": rss,
        "size": n,
        "root": root_n.hex(),
        "proofs": {kind: timings(values) for kind, values in times.items()},
        "inclusion_digests": inclusion_digests,
        "first_roots": first_roots,
        "pymerkle_inmemory": {
            **memory.summary(),
            "root": ptree.get_root().hex() if sample else "",
            "rss_growth_mb": round(rss_mb() - before, 1),
        },
        "failures": [],
    }


# -- the run -------------------------------------------------------------------------------


def run_child(mode: str, args: argparse.Namespace, env: dict, deadline: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    for name in (
        "entries",
        "batch",
        "proofs",
        "pymerkle_entries",
        "pymerkle_proofs",
        "pymerkle_memory_entries",
        "seed",
        "home",
        "profile",
    ):
        value = getattr(args, name)
        if value not in (None, ""):
            command += [f"--{name.replace('_', '-')}", str(value)]
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"bench: no time left for the {mode} phase (--timeout)")
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        command, env=env, stdout=subprocess.PIPE, text=True, check=True, timeout=left
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def cross_checks(ours: dict, theirs: dict, memory: dict) -> list[str]:
    """Roots and proofs that two phases computed for the same tree must be equal."""
    problems = []
    for label, other in (("pymerkle", theirs), ("MemoryTree", memory)):
        if other["size"] != ours["size"]:
            continue  # pymerkle on fewer entries: nothing to compare
        if other["root"] != ours["root"]:
            problems.append(f"{label}'s root at {ours['size']:,} differs from ours")
        pairs = zip(other["inclusion_digests"], ours["inclusion_digests"], strict=False)
        if any(a != b for a, b in pairs):
            problems.append(f"{label}'s inclusion proofs differ from ours")
        pairs = zip(other["first_roots"], ours["first_roots"], strict=False)
        if any(a != b for a, b in pairs):
            problems.append(f"{label}'s roots at the first sizes differ from ours")
    sample = memory["pymerkle_inmemory"]
    if sample["entries"] == ours["size"] and sample["root"] != ours["root"]:
        problems.append("pymerkle InmemoryTree's root differs from ours")
    return problems


def bench(args: argparse.Namespace) -> dict:
    deadline = time.monotonic() + args.timeout
    with tempfile.TemporaryDirectory(prefix="phonebank-tlog-") as tmp:
        home = Path(tmp) / "home"
        args.home = str(home)
        env = dict(os.environ)
        for name in ("PHONEBANK_SECRET_KEY", "PHONEBANK_DATA_KEY", "PHONEBANK_LOG_KEY"):
            env.pop(name, None)  # a throwaway keyring and log key, generated in the home
            env.pop(f"{name}_FILE", None)
        env.pop("PHONEBANK_DEBUG", None)
        env.update(
            PHONEBANK_HOME=str(home),
            PHONEBANK_HTTPS="0",
            PHONEBANK_ALLOWED_HOSTS=HOST,
            DJANGO_SETTINGS_MODULE="phonebank.settings",
        )
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        else:
            env.pop("DATABASE_URL", None)
        (home / "static").mkdir(parents=True)  # whitenoise warns when STATIC_ROOT is absent
        say("setup: phonebank manage migrate …")
        subprocess.run(
            [sys.executable, "-m", "phonebank.cli", "manage", "migrate", "--verbosity", "0"],
            env=env,
            check=True,
            timeout=max(1, min(300, deadline - time.monotonic())),
        )
        say(f"1/3 ours: appending {args.entries:,} entries in batches of {args.batch:,} …")
        ours = run_child("ours", args, env, deadline)
        say(f"2/3 pymerkle SqliteTree: appending {args.pymerkle_entries:,} entries …")
        theirs = run_child("pymerkle", args, env, deadline)
        say("3/3 merkle.MemoryTree, then pymerkle InmemoryTree on a sample …")
        memory = run_child("memory", args, env, deadline)
    failures = ours.pop("failures") + theirs.pop("failures") + memory.pop("failures")
    failures += cross_checks(ours, theirs, memory)
    for part in (ours, theirs, memory):
        part.pop("inclusion_digests")
        part.pop("first_roots")

    def ratio(a: float, b: float) -> float:
        return round(a / b, 3) if b else 0.0

    op, tp, mp = ours["proofs"], theirs["proofs"], memory["proofs"]
    health = op["healthz"]["median_ms"]
    return {
        "entries": args.entries,
        "batch": args.batch,
        "database": ours["database"],
        "ours": ours,
        "pymerkle": theirs,
        "memory": memory,
        "ratios": {
            # appending: entries/s, ours ÷ theirs (above 1: ours is faster)
            "append_vs_pymerkle": ratio(ours["append"]["per_s"], theirs["append"]["per_s"]),
            "append_median_batch_vs_pymerkle": ratio(
                ours["append"]["median_batch_per_s"], theirs["append"]["median_batch_per_s"]
            ),
            # CPU per entry of the appending process, ours ÷ theirs (below 1: ours is cheaper;
            # steadier than entries/s on a shared machine; PostgreSQL's own CPU not included)
            "append_cpu_vs_pymerkle": ratio(
                ours["append"]["cpu_us_per_entry"], theirs["append"]["cpu_us_per_entry"]
            ),
            "append_vs_memorytree": ratio(ours["append"]["per_s"], memory["append"]["per_s"]),
            "append_vs_pymerkle_inmemory": ratio(
                ours["append"]["per_s"], memory["pymerkle_inmemory"]["per_s"]
            ),
            "append_vs_tessera": ratio(ours["append"]["per_s"], TESSERA_PER_S),
            # proofs: median times, ours ÷ theirs (below 1: ours is faster)
            "inclusion_http_vs_pymerkle": ratio(
                op["inclusion"]["median_ms"], tp["inclusion"]["median_ms"]
            ),
            "consistency_http_vs_pymerkle": ratio(
                op["consistency"]["median_ms"], tp["consistency"]["median_ms"]
            ),
            "inclusion_selector_vs_pymerkle": ratio(
                op["inclusion_selector"]["median_ms"], tp["inclusion"]["median_ms"]
            ),
            "consistency_selector_vs_pymerkle": ratio(
                op["consistency_selector"]["median_ms"], tp["consistency"]["median_ms"]
            ),
            "inclusion_http_vs_healthz": ratio(op["inclusion"]["median_ms"], health),
            "consistency_http_vs_healthz": ratio(op["consistency"]["median_ms"], health),
            "inclusion_selector_vs_memorytree": ratio(
                op["inclusion_selector"]["median_ms"], mp["inclusion"]["median_ms"]
            ),
        },
        "targets_met": {
            "append": ours["append"]["per_s"] >= TARGET_APPEND_PER_S,
            "inclusion": op["inclusion"]["median_ms"] <= TARGET_PROOF_MS,
            "consistency": op["consistency"]["median_ms"] <= TARGET_PROOF_MS,
        },
        "failures": failures,
    }


def report(r: dict) -> list[str]:
    o, t, m = r["ours"], r["pymerkle"], r["memory"]
    oa, ta, ma, pa = o["append"], t["append"], m["append"], m["pymerkle_inmemory"]
    x = r["ratios"]

    def met(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    def mb(n: int) -> str:
        return f"{n / 1e6:,.0f} MB"

    lines = [
        f"transparency log, {r['entries']:,} entries in batches of {r['batch']:,}, {r['database']}",
        "append (a transaction per batch: log_append + checkpoint_sign), entries/s:",
        f"  ours:                    {oa['per_s']:>9,}  (median batch {oa['median_batch_per_s']:,}, "
        f"p10 {oa['p10_batch_per_s']:,}; {oa['seconds']:,.0f} s; CPU {oa['cpu_us_per_entry']} µs/entry)"
        f"  {met(r['targets_met']['append'])} ≥ {TARGET_APPEND_PER_S:,}",
        f"  pymerkle SqliteTree:     {ta['per_s']:>9,}  (median batch {ta['median_batch_per_s']:,}, "
        f"slowest batch {ta['slowest_batch_s']:,.1f} s; {ta['seconds']:,.0f} s; "
        f"CPU {ta['cpu_us_per_entry']} µs/entry; {ta['entries']:,} entries"
        + ("" if ta["entries"] == r["entries"] else ", A SAMPLE")
        + ")",
        f"  pymerkle InmemoryTree:   {pa['per_s']:>9,}  (a sample of {pa['entries']:,} entries)",
        f"  merkle.MemoryTree:       {ma['per_s']:>9,}  (the pure core: the upper bound)",
        f"  ratio ours/pymerkle SqliteTree: {x['append_vs_pymerkle']} overall, "
        f"{x['append_median_batch_vs_pymerkle']} median batch, CPU per entry "
        f"{x['append_cpu_vs_pymerkle']}; ours/InmemoryTree "
        f"{x['append_vs_pymerkle_inmemory']}; ours/MemoryTree {x['append_vs_memorytree']}; "
        f"ours/Tessera's published 2,900/s {x['append_vs_tessera']}",
        f"  making the entries (not measured above): {oa['generate_us_per_entry']} µs each, "
        f"{oa['generate_s']:.0f} s per phase",
        f"  database: ours {mb(o['storage']['bytes'])}"
        + "".join(f", {k} {mb(v)}" for k, v in sorted(o["storage"].get("objects", {}).items()))
        + f" (tables with their indexes); pymerkle {mb(t['storage']['bytes'])}",
        f"  peak RSS: ours {o['peak_rss_mb']:,.0f} MB, pymerkle SqliteTree "
        f"{t['peak_rss_mb']:,.0f} MB, MemoryTree {m['peak_rss_mb']:,.0f} MB, "
        f"InmemoryTree sample +{pa['rss_growth_mb']:,.0f} MB (RSS growth)",
        f"proofs at {o['size']:,} leaves, median / p99 ms (server time in-process):",
    ]
    op, tp, mp = o["proofs"], t["proofs"], m["proofs"]
    for kind in ("inclusion", "consistency"):
        http, sel = op[kind], op[f"{kind}_selector"]
        lines += [
            f"  {kind}:",
            f"    GET /log/proof/{kind}: {http['median_ms']:>8.3f} / {http['p99_ms']:.3f}"
            f"  {met(r['targets_met'][kind])} ≤ {TARGET_PROOF_MS} ms; "
            f"÷ healthz {x[f'{kind}_http_vs_healthz']}",
            f"    selectors.{kind}_proof: {sel['median_ms']:>6.3f} / {sel['p99_ms']:.3f}",
            f"    pymerkle prove_{kind}: {tp[kind]['median_ms']:>7.3f} / {tp[kind]['p99_ms']:.3f}"
            f"  ({tp[kind]['n']} calls after a first one of {t['first_call'].get(f'{kind}_ms', 0):,.1f} ms)",
            f"    MemoryTree:            {mp[kind]['median_ms']:>7.3f} / {mp[kind]['p99_ms']:.3f}",
            f"    ratio ours/pymerkle: HTTP {x[f'{kind}_http_vs_pymerkle']}, "
            f"selector {x[f'{kind}_selector_vs_pymerkle']}",
        ]
    lines.append(
        f"  GET /healthz (baseline): {op['healthz']['median_ms']:.3f} / {op['healthz']['p99_ms']:.3f}"
    )
    lines.append(
        f"checks: {op['inclusion']['n']:,} inclusion and consistency "
        f"proofs verified against checkpoint {o['size']:,} ({o['checkpoints']:,} checkpoints); "
        "roots and proofs equal across ours, pymerkle and MemoryTree"
        if not r["failures"]
        else f"CHECKS FAILED ({len(r['failures'])}): " + "; ".join(r["failures"][:5])
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="entries per transaction")
    parser.add_argument("--proofs", type=int, default=1000, help="proof requests of each kind")
    parser.add_argument(
        "--pymerkle-entries", type=int, default=None, help="entries for SqliteTree (default all)"
    )
    parser.add_argument("--pymerkle-proofs", type=int, default=200, help="pymerkle proofs")
    parser.add_argument(
        "--pymerkle-memory-entries",
        type=int,
        default=1_000_000,
        help="sample for InmemoryTree (a Python object per node)",
    )
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    parser.add_argument("--profile", default="", help="cProfile our appends into this file")
    parser.add_argument("--seed", type=int, default=6962)
    parser.add_argument("--timeout", type=int, default=3600, help="give up after this many s")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--child", choices=("ours", "pymerkle", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pymerkle_entries is None:
        args.pymerkle_entries = args.entries
    if args.child:
        run = {"ours": child_ours, "pymerkle": child_pymerkle, "memory": child_memory}
        print(json.dumps(run[args.child](args)))
        return
    if args.entries < 2 or args.batch < 1 or args.proofs < 1:
        parser.error("need --entries ≥ 2, --batch ≥ 1 and --proofs ≥ 1")
    args.profile = str(Path(args.profile).resolve()) if args.profile else ""
    result = bench(args)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(report(result)))
    if result["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
