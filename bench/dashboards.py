"""Benchmark: the dashboards on a large database (issue 5, SPEC section 4).

    uv run python bench/dashboards.py [--home PATH] [--database-url URL] [--slug demo]
        [--rounds 5] [--per-round 8] [--concurrency 4] [--concurrent-seconds 2]
        [--inprocess 20] [--exports ROWS] [--formats csv,xlsx] [--language en]
        [--no-recount] [--timeout 1800] [--json]

Targets: every dashboard view (page, htmx fragment, chart) median ≤ 200 ms, and
``GET /api/campaigns/{slug}/stats`` median ≤ 20 ms, server time, with 5,000,000 calls.

It runs against an existing database, normally the large demo
(``phonebank demo --size large --no-serve``): ``--home`` is its PHONEBANK_HOME (default
$PHONEBANK_HOME; it holds the keys and ``demo-credentials.json``), ``--database-url`` its
PostgreSQL database when it is not the home's SQLite file. Nothing is deleted. What the
run adds to the database: two API tokens (``phonebank token create``, revoked at the end),
the sign-ins' sessions, their audit entries and, with ``--exports``, one export job per
format (its file deleted and the job expired at the end).

1. ``phonebank manage migrate --check`` (the run stops if migrations are unapplied: apply
   them first with ``phonebank manage migrate``), then ``phonebank token create`` for the
   coordinator and for a caller (the caller's own stats).
2. The real server, ``phonebank serve --host 127.0.0.1 --port P --no-worker`` (gunicorn
   gthread, 2 workers × 4 threads), with ``PHONEBANK_HTTPS=0``,
   ``PHONEBANK_ALLOWED_HOSTS=127.0.0.1``, ``PHONEBANK_REQUIRE_2FA=0`` (staff would
   otherwise have to pass TOTP: the demo's accounts have none) and
   ``PHONEBANK_STATS_RATE_PER_MIN=0`` (the stats limit, 60 a minute per user by default,
   is off: 0 means no limit in ``api/throttle.py``).
3. The coordinator and the admin sign in at ``/accounts/login/`` (CSRF token from the
   form), each on their own persistent connection.
4. Sequential rounds (``--rounds``): in each, every view in turn, ``--per-round``
   requests each, ``GET /healthz`` among them, so a busy neighbour weighs on all alike.
   Per view: median and p90 of the client's latency on loopback (an upper bound on server
   time), requests/s (one connection: 1 ÷ mean latency), that throughput ÷ healthz's, and
   the CPU time the server's process tree spent per request (steadier than latency on a
   shared machine).
5. Concurrent (``--concurrency`` threads, 0 to skip): the page, its fragment, the
   overview, both stats and healthz, each for ``--concurrent-seconds`` per round, in the
   same rounds; requests/s and the ratio to healthz's.
6. In-process (``--inprocess`` requests per view, 0 to skip): each view through Django's
   test ``Client`` against the same database, no HTTP or gunicorn (median, p90, queries
   per request), a second figure for server time.
7. Recount (unless ``--no-recount``): calls by outcome counted from the call attempts,
   compared with what the stats API answers (the campaign's and the caller's), and targets
   by status compared with the dashboard's queue health.
8. Exports (``--exports N``, 0 by default): the call attempts export of the campaign, of
   its first N calls, through the export job service the worker runs
   (``export_request``, ``export_job_run``: read, mask, defuse, write, seal), as CSV and
   XLSX, in rows/s; the baseline is ``csv.writer`` alone writing N ready-made rows.

It only talks to 127.0.0.1. A benchmark, not a test: it prints figures, and exits 1 only
if a request failed or a recount differs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too
from bench.claims import HOST, Server, deadline, free_port, ms, percentile, tree_cpu

TARGET_PAGE_MS = 200.0
TARGET_STATS_MS = 20.0
LABEL = "bench-dashboards"  # the tokens' label, so the run revokes only its own
HX = {"HX-Request": "true"}

# name, who, path (with {slug}, {days}), extra headers, expected content type, target ms
VIEWS: list[tuple[str, str, str, dict, str, float | None]] = [
    ("healthz", "anonymous", "/healthz", {}, "", None),
    ("dashboard page", "coordinator", "/dashboards/{slug}/", {}, "text/html", TARGET_PAGE_MS),
    ("dashboard fragment (htmx)", "coordinator", "/dashboards/{slug}/", HX, "text/html",
     TARGET_PAGE_MS),
    *(
        (f"chart {name}", "coordinator", f"/dashboards/{{slug}}/charts/{name}.svg{query}", {},
         "image/svg+xml", TARGET_PAGE_MS)
        for name, query in (("days", "?days={days}"), ("cumulative", "?days={days}"),
                            ("funnel", ""), ("provinces", ""), ("hours", ""))
    ),
    ("objections page", "coordinator", "/dashboards/{slug}/objections/", {}, "text/html",
     TARGET_PAGE_MS),
    ("chart objections", "coordinator", "/dashboards/{slug}/charts/objections.svg", {},
     "image/svg+xml", TARGET_PAGE_MS),
    ("chart weeks", "coordinator", "/dashboards/{slug}/charts/weeks.svg", {}, "image/svg+xml",
     TARGET_PAGE_MS),
    ("exports page", "coordinator", "/dashboards/{slug}/exports/", {}, "text/html",
     TARGET_PAGE_MS),
    ("overview page", "admin", "/dashboards/", {}, "text/html", TARGET_PAGE_MS),
    ("overview fragment (htmx)", "admin", "/dashboards/", HX, "text/html", TARGET_PAGE_MS),
    ("overview chart days", "admin", "/dashboards/charts/days.svg?days={days}", {},
     "image/svg+xml", TARGET_PAGE_MS),
    ("overview chart cumulative", "admin", "/dashboards/charts/cumulative.svg?days={days}", {},
     "image/svg+xml", TARGET_PAGE_MS),
    ("stats API (coordinator)", "coordinator-token", "/api/campaigns/{slug}/stats", {},
     "application/json", TARGET_STATS_MS),
    ("stats API (caller)", "caller-token", "/api/campaigns/{slug}/stats", {},
     "application/json", TARGET_STATS_MS),
]  # fmt: skip
CONCURRENT = (
    "healthz",
    "dashboard page",
    "dashboard fragment (htmx)",
    "overview page",
    "stats API (coordinator)",
    "stats API (caller)",
)


def figures(latencies: list[float]) -> dict:
    return {
        "requests": len(latencies),
        "median_ms": ms(percentile(latencies, 50)),
        "p90_ms": ms(percentile(latencies, 90)),
        "max_ms": ms(max(latencies, default=0.0)),
    }


# -- Django children: in-process timings, recount, exports, clean-up ---------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phonebank.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()


def child_facts(args: argparse.Namespace) -> None:
    """How big the database is: calls, targets, contacts, declarations, bytes."""
    _django()
    from django.conf import settings
    from django.db import connection

    from phonebank.calling.models import CallAttempt, Target
    from phonebank.campaigns.models import Campaign
    from phonebank.contacts.models import Contact
    from phonebank.registry.models import Declaration

    campaign = Campaign.objects.get(slug=args.slug)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
    else:
        name = Path(settings.DATABASES["default"]["NAME"])
        size = sum(p.stat().st_size for p in name.parent.glob(name.name + "*") if p.is_file())
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "database_bytes": size,
                "campaigns": Campaign.objects.count(),
                "calls": CallAttempt.objects.count(),
                "campaign_calls": CallAttempt.objects.filter(campaign=campaign).count(),
                "targets": Target.objects.filter(campaign=campaign).count(),
                "contacts": Contact.objects.count(),
                "declarations": Declaration.objects.count(),
            }
        )
    )


def child_inprocess(args: argparse.Namespace) -> None:
    """Each view through Django's test Client against the same database: the server's own
    time without HTTP and gunicorn, and the queries per request."""
    _django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from phonebank.accounts.models import User

    tokens = json.loads(os.environ["BENCH_TOKENS"])
    backend = "django.contrib.auth.backends.ModelBackend"
    clients = {"anonymous": Client(HTTP_HOST=HOST)}
    for who in ("coordinator", "admin"):
        clients[who] = Client(HTTP_HOST=HOST)
        clients[who].force_login(User.objects.get(username=who), backend=backend)
    clients["coordinator-token"] = Client(
        HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {tokens['coordinator']}"
    )
    clients["caller-token"] = Client(
        HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {tokens['caller']}"
    )
    language = {"HTTP_ACCEPT_LANGUAGE": args.language}
    out: dict[str, dict] = {}
    views = [(name, who, _path(path, args), hdrs) for name, who, path, hdrs, *_ in VIEWS]
    plans = []
    for name, who, path, hdrs in views:
        extra = {**language, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in hdrs.items()}}
        client = clients[who]
        client.get(path, **extra)  # warm: sessions, caches (time zones), templates
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, **extra)
        plans.append((name, client, path, extra))
        out[name] = {"status": response.status_code, "queries": len(queries.captured_queries),
                     "times": []}  # fmt: skip
    for _round in range(args.rounds):
        for name, client, path, extra in plans:
            for _ in range(max(1, args.inprocess // args.rounds)):
                start = time.perf_counter()
                response = client.get(path, **extra)
                out[name]["times"].append(time.perf_counter() - start)
                if response.status_code != 200:
                    out[name]["status"] = response.status_code
    for found in out.values():
        found.update(figures(found.pop("times")))
    print(json.dumps(out))


def child_recount(args: argparse.Namespace) -> None:
    """Figures the views show, counted again from the call attempts and the targets."""
    _django()
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from phonebank.accounts.models import User
    from phonebank.calling.models import CallAttempt, Outcome, Target, TargetStatus
    from phonebank.campaigns.models import Campaign
    from phonebank.dashboards import selectors

    tokens = json.loads(os.environ["BENCH_TOKENS"])
    campaign = Campaign.objects.get(slug=args.slug)
    caller = User.objects.get(username=args.caller)
    started = time.perf_counter()
    problems = []

    def stats(token: str) -> dict:
        client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get(f"/api/campaigns/{args.slug}/stats").json()

    def counted(qs) -> dict[str, int]:
        found = {code: 0 for code in Outcome.values}
        found.update(dict(qs.values_list("outcome").annotate(n=Count("id")).order_by()))
        return found

    calls = CallAttempt.objects.filter(campaign=campaign)
    for scope, answer, recount in (
        ("campaign", stats(tokens["coordinator"]), counted(calls)),
        ("caller", stats(tokens["caller"]), counted(calls.filter(caller=caller))),
    ):
        if answer["outcomes"] != recount:
            problems.append(f"stats ({scope}): {answer['outcomes']} != recount {recount}")
        if answer["calls"] != sum(recount.values()):
            problems.append(f"stats ({scope}): calls {answer['calls']} != {sum(recount.values())}")
    statuses = {s: 0 for s in TargetStatus.values}
    statuses.update(
        dict(
            Target.objects.filter(campaign=campaign)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
    )
    health = selectors.queue_health(campaign, timezone.now())
    if health.statuses != statuses:
        problems.append(f"queue health {health.statuses} != recount {statuses}")
    to_call = statuses[TargetStatus.OPEN] + statuses[TargetStatus.CALLBACK]
    row = selectors.overview([campaign], timezone.now()).campaigns[0]
    if row.to_call != to_call:
        problems.append(f"overview: still to call {row.to_call} != recount {to_call}")
    print(
        json.dumps(
            {
                "calls_recounted": sum(counted(calls).values()),
                "targets_recounted": sum(statuses.values()),
                "problems": problems,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


def child_exports(args: argparse.Namespace) -> None:
    """The call attempts export of the campaign's first N calls, through the job service."""
    _django()
    import csv
    import io
    import itertools

    from django.utils import timezone

    from phonebank.accounts.models import User
    from phonebank.campaigns.models import Campaign
    from phonebank.dashboards import exports
    from phonebank.dashboards.models import ExportJob, ExportKind
    from phonebank.lib import jobs

    campaign = Campaign.objects.get(slug=args.slug)
    actor = User.objects.get(username="coordinator")
    real = exports.SOURCES[ExportKind.ATTEMPTS]

    def first_rows(job):
        """The real source, cut after the first N rows (the oldest calls)."""
        source = real(job)
        left, whole = [args.exports], source.batches

        def batches():
            for rows, _done in whole:
                rows = rows[: left[0]]
                left[0] -= len(rows)
                yield rows, len(rows)
                if not left[0]:
                    return

        source.total = min(source.total, args.exports)
        source.batches = batches()
        return source

    exports.SOURCES[ExportKind.ATTEMPTS] = first_rows
    sample = ["2026-11-25T02:03:00+00:00", "2026-11-25T10:03:00+08:00", 180, "caller1",
              "No answer", "no_answer", "Guangdong", "Guangzhou", "'+86 138****0001", ""]  # fmt: skip
    start = time.perf_counter()
    out = csv.writer(io.StringIO())
    for row in itertools.repeat(sample, args.exports):
        out.writerow(row)
    baseline = args.exports / (time.perf_counter() - start)
    result = {"rows_asked": args.exports, "baseline_rows_per_s": round(baseline), "formats": {}}
    for fmt in args.formats.split(","):
        job = exports.export_request(
            campaign=campaign, actor=actor, kind=ExportKind.ATTEMPTS, format=fmt,
            language=args.language,
        )  # fmt: skip
        claimed = jobs.claim_next(ExportJob.objects.filter(pk=job.pk), timezone.now())
        start = time.perf_counter()
        done = exports.export_job_run(claimed)
        seconds = time.perf_counter() - start
        result["formats"][fmt] = {
            "status": done.status,
            "rows": done.rows_done,
            "seconds": round(seconds, 2),
            "rows_per_s": round(done.rows_done / seconds),
            "bytes": done.size,
        }
        # Not kept: the file is deleted and the job expired, as the worker would a day later.
        ExportJob.objects.filter(pk=done.pk).update(expires_at=timezone.now())
        exports.exports_expire()
    print(json.dumps(result))


def child_revoke(args: argparse.Namespace) -> None:
    """Revoke the tokens this benchmark made (label bench-dashboards)."""
    _django()
    from phonebank.accounts.models import ApiToken
    from phonebank.accounts.services import token_revoke

    mine = ApiToken.objects.filter(name=LABEL, revoked_at__isnull=True)
    for token in mine:
        token_revoke(token=token, actor=None)
    print(json.dumps({"revoked": len(mine)}))


CHILDREN = {
    "--child-facts": child_facts,
    "--child-inprocess": child_inprocess,
    "--child-recount": child_recount,
    "--child-exports": child_exports,
    "--child-revoke": child_revoke,
}


def run_child(mode: str, argv: list[str], env: dict, timeout: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), mode, *argv]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        command, env=env, stdout=subprocess.PIPE, text=True, check=True, timeout=timeout
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def phonebank(env: dict, *words: str, timeout: float = 300) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "phonebank.cli", *words],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"phonebank {' '.join(words)}: exit {done.returncode}\n{done.stdout}")
    return done.stdout


# -- the server --------------------------------------------------------------------------------


# -- the client --------------------------------------------------------------------------------


class Session:
    """One persistent HTTP/1.1 connection with a cookie jar (or a bearer token)."""

    def __init__(self, port: int, language: str, token: str = "") -> None:
        self.port = port
        self.jar: dict[str, str] = {}
        self.headers = {"Accept-Language": language}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        headers = {**self.headers, **(headers or {}), "Content-Length": str(len(body))}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                # gunicorn closes a connection idle for 2 s (its keep-alive): open another
                # and send again, as a browser does.
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt == 2:
                    return None, b"", ""
        for raw in response.msg.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(raw).items():
                self.jar[name] = morsel.value
        return response.status, data, response.getheader("Content-Type", "")

    def sign_in(self, username: str, password: str) -> None:
        status, page, _type = self.request("GET", "/accounts/login/")
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or found is None:
            raise RuntimeError(f"login page: {status}")
        form = {"csrfmiddlewaretoken": found.group(1).decode(), "username": username,
                "password": password}  # fmt: skip
        status, _data, _type = self.request(
            "POST", "/accounts/login/", urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        if status != 302 or "sessionid" not in self.jar:
            raise RuntimeError(f"sign-in as {username} failed: {status}")

    def close(self) -> None:
        self.conn.close()


def _path(template: str, args: argparse.Namespace) -> str:
    return template.format(slug=args.slug, days=args.days)


def sequential(port: int, args, creds: dict, tokens: dict, server_pid: int, say) -> dict:
    def session(who: str) -> Session:
        if who.endswith("-token"):
            return Session(port, args.language, tokens[who.removesuffix("-token")])
        s = Session(port, args.language)
        if who != "anonymous":
            s.sign_in(who, creds[who])
        return s

    sessions = {who: session(who) for who in {v[1] for v in VIEWS}}
    samples: dict[str, list[float]] = {v[0]: [] for v in VIEWS}
    cpu: dict[str, float] = dict.fromkeys(samples, 0.0)
    errors: dict[str, list[str]] = {v[0]: [] for v in VIEWS}
    sizes: dict[str, int] = {}
    for _name, who, path, hdrs, _ctype, _target in VIEWS:  # warm-up, unmeasured
        for _ in range(2):
            sessions[who].request("GET", _path(path, args), headers=hdrs)
    for n in range(1, args.rounds + 1):
        say(f"sequential round {n}/{args.rounds}: {len(VIEWS)} views × {args.per_round} …")
        for name, who, path, hdrs, ctype, _target in VIEWS:
            conn = sessions[who]
            url = _path(path, args)
            cpu0 = tree_cpu(server_pid)
            for _ in range(args.per_round):
                t0 = time.perf_counter()
                status, data, got = conn.request("GET", url, headers=hdrs)
                samples[name].append(time.perf_counter() - t0)
                if status != 200 or (ctype and not got.startswith(ctype)):
                    errors[name].append(f"{status} {got}")
                sizes[name] = len(data)
            cpu[name] += tree_cpu(server_pid) - cpu0
    for s in sessions.values():
        s.close()
    out = {}
    for name, *_rest in VIEWS:
        found = figures(samples[name])
        total = sum(samples[name])
        found["per_s"] = round(len(samples[name]) / total, 1) if total else 0.0
        found["server_cpu_ms"] = round(cpu[name] * 1000 / max(1, len(samples[name])), 2)
        found["bytes"] = sizes.get(name, 0)
        found["errors"] = errors[name][:5]
        found["error_count"] = len(errors[name])
        out[name] = found
    base = out["healthz"]["per_s"]
    for found in out.values():
        found["ratio"] = round(found["per_s"] / base, 4) if base else 0.0
    return out


def concurrent(port: int, args, creds: dict, tokens: dict, say) -> dict:
    """K threads, one connection each, per view in CONCURRENT, interleaved in rounds."""
    chosen = [v for v in VIEWS if v[0] in CONCURRENT]
    pools: dict[str, list[Session]] = {}
    for name, who, *_rest in chosen:
        pool = []
        for _ in range(args.concurrency):
            if who.endswith("-token"):
                s = Session(port, args.language, tokens[who.removesuffix("-token")])
            else:
                s = Session(port, args.language)
                if who != "anonymous":
                    s.sign_in(who, creds[who])
            pool.append(s)
        pools[name] = pool
    done: dict[str, list[float]] = {v[0]: [] for v in chosen}
    seconds: dict[str, float] = dict.fromkeys(done, 0.0)
    errors: dict[str, int] = dict.fromkeys(done, 0)
    lock = threading.Lock()
    for n in range(1, args.rounds + 1):
        say(f"concurrent round {n}/{args.rounds}: {len(chosen)} views × {args.concurrency} "
            f"threads × {args.concurrent_seconds:g} s …")  # fmt: skip
        for name, _who, path, hdrs, _ctype, _target in chosen:
            url = _path(path, args)
            window: dict[str, float] = {}
            gate = threading.Barrier(args.concurrency + 1)

            def loop(s: Session, name=name, url=url, hdrs=hdrs, window=window, gate=gate):
                gate.wait()
                while (t0 := time.perf_counter()) < window["end"]:
                    status, _data, _type = s.request("GET", url, headers=hdrs)
                    t1 = time.perf_counter()
                    with lock:
                        if status != 200:
                            errors[name] += 1
                        elif window["begin"] <= t1 <= window["end"]:
                            done[name].append(t1 - t0)

            threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in pools[name]]
            for t in threads:
                t.start()
            now = time.perf_counter()
            window["begin"] = now + 0.3  # a short unmeasured start
            window["end"] = window["begin"] + args.concurrent_seconds
            gate.wait(timeout=30)
            for t in threads:
                t.join(timeout=args.concurrent_seconds + 120)
            seconds[name] += args.concurrent_seconds
    for pool in pools.values():
        for s in pool:
            s.close()
    out = {}
    for name in done:
        found = figures(done[name])
        found["per_s"] = round(len(done[name]) / seconds[name], 1) if seconds[name] else 0.0
        found["errors"] = errors[name]
        out[name] = found
    base = out["healthz"]["per_s"]
    for found in out.values():
        found["ratio"] = round(found["per_s"] / base, 4) if base else 0.0
    return out


# -- the run -----------------------------------------------------------------------------------


def bench(args: argparse.Namespace, say) -> dict:
    home = Path(args.home).resolve()
    creds = json.loads((home / "demo-credentials.json").read_text())
    env = dict(os.environ)
    env.update(
        PHONEBANK_HOME=str(home),
        PHONEBANK_HTTPS="0",
        PHONEBANK_ALLOWED_HOSTS=HOST,
        PHONEBANK_REQUIRE_2FA="0",
        PHONEBANK_STATS_RATE_PER_MIN="0",
        DJANGO_SETTINGS_MODULE="phonebank.settings",
    )
    env.pop("PHONEBANK_DEBUG", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    child_argv = ["--slug", args.slug, "--caller", args.caller, "--language", args.language,
                  "--days", str(args.days), "--rounds", str(args.rounds),
                  "--inprocess", str(args.inprocess), "--exports", str(args.exports),
                  "--formats", args.formats]  # fmt: skip
    load = [os.getloadavg()]
    started = time.perf_counter()

    say("setup: phonebank manage migrate --check …")
    try:
        phonebank(env, "manage", "migrate", "--check")
    except RuntimeError as exc:
        raise SystemExit(
            f"bench: unapplied migrations; run `phonebank manage migrate` first\n{exc}"
        ) from exc
    facts = run_child("--child-facts", child_argv, env, timeout=600)
    say(f"database: {facts['vendor']}, {facts['database_bytes'] / 1e9:.2f} GB, "
        f"{facts['campaign_calls']:,} calls, {facts['targets']:,} targets in {args.slug}")  # fmt: skip
    tokens = {
        "coordinator": phonebank(env, "token", "create", "coordinator", "--label", LABEL)
        .strip()
        .splitlines()[-1],
        "caller": phonebank(env, "token", "create", args.caller, "--label", LABEL)
        .strip()
        .splitlines()[-1],
    }
    env_child = {**env, "BENCH_TOKENS": json.dumps(tokens)}
    result: dict = {
        "database": facts,
        "slug": args.slug,
        "language": args.language,
        "days": args.days,
        "rounds": args.rounds,
        "per_round": args.per_round,
        "concurrency": args.concurrency,
        "concurrent_seconds": args.concurrent_seconds,
        "workers": args.workers,
        "threads_per_worker": args.threads,
        "settings": {
            "PHONEBANK_STATS_RATE_PER_MIN": "0 (no limit)",
            "PHONEBANK_REQUIRE_2FA": "0",
            "PHONEBANK_HTTPS": "0",
        },
    }
    try:
        port = free_port()
        say(f"server: phonebank serve --host {HOST} --port {port} --no-worker …")
        log = home / f"bench-dashboards-{port}.log"
        server = Server(env, port, args.workers, args.threads, log)
        try:
            server.wait_healthy(120)
            result["sequential"] = sequential(port, args, creds, tokens, server.proc.pid, say)
            load.append(os.getloadavg())
            if args.concurrency:
                result["concurrent"] = concurrent(port, args, creds, tokens, say)
                load.append(os.getloadavg())
        except Exception:
            print(server.tail(), file=sys.stderr)
            raise
        finally:
            server.stop()
            with contextlib.suppress(OSError):
                log.unlink()
        if args.inprocess:
            say(f"in-process: {len(VIEWS)} views × {args.inprocess} through the test Client …")
            result["inprocess"] = run_child("--child-inprocess", child_argv, env_child, 1800)
            load.append(os.getloadavg())
        if args.recount:
            say("recount: calls by outcome and targets by status …")
            result["recount"] = run_child("--child-recount", child_argv, env_child, 1800)
        if args.exports:
            say(f"exports: the first {args.exports:,} calls as {args.formats} …")
            result["exports"] = run_child("--child-exports", child_argv, env_child, 3600)
            load.append(os.getloadavg())
    finally:
        run_child("--child-revoke", child_argv, env, timeout=120)
    load.append(os.getloadavg())
    result["load_average_1min"] = [round(x[0], 2) for x in load]
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def report(r: dict) -> list[str]:
    db = r["database"]
    seq, conc, inproc = r["sequential"], r.get("concurrent", {}), r.get("inprocess", {})
    lines = [
        f"dashboards, {db['vendor']} ({db['database_bytes'] / 1e9:.2f} GB): "
        f"{db['campaign_calls']:,} calls and {db['targets']:,} targets in campaign {r['slug']}, "
        f"{db['contacts']:,} contacts, {db['declarations']:,} declarations; "
        f"language {r['language']}, period {r['days']} days",
        f"phonebank serve --no-worker (gunicorn gthread, {r['workers']} workers × "
        f"{r['threads_per_worker']} threads); {r['rounds']} rounds × {r['per_round']} "
        "sequential requests per view on one connection each; load average (1 min) "
        + " → ".join(f"{x:.1f}" for x in r["load_average_1min"]),
        "",
        f"{'view':30} {'median':>8} {'p90':>8} {'req/s':>7} {'÷healthz':>9} {'srv CPU':>8} "
        f"{'in-proc':>8} {'queries':>7} {'target':>7}",
    ]
    over = []
    for name, _who, _path, _hdrs, _ctype, target in VIEWS:
        s = seq[name]
        i = inproc.get(name, {})
        mark = ""
        if target is not None:
            mark = f"≤{target:.0f}" if s["median_ms"] <= target else f"OVER {target:.0f}"
            if s["median_ms"] > target:
                over.append(name)
        lines.append(
            f"{name:30} {s['median_ms']:>6.1f}ms {s['p90_ms']:>6.1f}ms {s['per_s']:>7.1f} "
            f"{s['ratio']:>9.3f} {s['server_cpu_ms']:>6.1f}ms "
            + (f"{i['median_ms']:>6.1f}ms {i['queries']:>7}" if i else f"{'-':>8} {'-':>7}")
            + f" {mark:>7}"
            + (f"  ERRORS {s['error_count']}: {s['errors']}" if s["error_count"] else "")
        )
    lines.append(
        "  (median/p90: client latency on loopback, an upper bound on server time; req/s on one "
        "connection; ÷healthz: that req/s over healthz's in the same run; srv CPU: the server "
        "process tree's CPU per request; in-proc: Django test Client median, same database)"
    )
    if conc:
        lines += ["", f"concurrent: {r['concurrency']} connections per view, "
                  f"{r['concurrent_seconds']:g} s per view per round"]  # fmt: skip
        for name, c in conc.items():
            lines.append(
                f"  {name:28} {c['per_s']:>7.1f} req/s  ÷healthz {c['ratio']:.3f}  "
                f"median {c['median_ms']:.1f} ms  p90 {c['p90_ms']:.1f} ms"
                + (f"  ERRORS {c['errors']}" if c["errors"] else "")
            )
    if "recount" in r:
        rc = r["recount"]
        lines += [
            "",
            f"recount: {rc['calls_recounted']:,} calls by outcome and {rc['targets_recounted']:,} "
            f"targets by status counted again in {rc['seconds']:.0f} s: "
            + ("all match" if not rc["problems"] else "DIFFER: " + "; ".join(rc["problems"])),
        ]
    if "exports" in r:
        ex = r["exports"]
        lines += ["", f"exports, call attempts of {r['slug']}, its first {ex['rows_asked']:,} calls "
                  f"(baseline csv.writer alone: {ex['baseline_rows_per_s']:,} rows/s):"]  # fmt: skip
        for fmt, f in ex["formats"].items():
            lines.append(
                f"  {fmt}: {f['status']}, {f['rows']:,} rows in {f['seconds']:.1f} s = "
                f"{f['rows_per_s']:,} rows/s ({f['rows_per_s'] / ex['baseline_rows_per_s']:.3f}"
                f" × baseline), {f['bytes'] / 1e6:.1f} MB sealed"
            )
    lines += ["", "over target: " + (", ".join(over) if over else "none")]
    return lines


def main() -> None:
    for mode, child in CHILDREN.items():
        if mode in sys.argv:
            sys.argv.remove(mode)
            child(_parser().parse_args())
            return
    args = _parser().parse_args()
    if not args.home:
        sys.exit("bench: --home (or PHONEBANK_HOME) must name the large demo's folder")

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    with deadline(args.timeout):
        result = bench(args, say)
    print(json.dumps(result) if args.json else "\n".join(report(result)))
    failed = any(v["error_count"] for v in result["sequential"].values())
    failed |= any(v["errors"] for v in result.get("concurrent", {}).values())
    failed |= any(v["status"] != 200 for v in result.get("inprocess", {}).values())
    failed |= bool(result.get("recount", {}).get("problems"))
    failed |= any(
        f["status"] != "finished" for f in result.get("exports", {}).get("formats", {}).values()
    )
    sys.exit(1 if failed else 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default=os.environ.get("PHONEBANK_HOME", ""))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--slug", default="demo", help="the campaign (default: the demo's)")
    parser.add_argument("--caller", default="caller1", help="the caller whose own stats to time")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=8, help="requests per view per round")
    parser.add_argument("--concurrency", type=int, default=4, help="threads; 0: no such phase")
    parser.add_argument("--concurrent-seconds", type=float, default=2.0)
    parser.add_argument("--inprocess", type=int, default=20, help="per view; 0: skip")
    parser.add_argument("--exports", type=int, default=0, help="rows to export; 0: skip")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--language", default="en", help="Accept-Language of every request")
    parser.add_argument("--days", type=int, default=30, help="the daily charts' period")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (serve's)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (serve's)")
    parser.add_argument("--no-recount", dest="recount", action="store_false")
    parser.add_argument("--timeout", type=int, default=1800, help="give up after this many s")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


if __name__ == "__main__":
    main()
