"""The soak test: 100 simulated callers against a real `phonebank serve` on loopback (issue 6,
item 7; figures and how to run the long version in docs/reliability.md).

Each caller loops claim → outcome over HTTP with its own API token and connection, with the
mix of outcomes of tests/loopback.py (retries, callbacks due within a minute, declarations,
do-not-call, closing outcomes, objections and notes), while serve's worker seals the
registry's batches every 10 s. Afterwards: zero server errors and zero failed requests of any
kind; no contact held by two callers at once (from the answers' times, tests/loopback.py's
`doubles`); the database agrees with every answer (tests/loopback.py's `calling-facts`); the
log seals and `phonebank registry verify` passes. p50/p99 latencies are printed (run with -s)
and, with PHONEBANK_SOAK_REPORT=FILE, written there as JSON.

PHONEBANK_SOAK_SECONDS (default 45, what CI runs) sets the length of the load,
PHONEBANK_SOAK_CALLERS (default 100) the number of callers. SQLite, or PostgreSQL when
DATABASE_URL names it (a scratch database on that server).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.loopback import (
    Hold,
    Ledger,
    Server,
    child,
    cli,
    doubles,
    env_for,
    free_port,
    percentile,
    run_callers,
    scratch_database,
    tree_cpu,
)

SLUG = "soak"


def test_overlapping_holds_of_one_target_by_two_callers_are_doubles():
    """The soak's double hand-out check can fail: it finds any overlap, and only those."""
    holds = [
        Hold(target=1, caller=0, start=0.0, end=1.0),
        Hold(target=1, caller=1, start=1.0, end=2.0),  # starts as the first ends: fine
        Hold(target=2, caller=0, start=0.0, end=5.0),
        Hold(target=2, caller=1, start=1.0, end=1.5),  # inside caller 0's hold
        Hold(target=2, caller=2, start=4.9, end=6.0),  # overlaps its end
        Hold(target=3, caller=4, start=0.0, end=1.0),
        Hold(target=3, caller=4, start=2.0, end=3.0),  # the same caller again, later
    ]
    found = {(a.target, a.caller, b.caller) for a, b in doubles(holds)}
    assert found == {(2, 0, 1), (2, 0, 2)}
    assert doubles([h for h in holds if h.target != 2]) == []


def _seconds() -> float:
    return float(os.environ.get("PHONEBANK_SOAK_SECONDS", "45"))


def _callers() -> int:
    return int(os.environ.get("PHONEBANK_SOAK_CALLERS", "100"))


def _contacts(seconds: float) -> int:
    """Enough that the queue does not run dry: about 1 in 7 outcomes closes a contact."""
    return max(20_000, min(100_000, int(seconds * 100)))


@pytest.mark.slow
def test_soak_callers_against_phonebank_serve_get_no_errors_and_no_double_hand_outs(tmp_path):
    seconds, callers = _seconds(), _callers()
    with scratch_database("soak") as database_url:
        env = env_for(tmp_path / "home", database_url, PHONEBANK_LOG_BATCH_SECONDS="10")
        world = child(
            env,
            "world",
            {
                "slug": SLUG,
                "contacts": _contacts(seconds),
                "callers": callers,
                "lease_minutes": 20,
                "retry_minutes": 1,
            },
            timeout=600,
        )
        port = free_port()
        server = Server(env, port, 2, 4, tmp_path / "serve.log", worker=True)
        ledger = Ledger()
        try:
            server.wait_healthy(120)
            cpu0, started = tree_cpu(server.proc.pid), time.perf_counter()
            loads = [os.getloadavg()[0]]
            threads = run_callers(
                port=port,
                slug=SLUG,
                tokens=world["tokens"],
                ledger=ledger,
                seconds=seconds,
                playbook=world["playbook"],
                seed=int(started),
                stop_when_unanswered=False,
                stop=threading.Event(),
            )
            for t in threads:
                while t.is_alive() and time.perf_counter() < started + seconds + 120:
                    t.join(timeout=10)
                    loads.append(os.getloadavg()[0])
            assert not any(t.is_alive() for t in threads), "callers did not finish"
            wall = time.perf_counter() - started
            server_cpu = tree_cpu(server.proc.pid) - cpu0
        finally:
            server.stop()
        facts = child(
            env,
            "calling-facts",
            {"slug": SLUG, "receipts": [a["receipt"] for a in ledger.acked if a["receipt"]]},
            timeout=600,
        )
        published = cli(env, "registry", "publish")
        verified = cli(env, "registry", "verify")
        log = child(env, "log-facts", timeout=600)

    found = doubles(ledger.holds)
    every = ledger.latency["claim"] + ledger.latency["outcome"]
    report = {
        "database": "postgresql" if database_url else "sqlite",
        "callers": callers,
        "seconds": round(wall, 1),
        "requests": len(every),
        "requests_per_s": round(len(every) / wall, 1),
        "claims": len(ledger.latency["claim"]),
        "empty_claims": ledger.empty,
        "outcomes": len(ledger.acked),
        "errors": dict(ledger.errors),
        "server_errors": ledger.server_errors(),
        "doubles": len(found),
        "p50_ms": round(percentile(every, 50) * 1000, 1),
        "p99_ms": round(percentile(every, 99) * 1000, 1),
        "by_kind": ledger.figures(),
        "declarations_sealed": log["size"],
        "target_statuses": facts["statuses"],
        "server_cpu_cores": round(server_cpu / wall, 2),
        "load_1min": {"start": loads[0], "max": max(loads), "end": loads[-1]},
    }
    print(json.dumps(report, ensure_ascii=False))
    if os.environ.get("PHONEBANK_SOAK_REPORT"):
        Path(os.environ["PHONEBANK_SOAK_REPORT"]).write_text(json.dumps(report, indent=2) + "\n")

    assert report["server_errors"] == 0 and report["errors"] == {}
    assert found == [], f"contacts held by two callers at once: {found[:3]}"
    assert len(ledger.acked) > callers, "the callers hardly got through"
    assert facts["problems"] == []
    recorded = {pk: (target, caller) for pk, target, caller, _o in facts["attempts"]}
    ids = world["caller_ids"]
    assert {a["attempt"]: (a["target"], ids[a["caller"]]) for a in ledger.acked} == recorded
    assert facts["leases"] == []
    assert published.returncode == 0, published.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert log["problems"] == [] and log["pending"] == 0
    assert log["size"] == facts["declarations"] == log["declarations"]
