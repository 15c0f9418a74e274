"""Real `phonebank` processes on loopback, for the crash and soak tests.

tests/test_crashes.py and tests/test_soak.py run the console script as production runs it
(`phonebank serve` with gunicorn and the background worker, `phonebank registry publish`,
`phonebank worker`) in a throwaway PHONEBANK_HOME, and talk to it with the client of
bench/claims.py (its Server, Conn and percentile are reused). The database is SQLite in that
folder or, when DATABASE_URL names PostgreSQL (CI's second leg), a scratch database on that
server, dropped afterwards.

Setting up and inspecting the data run in child processes with the production settings
(this file run as a script: `world`, `calling-facts`, `reclaim`, `declarations`,
`log-facts`): the test process itself is configured for the test database.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from bench.claims import HOST, Conn, Server, free_port, percentile, tree_cpu

__all__ = ["HOST", "Conn", "Server", "free_port", "percentile", "tree_cpu"]

ORGANISATIONS = ("party", "league", "pioneers")
RETRYABLE = ("no_answer", "busy", "hung_up", "listened")
TERMINAL = ("declared", "refused", "do_not_call", "wrong_number", "invalid_number")
# The advisory lock the log's sealers hold on PostgreSQL (phonebank.tlog.services).
_LOG_LOCK = 0x70686F6E


# -- environment, database, commands ---------------------------------------------------------


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@contextlib.contextmanager
def scratch_database(prefix: str):
    """DATABASE_URL of an empty database of its own on the test server, dropped afterwards;
    "" on SQLite (the child processes then use PHONEBANK_HOME/phonebank.sqlite3)."""
    if not on_postgresql():
        yield ""
        return
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    s = connection.settings_dict
    auth = quote(s["USER"], safe="") + (
        ":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else ""
    )
    url = f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{name}"
    with psycopg.connect(**{**params, "dbname": s["NAME"]}, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env_for(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of production runs in `home`: generated keys, plain HTTP on loopback,
    no claim limits (these callers are machines)."""
    env = dict(os.environ)
    for name in ("PHONEBANK_SECRET_KEY", "PHONEBANK_DATA_KEY", "PHONEBANK_LOG_KEY"):
        env.pop(name, None)
        env.pop(f"{name}_FILE", None)
    for name in ("PHONEBANK_DEBUG", "DATABASE_URL", "PHONEBANK_LOG_BATCH_SECONDS"):
        env.pop(name, None)
    env.update(
        PHONEBANK_HOME=str(home),
        DJANGO_SETTINGS_MODULE="phonebank.settings",
        PHONEBANK_HTTPS="0",
        PHONEBANK_ALLOWED_HOSTS=f"{HOST},localhost",
        PHONEBANK_CLAIM_RATE_PER_MIN="0",
        PHONEBANK_CLAIM_DAILY_CAP="0",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def cli(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`phonebank ARGS…` to its end; the result, whatever its exit status."""
    return subprocess.run(  # noqa: S603 - our own console script
        [sys.executable, "-m", "phonebank.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def child(env: dict, mode: str, payload: dict | None = None, timeout: float = 300) -> dict:
    """Runs one of this file's child modes (below) with payload as JSON on stdin; its answer."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and file
        [sys.executable, str(Path(__file__).resolve()), mode],
        env=env,
        input=json.dumps(payload or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {mode} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sqlite_path(env: dict) -> Path:
    return Path(env["PHONEBANK_HOME"]) / "phonebank.sqlite3"


def seal_lock_held(env: dict) -> bool:
    """True while a process holds the log's write lock (a seal is under way): the database's
    write lock on SQLite, the log's advisory lock on PostgreSQL."""
    url = env.get("DATABASE_URL", "")
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=10) as pg:
            row = pg.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 "
                "AND l.objid = %s AND d.datname = current_database()",
                [_LOG_LOCK],
            ).fetchone()
        return row[0] > 0
    path = sqlite_path(env)
    if not path.exists():
        return False
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True  # locked: a writer is in its transaction
    else:
        db.execute("ROLLBACK")
        return False
    finally:
        db.close()


def wait_for(condition, *, timeout: float, every: float = 0.005, what: str = "condition") -> None:
    """Polls condition() until it is true; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# -- simulated callers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """A caller certainly held a target from `start` (its claim's answer arrived) to `end`
    (it sent the outcome): the server gave the lease before answering, and only that
    outcome, received after it was sent, ends it. perf_counter() seconds."""

    target: int
    caller: int
    start: float
    end: float


def doubles(holds: list[Hold]) -> list[tuple[Hold, Hold]]:
    """Pairs of holds of one target by two callers that overlap in time: a contact handed to
    a second caller while the first still held it (leases are far longer than these runs)."""
    by_target: dict[int, list[Hold]] = defaultdict(list)
    for hold in holds:
        by_target[hold.target].append(hold)
    found = []
    for group in by_target.values():
        group.sort(key=lambda h: h.start)
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                if second.start >= first.end:
                    break
                if second.caller != first.caller:
                    found.append((first, second))
    return found


# Outcome weights: mostly retries, some callbacks and declarations, a few closing outcomes.
MIX = {
    "no_answer": 30,
    "busy": 12,
    "hung_up": 8,
    "listened": 10,
    "callback": 10,
    "declared": 8,
    "refused": 3,
    "do_not_call": 1,
    "wrong_number": 1,
    "invalid_number": 1,
}


@dataclass
class Ledger:
    """What the simulated callers saw, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    holds: list[Hold] = field(default_factory=list)
    acked: list[dict] = field(default_factory=list)  # outcomes answered 200
    unknown: list[dict] = field(default_factory=list)  # requests sent, never answered
    errors: Counter = field(default_factory=Counter)  # "claim 500", "outcome 409", …
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    empty: int = 0  # claims answered 204
    first_claims: dict[int, int] = field(default_factory=dict)  # caller → first target of phase

    def error(self, label: str) -> None:
        with self.lock:
            self.errors[label] += 1

    def server_errors(self) -> int:
        return sum(n for label, n in self.errors.items() if label.split()[-1].startswith("5"))

    def figures(self) -> dict:
        out = {}
        for kind, values in sorted(self.latency.items()):
            out[kind] = {
                "requests": len(values),
                "p50_ms": round(percentile(values, 50) * 1000, 1),
                "p99_ms": round(percentile(values, 99) * 1000, 1),
                "max_ms": round(max(values, default=0) * 1000, 1),
            }
        return out


def _outcome_body(rng: random.Random, caller: int, n: int, playbook: list[int]) -> dict:
    outcome = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    body: dict = {"outcome": outcome}
    if playbook and rng.random() < 0.3:
        body["objections"] = rng.sample(playbook, rng.randint(1, min(2, len(playbook))))
    if rng.random() < 0.2:
        body["notes"] = f"note {n} from caller {caller}: 说了要考虑"
    if outcome == "callback":
        soon = datetime.now(UTC) + timedelta(seconds=rng.uniform(5, 60))
        body["callback_at"] = soon.isoformat()
    elif outcome == "declared":
        orgs = rng.sample(ORGANISATIONS, rng.randint(1, 3))
        body["declaration"] = {
            "alias": f"自由-{caller}-{n}",
            "organisations": orgs,
            "consent": True,
        }
    return body


def call_loop(
    *,
    port: int,
    slug: str,
    caller: int,
    token: str,
    ledger: Ledger,
    until: float,
    stop: threading.Event,
    playbook: list[int],
    seed: int,
    stop_when_unanswered: bool,
    talk: float = 0.1,
) -> None:
    """One caller: claim → talk → outcome (mixed, as MIX) until `until` (perf_counter) or
    `stop`. The talk, a random 0 to `talk` seconds, is the call itself: it is also what
    gives a contact handed to two callers at once the time to show (see `doubles`).

    A request that gets no answer (the server died, or the connection broke) is recorded as
    unknown; with stop_when_unanswered the caller stops there (a crash test's callers stop
    at the kill), otherwise it counts as an error and the caller goes on.
    """
    rng = random.Random(seed)
    conn = Conn(port)
    auth = {"Authorization": f"Bearer {token}"}
    json_auth = {**auth, "Content-Type": "application/json"}
    n = 0
    try:
        while not stop.is_set() and time.perf_counter() < until:
            t0 = time.perf_counter()
            status, data, _ = conn.request("POST", f"/api/campaigns/{slug}/claim", b"", auth)
            t1 = time.perf_counter()
            if status is None:
                with ledger.lock:
                    ledger.unknown.append({"kind": "claim", "caller": caller})
                if stop_when_unanswered:
                    return
                ledger.error("claim unanswered")
                continue
            ledger.latency["claim"].append(t1 - t0)  # list.append is atomic
            if status == 204:
                with ledger.lock:
                    ledger.empty += 1
                time.sleep(0.05)  # nobody to call now: back off, do not spin
                continue
            if status != 200:
                ledger.error(f"claim {status}")
                continue
            target = json.loads(data)["target"]
            ledger.first_claims.setdefault(caller, target)
            n += 1
            body = _outcome_body(rng, caller, n, playbook)
            time.sleep(rng.uniform(0, talk))
            t2 = time.perf_counter()
            status, data, _ = conn.request(
                "POST", f"/api/targets/{target}/outcome", json.dumps(body).encode(), json_auth
            )
            t3 = time.perf_counter()
            with ledger.lock:
                ledger.holds.append(Hold(target, caller, t1, t2))
            if status is None:
                with ledger.lock:
                    ledger.unknown.append(
                        {"kind": "outcome", "caller": caller, "target": target, **body}
                    )
                if stop_when_unanswered:
                    return
                ledger.error("outcome unanswered")
                continue
            ledger.latency["outcome"].append(t3 - t2)
            if status != 200:
                ledger.error(f"outcome {status}")
                continue
            answer = json.loads(data)
            with ledger.lock:
                ledger.acked.append(
                    {
                        "attempt": answer["attempt"],
                        "target": target,
                        "caller": caller,
                        "outcome": body["outcome"],
                        "receipt": answer.get("receipt"),
                    }
                )
    finally:
        conn.close()


def run_callers(
    *,
    port: int,
    slug: str,
    tokens: list[str],
    ledger: Ledger,
    seconds: float,
    playbook: list[int],
    seed: int,
    stop_when_unanswered: bool,
    stop: threading.Event | None = None,
    callers: list[int] | None = None,
    talk: float = 0.1,
) -> list[threading.Thread]:
    """Starts one thread per caller (index into tokens); returns them, running."""
    stop = stop or threading.Event()
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=call_loop,
            kwargs={
                "port": port,
                "slug": slug,
                "caller": i,
                "token": tokens[i],
                "ledger": ledger,
                "until": until,
                "stop": stop,
                "playbook": playbook,
                "seed": seed * 1000 + i,
                "stop_when_unanswered": stop_when_unanswered,
                "talk": talk,
            },
            daemon=True,
        )
        for i in (range(len(tokens)) if callers is None else callers)
    ]
    for t in threads:
        t.start()
    return threads


# -- child processes (this file run as a script, with the production settings) -------------


def _django() -> None:
    import django

    django.setup()


def child_world(p: dict) -> dict:
    """Migrate; a campaign open all day with quick retries, a playbook, contacts, callers
    with API tokens (plus one `latecomer`, who takes no part in the load)."""
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from phonebank.accounts.models import Membership, Role
    from phonebank.accounts.services import token_create, user_create
    from phonebank.campaigns.demo import synthetic_rows
    from phonebank.campaigns.services import (
        campaign_create,
        playbook_entry_save,
        retry_rules_set,
    )
    from phonebank.contacts.services import contacts_import_file

    campaign = campaign_create(
        slug=p["slug"],
        name="Reliability",
        actor=None,
        calling_hours="00:00-24:00",
        lease_minutes=p["lease_minutes"],
    )
    retry_rules_set(
        campaign=campaign,
        rules={o: (p["retry_minutes"], 1000) for o in RETRYABLE},
        actor=None,
    )
    playbook = [
        playbook_entry_save(campaign=campaign, actor=None, objection=o, response="…").pk
        for o in ("我很忙", "我不认识你", "信仰自由", "不做坏事就行")
    ]
    path = Path(os.environ["PHONEBANK_HOME"]) / "contacts.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["手机", "姓名", "单位", "职务"])
        out.writerows(synthetic_rows(p["contacts"], seed=p.get("seed", 1949)))
    job = contacts_import_file(path=path, campaign=campaign, actor=None)
    path.unlink()
    tokens, ids = [], []
    for i in range(p["callers"] + 1):
        user = user_create(
            username=f"caller-{i:03d}" if i < p["callers"] else "latecomer",
            password=secrets.token_urlsafe(12),
            role=Role.CALLER,
            campaign=campaign,
        )
        tokens.append(token_create(user=user, actor=None, name="reliability")[1])
        ids.append(user.pk)
    # The latecomer is trusted in the campaign: a contact leased at a kill may be a callback
    # its caller had claimed, and others' callbacks past their grace period go only to
    # trusted callers.
    Membership.objects.filter(user_id=ids[-1], campaign=campaign).update(trusted=True)
    return {
        "tokens": tokens[:-1],
        "caller_ids": ids[:-1],
        "latecomer": ids[-1],
        "playbook": playbook,
        "imported": job.imported,
    }


def child_calling_facts(p: dict) -> dict:
    """What the database says about calls, checked against what the callers were told."""
    _django()
    from django.db.models import Count
    from django.utils import timezone

    from phonebank.audit.models import LogEntry
    from phonebank.calling.models import CallAttempt, Target, TargetStatus
    from phonebank.contacts.models import DoNotCall
    from phonebank.registry.models import Declaration, Source
    from phonebank.registry.services import receipt_hash

    targets = {
        t.pk: t
        for t in Target.objects.filter(campaign__slug=p["slug"]).select_related(
            "contact", "campaign"
        )
    }
    rows = list(
        CallAttempt.objects.filter(campaign__slug=p["slug"])
        .order_by("id")
        .values_list("id", "target_id", "caller_id", "outcome")
    )
    per_target: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for pk, target, caller, outcome in rows:
        per_target[target].append((pk, caller, outcome))
    dnc = {bytes(b) for b in DoNotCall.objects.values_list("blind_index", flat=True)}
    now = timezone.now()
    problems = []
    for pk, t in targets.items():
        made = per_target.get(pk, [])
        if t.attempts != len(made):
            problems.append(f"target {pk}: attempts {t.attempts}, {len(made)} calls recorded")
        if not made:
            if t.status != TargetStatus.OPEN or t.last_outcome:
                problems.append(f"target {pk}: never called, yet {t.status}/{t.last_outcome}")
        else:
            last = made[-1][2]
            closing = [o for _pk, _c, o in made[:-1] if o in TERMINAL]
            if closing:
                problems.append(f"target {pk}: called again after {closing[0]}")
            if t.last_outcome != last:
                problems.append(f"target {pk}: last outcome {t.last_outcome}, last call {last}")
            allowed = {
                "callback": {"callback"},
                "declared": {"done"},
                "refused": {"done"},
                "do_not_call": {"dnc"},
                "wrong_number": {"closed"},
                "invalid_number": {"closed"},
            }.get(last, {"open", "exhausted"})
            if bytes(t.contact.blind_index) in dnc:
                allowed = allowed | {"dnc"}
            if t.status not in allowed:
                problems.append(f"target {pk}: status {t.status} after {last}")
            if last == "callback" and t.callback_caller_id != made[-1][1]:
                problems.append(f"target {pk}: callback for {t.callback_caller_id}")
        if t.lease_holder_id is not None:
            if t.lease_expires_at is None or t.leased_at is None:
                problems.append(f"target {pk}: leased without times")
            elif t.lease_expires_at > now + timedelta(minutes=t.campaign.lease_minutes):
                problems.append(f"target {pk}: a lease longer than the campaign's")
            if t.status not in (TargetStatus.OPEN, TargetStatus.CALLBACK):
                problems.append(f"target {pk}: leased while {t.status}")
    declared = sum(1 for r in rows if r[3] == "declared")
    phone_declarations = Declaration.objects.filter(source=Source.PHONE).count()
    if declared != phone_declarations:
        problems.append(f"{declared} declared calls, {phone_declarations} phone declarations")
    receipts = [receipt_hash(code) for code in p.get("receipts", [])]
    found: Counter = Counter()
    for i in range(0, len(receipts), 1000):
        chunk = receipts[i : i + 1000]
        found.update(
            Declaration.objects.filter(receipt_hash__in=chunk).values_list(
                "receipt_hash", flat=True
            )
        )
    bad_receipts = [h for h in receipts if found[h] != 1]
    if bad_receipts:
        problems.append(f"{len(bad_receipts)} receipts answered are not in the registry once")
    dnc_called = {
        bytes(targets[t].contact.blind_index)
        for _pk, t, _c, o in rows
        if o == "do_not_call" and t in targets
    }
    if dnc_called - dnc:
        problems.append(f"{len(dnc_called - dnc)} do-not-call outcomes not on the list")
    audited = LogEntry.objects.filter(action="calling.outcome.recorded").count()
    if audited != len(rows):
        problems.append(f"{len(rows)} calls recorded, {audited} audit entries")
    twice = (
        CallAttempt.objects.values("target", "caller", "started_at")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    if twice:
        problems.append(f"{twice} leases ended by two calls")
    return {
        "problems": problems[:50],
        "attempts": [[pk, target, caller, outcome] for pk, target, caller, outcome in rows],
        "leases": [
            [pk, t.lease_holder_id, t.lease_expires_at.isoformat()]
            for pk, t in targets.items()
            if t.lease_holder_id is not None
        ],
        "statuses": dict(Counter(t.status for t in targets.values())),
        "declarations": Declaration.objects.count(),
    }


def child_reclaim(p: dict) -> dict:
    """The latecomer claims, in-process, at a time after every lease has run out and every
    callback's grace period is over (a leased contact may be a callback its caller claimed;
    the latecomer is trusted, so takes others' callbacks), and closes each contact it gets;
    which targets it was given, and the state of those wanted and not given."""
    _django()
    from django.utils.dateparse import parse_datetime

    from phonebank.accounts.models import User
    from phonebank.calling.models import Target
    from phonebank.calling.services import outcome_record, target_claim
    from phonebank.campaigns.models import Campaign

    campaign = Campaign.objects.get(slug=p["slug"])
    latecomer = User.objects.get(pk=p["latecomer"])
    now = parse_datetime(p["at"]) + timedelta(minutes=campaign.callback_grace_minutes)
    given, attempts = [], []
    for _ in range(Target.objects.filter(campaign=campaign).count() + 1):
        claim = target_claim(campaign=campaign, caller=latecomer, now=now)
        if claim is None:
            break
        given.append(claim.target.pk)
        attempt, _receipt = outcome_record(
            target=claim.target, caller=latecomer, outcome="refused", now=now
        )
        attempts.append(attempt.pk)
        if set(p["wanted"]) <= set(given):
            break
    # For a failure's message: the state of each wanted target the latecomer did not get.
    missing = [
        [t.pk, t.status, t.callback_caller_id, str(t.next_call_at), t.lease_holder_id]
        for t in Target.objects.filter(pk__in=set(p["wanted"]) - set(given))
    ]
    return {"targets": given, "attempts": attempts, "missing": missing, "at": now.isoformat()}


def child_declarations(p: dict) -> dict:
    """Adds n pending declarations in one transaction (bulk, not one by one: this is setup)
    and withdraws the declarations of the codes given; their receipt codes, and how many
    entries now wait to be sealed."""
    _django()
    from django.db import transaction
    from django.utils import timezone

    from phonebank.lib import provinces
    from phonebank.registry.models import Declaration, DeclarationOrganisation, Withdrawal
    from phonebank.registry.services import declaration_withdraw, receipt_hash, receipt_new

    rng = random.Random(p["seed"])
    codes = [receipt_new() for _ in range(p["n"])]
    regions = ["", *sorted(provinces.BY_CODE)]
    with transaction.atomic():
        made = Declaration.objects.bulk_create(
            [
                Declaration(
                    alias=f"{rng.choice('明华安平')}{i}",
                    province=rng.choice(regions),
                    declared_on=timezone.localdate(),
                    source=rng.choice(("web", "phone")),
                    receipt_hash=receipt_hash(code),
                )
                for i, code in enumerate(codes)
            ],
            batch_size=1000,
        )
        DeclarationOrganisation.objects.bulk_create(
            [
                DeclarationOrganisation(declaration=d, code=c)
                for d in made
                for c in rng.sample(ORGANISATIONS, rng.randint(1, 3))
            ],
            batch_size=1000,
        )
    for code in p.get("withdraw", []):
        declaration_withdraw(code=code)
    pending = (
        Declaration.objects.filter(log_index__isnull=True).count()
        + Withdrawal.objects.filter(log_index__isnull=True).count()
    )
    return {"codes": codes, "pending": pending}


def child_log_facts(p: dict) -> dict:
    """The log against the registry: sizes, every entry's leaf, checkpoints' signatures and
    consistency with each other."""
    _django()
    from phonebank.registry.models import Declaration, Withdrawal
    from phonebank.tlog import merkle, note, records
    from phonebank.tlog import selectors as log
    from phonebank.tlog.models import Checkpoint
    from phonebank.tlog.services import log_signer

    problems = []
    size, stored = log.tree_size(), log.stored_size()
    if size != stored:
        problems.append(f"{stored} leaves stored, {size} signed")
    by_index: dict[int, tuple[str, str]] = {}
    for kind, rows in (
        ("declaration", Declaration.objects.values_list("log_index", "receipt_hash")),
        (
            "withdrawal",
            Withdrawal.objects.values_list("log_index", "declaration__receipt_hash"),
        ),
    ):
        for index, receipt in rows:
            if index is not None:
                by_index[index] = (kind, receipt)
    if sorted(by_index) != list(range(size)):
        problems.append(f"{len(by_index)} entries sealed, the log has {size}")
    seen: Counter = Counter()
    for start in range(0, size, log.MAX_LEAVES):
        leaves = log.leaves(start, min(size, start + log.MAX_LEAVES), size=size)
        for index, leaf in enumerate(leaves, start):
            record = records.decode(leaf)
            seen[(record["type"], record["receipt"])] += 1
            if by_index.get(index) != (record["type"], record["receipt"]):
                problems.append(f"leaf {index} is not the entry sealed at {index}")
    if any(n != 1 for n in seen.values()):
        problems.append("an entry is in the log more than once")
    verifier = log_signer().verifier()
    checkpoints = list(Checkpoint.objects.order_by("size"))
    for cp in checkpoints:
        text = note.open(cp.note, [verifier]).text
        signed = note.parse_checkpoint(text)
        if (signed.size, signed.root) != (cp.size, bytes(cp.root)):
            problems.append(f"checkpoint {cp.size}: its note says otherwise")
        if bytes(cp.root) != log.root(cp.size):
            problems.append(f"checkpoint {cp.size}: the stored tree has another root")
    for older, newer in itertools.pairwise(checkpoints):
        proof = log.consistency_proof(older.size, newer.size)
        merkle.verify_consistency(
            older.size, newer.size, proof, bytes(older.root), bytes(newer.root)
        )
    return {
        "problems": problems[:50],
        "size": size,
        "checkpoints": [cp.size for cp in checkpoints],
        "declarations": Declaration.objects.count(),
        "pending": Declaration.objects.filter(log_index__isnull=True).count()
        + Withdrawal.objects.filter(log_index__isnull=True).count(),
        "withdrawals": Withdrawal.objects.count(),
    }


CHILDREN = {
    "world": child_world,
    "calling-facts": child_calling_facts,
    "reclaim": child_reclaim,
    "declarations": child_declarations,
    "log-facts": child_log_facts,
}

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(json.dumps(CHILDREN[sys.argv[1]](json.loads(sys.stdin.read() or "{}"))))
