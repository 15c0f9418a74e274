"""kill -9 in the middle of the work, then restart: nothing lost, nothing doubled, the log
verifies (issue 6, item 7; docs/reliability.md says what each test proves).

Both tests run the real console script in a throwaway PHONEBANK_HOME, on SQLite or, with
DATABASE_URL naming PostgreSQL, on a scratch database of that server (tests/loopback.py),
and kill whole process groups with SIGKILL at random moments: no clean-up code runs. The
import's crash test is tests/test_import_crash.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.loopback import (
    Ledger,
    Server,
    child,
    cli,
    doubles,
    env_for,
    free_port,
    run_callers,
    scratch_database,
    seal_lock_held,
    wait_for,
)

pytestmark = pytest.mark.slow

SLUG = "crash"
CALLERS = 16
CONTACTS = 400  # few, with retries at once: the same contacts are handed out again and again
LEASE_MINUTES = 5  # longer than the test: a lease ends only by an outcome or a kill
KILLS = 3


def _killed(server: Server) -> datetime:
    os.killpg(server.proc.pid, signal.SIGKILL)  # serve, gunicorn and its workers, the worker
    at = datetime.now(UTC)
    server.proc.wait(timeout=30)
    return at


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a caller thread did not stop"


def test_serve_killed_while_callers_record_outcomes_loses_and_doubles_nothing(tmp_path):
    """16 callers loop claim → outcome over HTTP; `phonebank serve` (gunicorn, its workers
    and the log worker) is killed with SIGKILL three times at random points, and restarted.

    After each kill: every outcome answered 200 is in the database once; the only calls
    recorded without an answer are outcomes in flight at the kill; every target's state
    agrees with its calls (attempt counts, last outcome, status, no call after a closing
    outcome, one call per lease, an audit entry per call, a declaration per declared call);
    the only leases held belong to callers whose request was cut off, and end within the
    lease length. After a restart such a caller is handed the same contact again (its
    lease renewed, not lost); the last kill's leases, once run out, go to another caller.
    Throughout, no contact was held by two callers at once, and no request failed except
    those cut off by a kill. At the end the log seals and verifies.
    """
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)  # kill points, not secrets
    print(f"kill points: random.Random({seed})")
    with scratch_database("crash_calls") as database_url:
        env = env_for(tmp_path / "home", database_url, PHONEBANK_LOG_BATCH_SECONDS="2")
        world = child(
            env,
            "world",
            {
                "slug": SLUG,
                "contacts": CONTACTS,
                "callers": CALLERS,
                "lease_minutes": LEASE_MINUTES,
                "retry_minutes": 0,
            },
        )
        tokens, ids = world["tokens"], world["caller_ids"]
        index_of = {pk: i for i, pk in enumerate(ids)}
        holds, acked, receipts = [], {}, []
        unanswered: set[int] = set()  # calls recorded whose answer the kill cut off
        orphans: dict[int, int] = {}  # caller → target it held, unknowing, at the last kill
        port = free_port()
        for phase in range(KILLS + 1):
            server = Server(env, port, 2, 4, tmp_path / f"serve-{phase}.log", worker=True)
            ledger, stop = Ledger(), threading.Event()
            try:
                server.wait_healthy(120)
                threads = run_callers(
                    port=port,
                    slug=SLUG,
                    tokens=tokens,
                    ledger=ledger,
                    seconds=300,
                    playbook=world["playbook"],
                    seed=seed + phase,
                    stop_when_unanswered=True,
                    stop=stop,
                )
                goal = rng.randint(100, 400)

                def far_enough(ledger=ledger, goal=goal, orphans=orphans) -> bool:
                    if ledger.errors:
                        return True
                    return len(ledger.acked) >= goal and set(orphans) <= set(ledger.first_claims)

                wait_for(
                    far_enough,
                    timeout=180,
                    what=f"{goal} outcomes, and a claim by each caller who held a contact",
                )
                if phase < KILLS:
                    killed_at = _killed(server)
                stop.set()
                _join(threads)
            finally:
                server.stop()
            served = tmp_path / f"serve-{phase}.log"
            assert not ledger.errors, (phase, dict(ledger.errors), served.read_text()[-3000:])
            holds += ledger.holds
            for a in ledger.acked:
                assert a["attempt"] not in acked, f"attempt {a['attempt']} answered twice"
                acked[a["attempt"]] = a
            receipts += [a["receipt"] for a in ledger.acked if a["outcome"] == "declared"]
            # Callers who held a contact at the kill, without knowing it, get it back first.
            for caller, target in orphans.items():
                assert ledger.first_claims.get(caller) == target, (caller, target)

            facts = child(env, "calling-facts", {"slug": SLUG, "receipts": receipts})
            assert facts["problems"] == []
            recorded = {pk: (target, caller) for pk, target, caller, _o in facts["attempts"]}
            assert set(acked) <= set(recorded), "an outcome answered 200 is not recorded"
            for pk in acked:
                assert recorded[pk] == (acked[pk]["target"], ids[acked[pk]["caller"]])
            # Calls recorded without an answer: outcomes the kill cut off, each at most once.
            cut_off = [u for u in ledger.unknown if u["kind"] == "outcome"]
            in_flight = {(u["target"], ids[u["caller"]]) for u in cut_off}
            extra = [pk for pk in recorded if pk not in acked and pk not in unanswered]
            assert len(extra) <= len(cut_off), (extra, cut_off)
            assert {recorded[pk] for pk in extra} <= in_flight, (extra, in_flight)
            unanswered.update(extra)
            if phase == KILLS:
                assert facts["leases"] == []  # every caller recorded its last outcome
                break

            # The leases left are those of requests the kill cut off, and they run out.
            assert ledger.unknown, "the kill hit no request in flight"
            cut = {u["caller"] for u in ledger.unknown}
            orphans = {}
            for target, holder, expires in facts["leases"]:
                assert index_of[holder] in cut, f"target {target} leased to an idle caller"
                ends = datetime.fromisoformat(expires)
                assert ends <= killed_at + timedelta(minutes=LEASE_MINUTES, seconds=5)
                orphans[index_of[holder]] = target
            print(
                f"kill {phase + 1}: {len(ledger.acked)} outcomes answered, {len(ledger.unknown)} "
                f"requests cut off, {len(extra)} of them recorded, {len(orphans)} leases left"
            )
            if phase == KILLS - 1 and orphans:
                latest = max(datetime.fromisoformat(e) for _t, _h, e in facts["leases"])
                given = child(
                    env,
                    "reclaim",
                    {
                        "slug": SLUG,
                        "latecomer": world["latecomer"],
                        "at": (latest + timedelta(seconds=1)).isoformat(),
                        "wanted": sorted(orphans.values()),
                    },
                )
                assert set(orphans.values()) <= set(given["targets"]), given["missing"]
                unanswered.update(given["attempts"])  # the latecomer's, in-process
                orphans = {}

        found = doubles(holds)
        assert found == [], f"{len(found)} contacts held by two callers at once: {found[:3]}"
        published = cli(env, "registry", "publish")
        assert published.returncode == 0, published.stderr
        verified = cli(env, "registry", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        log = child(env, "log-facts")
        assert log["problems"] == [] and log["pending"] == 0
        declared = sum(1 for _pk, _t, _c, outcome in facts["attempts"] if outcome == "declared")
        assert log["size"] == log["declarations"] == declared > 0


# -- sealing the registry's batch into the log ------------------------------------------------

FIRST = 8_000  # pending declarations of the first, timed seal
MORE = 4_000  # declarations added before each killed seal
ROUNDS = 4


def _sealer(env: dict, command: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own console script
            [sys.executable, "-m", "phonebank.cli", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group
        )


def test_sealing_killed_mid_batch_then_sealed_again_has_every_entry_once_and_verifies(tmp_path):
    """Thousands of declarations (and some withdrawals) wait; `phonebank registry publish`,
    or in other rounds the background `phonebank worker`, starts sealing them and is killed
    with SIGKILL at a random moment inside the seal (after it took the log's write lock,
    in the first half of the time a seal of that size took before). Four rounds, each
    adding more; a fifth kills the worker just after its seal commits.

    After each kill the batch is all in the log or all still pending; every stored leaf is
    signed by a checkpoint, is the entry sealed at its index, and no entry is there twice;
    every checkpoint's signature and root hold, each is consistent with the one before;
    and `phonebank registry verify`, keeping its state between runs, exits 0. Finally the
    pending entries seal, every declaration and withdrawal is in the log exactly once, and
    `registry verify --full` exits 0.
    """
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)  # kill points, not secrets
    print(f"kill points: random.Random({seed})")
    with scratch_database("crash_seal") as database_url:
        env = env_for(tmp_path / "home", database_url, PHONEBANK_LOG_BATCH_SECONDS="1")
        migrated = cli(env, "manage", "migrate", "--verbosity", "0")
        assert migrated.returncode == 0, migrated.stderr
        codes = child(env, "declarations", {"n": FIRST, "seed": seed})["codes"]

        # A whole seal, timed from taking the log's lock to letting it go; the first audit.
        log = tmp_path / "sealer.log"
        sealer = _sealer(env, ["registry", "publish"], log)
        wait_for(lambda: sealer.poll() is not None or seal_lock_held(env), timeout=120)
        started = time.monotonic()
        wait_for(lambda: sealer.poll() is not None or not seal_lock_held(env), timeout=300)
        per_entry = (time.monotonic() - started) / FIRST  # the fastest seal seen, below
        assert sealer.wait(timeout=60) == 0, log.read_text()
        verified = cli(env, "registry", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr

        inside = 0
        for round_ in range(ROUNDS + 1):
            last = round_ == ROUNDS  # the worker, killed just after its seal commits
            withdraw = rng.sample(codes, 20)
            codes = [c for c in codes if c not in withdraw]
            added = child(
                env, "declarations", {"n": MORE, "seed": seed + round_ + 1, "withdraw": withdraw}
            )
            codes += added["codes"]
            pending = added["pending"]
            worker = last or round_ % 2 == 1
            command = ["worker", "--poll", "0.2"] if worker else ["registry", "publish"]
            sealer = _sealer(env, command, log)
            try:
                wait_for(
                    lambda s=sealer: s.poll() is not None or seal_lock_held(env),
                    timeout=120,
                    what="the seal to start",
                )
                started = time.monotonic()
                if last:
                    wait_for(lambda: not seal_lock_held(env), timeout=300, what="the commit")
                    took = time.monotonic() - started
                    per_entry = min(per_entry, took / pending)
                else:
                    # A random moment in the first half of the time the seal should take,
                    # by the fastest seen (the machine is shared: its speed varies): the
                    # randomness of the kill point, not a wait for anything.
                    time.sleep(rng.uniform(0.02, 0.5) * per_entry * pending)
                os.killpg(sealer.pid, signal.SIGKILL)
            finally:
                sealer.wait(timeout=60)
            after = child(env, "log-facts")
            assert after["problems"] == []
            assert after["pending"] in (0, pending), "a batch was sealed in part"
            if last:
                assert after["pending"] == 0, log.read_text()
            elif sealer.returncode == -signal.SIGKILL and after["pending"] == pending:
                inside += 1
            if after["pending"]:
                what = "killed inside the seal"
            else:
                what = "sealed, then killed" if sealer.returncode else "sealed before the kill"
            print(f"round {round_ + 1} ({command[0]}): {pending} pending, {what}")
            verified = cli(env, "registry", "verify")
            assert verified.returncode == 0, verified.stdout + verified.stderr
        assert inside >= 2, f"only {inside} of {ROUNDS} kills landed inside a seal"

        published = cli(env, "registry", "publish")
        assert published.returncode == 0, published.stderr
        final = child(env, "log-facts")
        assert final["problems"] == [] and final["pending"] == 0
        assert final["size"] == final["declarations"] + final["withdrawals"]
        assert final["declarations"] == FIRST + (ROUNDS + 1) * MORE
        assert final["withdrawals"] == (ROUNDS + 1) * 20
        for args in (["registry", "verify"], ["registry", "verify", "--full"]):
            verified = cli(env, *args)
            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert f"{final['size']:,} entries" in verified.stdout
