"""Benchmark: claiming contacts over HTTP with concurrent callers (SPEC section 4).

    uv run python bench/claims.py [--contacts N] [--callers K] [--duration S]
                                  [--database-url URL] [--json]

In a throwaway PHONEBANK_HOME (PHONEBANK_HTTPS=0, PHONEBANK_CLAIM_RATE_PER_MIN=0):

1. setup: ``phonebank manage migrate``; then, in a child process, the services: a campaign
   with hours 00:00-24:00 (so the run does not depend on the time of day), N synthetic
   contacts (``synthetic_rows``) imported with ``contacts_import_file``, K caller users who
   are members of the campaign with an API token each (``token_create``), and one more
   caller with a password for the workspace page;
2. the real server, ``phonebank serve --host 127.0.0.1 --port P --no-worker`` (gunicorn
   gthread; no import worker, since nothing is uploaded), waited for on /healthz;
3. one client, K threads, one persistent ``http.client`` connection each, for both loads,
   which alternate (--rounds, default 4) so that a noisy neighbour weighs on both alike:
   a. baseline: ``GET /healthz`` requests/s;
   b. hot path: claim → outcome ``no_answer`` (retried 3 h later, so contacts leave the
      queue), requests/s (claim and outcome each count), claims/s, p50/p99 of each,
      errors (non-2xx except 204), and double hand-outs: a target handed to a caller while
      another still held it (from the responses; released when the outcome returns),
      cross-checked in the database afterwards (no target called twice, one call per
      outcome answered);
   c. ratio = claim+outcome requests/s ÷ healthz requests/s (target ≥ 0.5, no double
      hand-outs);
   d. the caller workspace page: sign in over HTTP (CSRF token from the login page), take a
      contact with POST /call/SLUG/next, then time GET /call/SLUG/ (default 200 times) on
      the otherwise idle server; and the same view in-process with Django's test Client
      against the same database (target: median < 30 ms).

Only ever talks to 127.0.0.1; the whole run is bounded by --timeout (default 180 s).
This is a benchmark, not a test: it prints figures and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

TARGET_RATIO = 0.5
TARGET_WORKSPACE_MS = 30.0
HOST = "127.0.0.1"
SLUG = "bench"
DESK = "bench-desk"  # the caller who opens the workspace page


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# -- Django children (setup and the checks afterwards) -----------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phonebank.settings")
    import django

    django.setup()


def child_setup(args: argparse.Namespace) -> None:
    """Campaign, contacts, callers and tokens through the services; one JSON line out."""
    _django()
    from phonebank.accounts.models import Role
    from phonebank.accounts.services import token_create, user_create
    from phonebank.calling.models import Target
    from phonebank.campaigns.demo import synthetic_rows
    from phonebank.campaigns.models import Campaign
    from phonebank.campaigns.services import campaign_create
    from phonebank.contacts.services import contacts_import_file

    if Campaign.objects.exists():
        sys.exit("bench: --database-url must name an empty database (campaigns exist)")
    campaign = campaign_create(
        slug=SLUG, name="Claims benchmark", actor=None, calling_hours="00:00-24:00"
    )
    path = Path(os.environ["PHONEBANK_HOME"]) / "contacts.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["手机", "姓名", "单位", "职务"])
        out.writerows(synthetic_rows(args.contacts, seed=args.seed))
    start = time.perf_counter()
    job = contacts_import_file(path=path, campaign=campaign, actor=None)
    import_s = time.perf_counter() - start
    tokens = []
    for i in range(args.callers):
        user = user_create(
            username=f"bench-caller-{i:02d}",
            password=secrets.token_urlsafe(12),
            role=Role.CALLER,
            campaign=campaign,
        )
        tokens.append(token_create(user=user, actor=None, name="bench")[1])
    desk_password = secrets.token_urlsafe(12)
    user_create(username=DESK, password=desk_password, role=Role.CALLER, campaign=campaign)
    print(
        json.dumps(
            {
                "import_status": job.status,
                "import_counts": job.counts(),
                "import_seconds": round(import_s, 2),
                "targets": Target.objects.filter(campaign=campaign).count(),
                "tokens": tokens,
                "desk_password": desk_password,
            }
        )
    )


def child_check(args: argparse.Namespace) -> None:
    """After the load: what the database says, and the workspace view timed in-process."""
    _django()
    from django.contrib.auth.backends import ModelBackend  # noqa: F401 - named below
    from django.db.models import Count
    from django.test import Client

    from phonebank.accounts.models import User
    from phonebank.calling.models import CallAttempt, Target

    attempts = CallAttempt.objects.filter(campaign__slug=SLUG)
    twice = attempts.values("target").annotate(n=Count("id")).filter(n__gt=1).count()
    still_held = Target.objects.filter(
        campaign__slug=SLUG, lease_holder__username__startswith="bench-caller-"
    ).count()

    times, bad, problem = [], 0, ""
    try:
        client = Client(HTTP_HOST=HOST, raise_request_exception=True)
        client.force_login(
            User.objects.get(username=DESK), backend="django.contrib.auth.backends.ModelBackend"
        )
        url = f"/call/{SLUG}/"
        client.post(f"{url}next")  # holds the contact it already holds over HTTP, or a new one
        for _ in range(10):
            client.get(url)
        for _ in range(args.pages):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            bad += response.status_code != 200
    except Exception as exc:  # reported, not fatal: the load figures still stand
        problem = f"{type(exc).__name__}: {exc}"
    print(
        json.dumps(
            {
                "attempts": attempts.count(),
                "targets_called_twice": twice,
                "still_held": still_held,
                "inprocess_ms": [t * 1000 for t in times],
                "inprocess_errors": bad,
                "inprocess_problem": problem,
            }
        )
    )


def run_child(mode: str, args: argparse.Namespace, env: dict, timeout: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), mode]
    command += ["--contacts", str(args.contacts), "--callers", str(args.callers)]
    command += ["--seed", str(args.seed), "--pages", str(args.pages)]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        command, env=env, stdout=subprocess.PIPE, text=True, check=True, timeout=timeout
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`phonebank serve` in its own process group, so that it and gunicorn stop together."""

    def __init__(
        self, env: dict, port: int, workers: int, threads: int, log: Path, *, worker: bool = False
    ) -> None:
        """worker: also run serve's background worker (imports, sealing the registry's log)."""
        self.port = port
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.log_path = log
        command = [sys.executable, "-m", "phonebank.cli", "serve", "--host", HOST]
        command += ["--port", str(port)]
        # 0: serve's own default for the database
        command += ["--workers", str(workers)] if workers else []
        command += ["--threads", str(threads)] if threads else []
        command += [] if worker else ["--no-worker"]
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and args
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.tail()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass  # not listening yet, or a worker still starting
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"no /healthz after {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            # serve turns SIGINT into a SIGTERM for gunicorn; gunicorn gets it too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=25)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of ours that is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


@contextlib.contextmanager
def deadline(seconds: int):
    """TimeoutError in the main thread once the block has run for ``seconds`` (SIGALRM)."""

    def too_long(signum, frame):
        raise TimeoutError(f"bench: gave up after {seconds} s")

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)


def tree_cpu_by_process(root: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by a process and each of its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            parent[int(entry)] = int(fields[1])
            used[int(entry)] = int(fields[11]) + int(fields[12])  # utime, stime
    mine, changed = {root}, True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                changed = True
    return {pid: used.get(pid, 0) / ticks for pid in mine}


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants."""
    return sum(tree_cpu_by_process(root).values())


class DatabaseCpu:
    """CPU seconds used by the PostgreSQL backends serving a database, when they run on this
    machine (their /proc entries readable); ``snapshot()`` is None otherwise. The bench's
    own connection is left out. On SQLite the database's work is in the server's CPU."""

    def __init__(self, url: str) -> None:
        self.url = url

    def snapshot(self) -> dict[int, float] | None:
        if not self.url.startswith("postgres"):
            return None
        import psycopg  # the server's own dependency

        try:
            with psycopg.connect(self.url, connect_timeout=5) as conn:
                pids = [
                    row[0]
                    for row in conn.execute(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ]
        except psycopg.Error:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                return None  # another machine's (or vanished): not counted at all
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return found

    @staticmethod
    def used(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        """CPU seconds between two snapshots (a backend started in between: all of its)."""
        if before is None or after is None:
            return None
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


# -- the client --------------------------------------------------------------------------------


class Conn:
    """One persistent HTTP/1.1 connection to the server; reconnects after a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=15)

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        headers = dict(headers or {})
        headers["Content-Length"] = str(len(body))
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=15)
            return None, b"", None
        return response.status, data, response

    def close(self) -> None:
        self.conn.close()


class Phase:
    """Figures of one kind of load over its rounds: per request kind, completion times and
    latencies; the measured windows; errors; and the hand-out ledger."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lock = threading.Lock()
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.windows: list[tuple[float, float]] = []
        self.errors: Counter[str] = Counter()
        self.empty = 0  # 204 answers to claims
        self.doubles: list[tuple[int, int, int]] = []  # target, holder, second caller
        self.held: dict[int, int] = {}  # target → caller, while the caller holds it
        self.outcomes_ok = 0  # over the whole run, warm-ups included
        self.server_cpu = 0.0  # CPU seconds of the server's processes in the windows
        self.client_cpu = 0.0  # and of this process (the client)
        self.database_cpu: float | None = 0.0  # and of PostgreSQL's backends (None: unknown)
        self.busiest: list[float] = []  # per window, the busiest server process's share

    def add(self, kind: str, done: float, latency: float) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append((done, latency))

    def error(self, label: str) -> None:
        with self.lock:
            self.errors[label] += 1

    def summary(self) -> dict:
        seconds = sum(end - begin for begin, end in self.windows)
        figures: dict = {"seconds": round(seconds, 2), "rounds": len(self.windows)}
        total = 0
        for name, samples in sorted(self.samples.items()):
            inside = [
                lat
                for done, lat in samples
                if any(begin <= done <= end for begin, end in self.windows)
            ]
            total += len(inside)
            figures[name] = {
                "requests": len(inside),
                "per_s": round(len(inside) / seconds, 1),
                "p50_ms": ms(percentile(inside, 50)),
                "p99_ms": ms(percentile(inside, 99)),
                "max_ms": ms(max(inside, default=0)),
            }
        figures["requests_per_s"] = round(total / seconds, 1)
        figures["server_cpu_ms_per_request"] = round(self.server_cpu * 1000 / max(total, 1), 3)
        figures["client_cpu_ms_per_request"] = round(self.client_cpu * 1000 / max(total, 1), 3)
        figures["server_cores_busy"] = round(self.server_cpu / seconds, 2)
        figures["database_cpu_ms_per_request"] = (
            None
            if self.database_cpu is None
            else round(self.database_cpu * 1000 / max(total, 1), 3)
        )
        # 1/workers when the load is spread evenly, 1.0 when one process served it all.
        figures["busiest_process_share"] = [round(b, 2) for b in self.busiest]
        figures["errors"] = dict(self.errors)
        if self.kind == "claims":
            figures["empty_claims"] = self.empty
            figures["double_handouts"] = len(self.doubles)
            figures["double_examples"] = self.doubles[:5]
            figures["outcomes_ok_total"] = self.outcomes_ok
            figures["held_at_end"] = len(self.held)
        return figures


def run_round(
    port: int,
    tokens: list[str],
    phase: Phase,
    warmup: float,
    duration: float,
    server_pid: int,
    database: DatabaseCpu | None = None,
):
    """K threads, each with its own new connection, for warmup + duration seconds; only
    requests completed in the last `duration` seconds count, and the CPU time used then
    (the server's, this client's and, when ``database`` can tell, PostgreSQL's)."""
    start_gate = threading.Barrier(len(tokens) + 1)
    window: dict[str, float] = {}

    def healthz_loop(idx: int, token: str) -> None:
        conn = Conn(port)
        start_gate.wait()
        stop = window["end"]
        while (t0 := time.perf_counter()) < stop:
            status, _data, _r = conn.request("GET", "/healthz")
            t1 = time.perf_counter()
            if status == 200:
                phase.add("healthz", t1, t1 - t0)
            else:
                phase.error(f"healthz {status}")
        conn.close()

    def claim_loop(idx: int, token: str) -> None:
        conn = Conn(port)
        auth = {"Authorization": f"Bearer {token}"}
        body = json.dumps({"outcome": "no_answer"}).encode()
        outcome_headers = {**auth, "Content-Type": "application/json"}
        start_gate.wait()
        stop = window["end"]
        while (t0 := time.perf_counter()) < stop:
            status, data, _r = conn.request("POST", f"/api/campaigns/{SLUG}/claim", b"", auth)
            t1 = time.perf_counter()
            if status == 204:
                phase.add("claim", t1, t1 - t0)
                with phase.lock:
                    phase.empty += 1
                time.sleep(0.05)  # the queue is empty now: do not spin
                continue
            if status != 200:
                phase.error(f"claim {status}")
                continue
            phase.add("claim", t1, t1 - t0)
            target = json.loads(data)["target"]
            with phase.lock:
                holder = phase.held.get(target)
                if holder is not None and holder != idx:
                    phase.doubles.append((target, holder, idx))
                phase.held[target] = idx
            # The outcome is always recorded, even past the end, so nobody keeps a contact.
            t2 = time.perf_counter()
            status, _data, _r = conn.request(
                "POST", f"/api/targets/{target}/outcome", body, outcome_headers
            )
            t3 = time.perf_counter()
            if status == 200:
                phase.add("outcome", t3, t3 - t2)
                with phase.lock:
                    phase.outcomes_ok += 1
                    if phase.held.get(target) == idx:
                        del phase.held[target]
            else:
                phase.error(f"outcome {status}")
        conn.close()

    loop = healthz_loop if phase.kind == "healthz" else claim_loop
    threads = [
        threading.Thread(target=loop, args=(i, t), daemon=True) for i, t in enumerate(tokens)
    ]
    for t in threads:
        t.start()
    now = time.perf_counter()
    window["begin"], window["end"] = now + warmup, now + warmup + duration
    start_gate.wait(timeout=30)
    time.sleep(max(0.0, window["begin"] - time.perf_counter()))
    database0 = database.snapshot() if database else None
    server0, client0 = tree_cpu_by_process(server_pid), time.process_time()
    time.sleep(max(0.0, window["end"] - time.perf_counter()))
    server1, client1 = tree_cpu_by_process(server_pid), time.process_time()
    database1 = database.snapshot() if database else None
    used = [cpu - server0.get(pid, 0.0) for pid, cpu in server1.items()]
    phase.server_cpu += sum(used)
    phase.client_cpu += client1 - client0
    phase.busiest.append(max(used) / sum(used) if sum(used) else 0.0)
    db = DatabaseCpu.used(database0, database1)
    phase.database_cpu = (
        None if db is None or phase.database_cpu is None else phase.database_cpu + db
    )
    for t in threads:
        t.join(timeout=duration + warmup + 30)
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"{phase.kind}: client threads did not finish")
    phase.windows.append((window["begin"], window["end"]))


def workspace_over_http(port: int, password: str, pages: int) -> dict:
    """Sign in as the desk caller, take a contact, time GET /call/SLUG/ on an idle server."""
    conn = Conn(port)
    jar: dict[str, str] = {}

    def send(method: str, path: str, body: bytes = b"", headers=None):
        headers = dict(headers or {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        status, data, response = conn.request(method, path, body, headers)
        if response is not None:
            for raw in response.msg.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(raw).items():
                    jar[name] = morsel.value
        return status, data

    status, page = send("GET", "/accounts/login/")
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or found is None:
        raise RuntimeError(f"login page: {status}")
    form = urlencode(
        {"csrfmiddlewaretoken": found.group(1).decode(), "username": DESK, "password": password}
    ).encode()
    status, _ = send(
        "POST",
        "/accounts/login/",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 302 or "sessionid" not in jar:
        raise RuntimeError(f"sign-in failed: {status}")
    url = f"/call/{SLUG}/"
    status, _ = send("POST", f"{url}next", b"", {"X-CSRFToken": jar["csrftoken"]})
    if status not in (200, 302):
        raise RuntimeError(f"POST {url}next: {status}")
    for _ in range(10):  # warm-up
        send("GET", url)
    times, errors, size = [], 0, 0
    for _ in range(pages):
        t0 = time.perf_counter()
        status, data = send("GET", url)
        times.append(time.perf_counter() - t0)
        errors += status != 200
        size = len(data)
    conn.close()
    return {
        "pages": pages,
        "median_ms": ms(percentile(times, 50)),
        "p90_ms": ms(percentile(times, 90)),
        "errors": errors,
        "bytes": size,
        "holds_contact": b"/outcome" in data,
    }


# -- the run -----------------------------------------------------------------------------------


def bench(args: argparse.Namespace, say) -> dict:
    with tempfile.TemporaryDirectory(prefix="phonebank-claims-") as tmp:
        home = Path(tmp) / "home"
        env = dict(os.environ)
        for name in ("PHONEBANK_SECRET_KEY", "PHONEBANK_DATA_KEY", "PHONEBANK_DEBUG"):
            env.pop(name, None)  # a throwaway keyring, generated in the home
            env.pop(f"{name}_FILE", None)
        env.update(
            PHONEBANK_HOME=str(home),
            PHONEBANK_HTTPS="0",
            PHONEBANK_CLAIM_RATE_PER_MIN="0",
            PHONEBANK_CLAIM_DAILY_CAP="0",
            PHONEBANK_ALLOWED_HOSTS=HOST,
            DJANGO_SETTINGS_MODULE="phonebank.settings",
        )
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        else:
            env.pop("DATABASE_URL", None)

        say("setup: phonebank manage migrate …")
        subprocess.run(
            [sys.executable, "-m", "phonebank.cli", "manage", "migrate", "--verbosity", "0"],
            env=env,
            check=True,
            timeout=120,
        )
        say(f"setup: campaign, {args.contacts:,} contacts, {args.callers} callers …")
        setup = run_child("--child-setup", args, env, timeout=150)
        if setup["import_status"] != "finished":
            raise RuntimeError(f"the import did not finish: {setup}")
        tokens = setup.pop("tokens")
        password = setup.pop("desk_password")

        port = free_port()
        say(f"server: phonebank serve --host {HOST} --port {port} --no-worker …")
        server = Server(env, port, args.workers, args.threads, Path(tmp) / "server.log")
        from phonebank.campaigns.management.commands.serve import defaults_for

        default = defaults_for(
            "postgresql" if args.database_url.startswith("postgres") else "sqlite"
        )
        args.workers, args.threads = args.workers or default[0], args.threads or default[1]
        try:
            server.wait_healthy(60)
            baseline, hot = Phase("healthz"), Phase("claims")
            database = DatabaseCpu(args.database_url)
            share = args.duration / args.rounds
            for n in range(1, args.rounds + 1):
                say(
                    f"round {n}/{args.rounds}: GET /healthz, {args.callers} connections, {share:.0f} s …"
                )
                run_round(port, tokens, baseline, args.warmup, share, server.proc.pid, database)
                say(
                    f"round {n}/{args.rounds}: claim → outcome, {args.callers} callers, {share:.0f} s …"
                )
                run_round(port, tokens, hot, args.warmup, share, server.proc.pid, database)
            healthz, claims = baseline.summary(), hot.summary()
            say(f"workspace page: {args.pages} × GET /call/{SLUG}/ over HTTP …")
            workspace = workspace_over_http(port, password, args.pages)
        except Exception:
            print(server.tail(), file=sys.stderr)
            raise
        finally:
            server.stop()
        say("checks: the database, and the workspace view in-process …")
        check = run_child("--child-check", args, env, timeout=60)

    inproc = check.pop("inprocess_ms")
    workspace_inproc = {
        "pages": len(inproc),
        "median_ms": round(percentile(inproc, 50), 2),
        "p90_ms": round(percentile(inproc, 90), 2),
        "errors": check.pop("inprocess_errors"),
        "problem": check.pop("inprocess_problem"),
    }
    base = healthz["requests_per_s"]
    ratio = claims["requests_per_s"] / base if base else 0.0
    cpu_hot = claims["server_cpu_ms_per_request"]
    cpu_ratio = healthz["server_cpu_ms_per_request"] / cpu_hot if cpu_hot else 0.0
    # With PostgreSQL's backends on this machine too: all the CPU a request costs here.
    total_cpu_ratio = None
    if claims["database_cpu_ms_per_request"] is not None:
        total_hot = cpu_hot + claims["database_cpu_ms_per_request"]
        total_base = healthz["server_cpu_ms_per_request"] + healthz["database_cpu_ms_per_request"]
        total_cpu_ratio = round(total_base / total_hot, 3) if total_hot else 0.0
    return {
        "database": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
        "contacts": args.contacts,
        "callers": args.callers,
        "workers": args.workers,
        "threads_per_worker": args.threads,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "setup": setup,
        "healthz": healthz,
        "claims": claims,
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "total_cpu_ratio": total_cpu_ratio,
        "workspace_http": workspace,
        "workspace_inprocess": workspace_inproc,
        "database_check": check,
    }


def report(r: dict) -> list[str]:
    h, c = r["healthz"], r["claims"]
    claim, outcome = c.get("claim", {}), c.get("outcome", {})
    db = r["database_check"]
    doubles = c["double_handouts"] + db["targets_called_twice"]
    ws, wi = r["workspace_http"], r["workspace_inprocess"]
    verdict = "meets" if r["ratio"] >= TARGET_RATIO and doubles == 0 else "MISSES"
    errors = {**h["errors"], **c["errors"]}
    lines = [
        f"claims over HTTP, {r['database']}, {r['contacts']:,} contacts, {r['callers']} callers, "
        f"{r['duration_s']:.0f} s of each load in {r['rounds']} alternating rounds; "
        "phonebank serve --no-worker "
        f"(gunicorn gthread, {r['workers']} workers × {r['threads_per_worker']} threads)",
        f"  baseline GET /healthz:      {h['requests_per_s']:>8,.0f} req/s   "
        f"p50 {h['healthz']['p50_ms']:.1f} ms  p99 {h['healthz']['p99_ms']:.1f} ms",
        f"  claim + outcome:            {c['requests_per_s']:>8,.0f} req/s   "
        f"({claim.get('per_s', 0):,.0f} claims/s)",
        f"    claim                     p50 {claim.get('p50_ms', 0):>6.1f} ms  "
        f"p99 {claim.get('p99_ms', 0):>6.1f} ms  max {claim.get('max_ms', 0):>6.1f} ms",
        f"    outcome                   p50 {outcome.get('p50_ms', 0):>6.1f} ms  "
        f"p99 {outcome.get('p99_ms', 0):>6.1f} ms  max {outcome.get('max_ms', 0):>6.1f} ms",
        f"  ratio (claim+outcome)/healthz: {r['ratio']:.2f}   ({verdict} ≥ {TARGET_RATIO}, "
        "no double hand-outs)",
        f"  server CPU per request: healthz {h['server_cpu_ms_per_request']:.2f} ms, "
        f"claim/outcome {c['server_cpu_ms_per_request']:.2f} ms (ratio {r['cpu_ratio']:.2f}); "
        f"server busy {h['server_cores_busy']:.2f} / {c['server_cores_busy']:.2f} cores; "
        f"client {h['client_cpu_ms_per_request']:.2f} / {c['client_cpu_ms_per_request']:.2f} ms"
        "/request",
        *(
            [
                f"  PostgreSQL backends' CPU per request: healthz "
                f"{h['database_cpu_ms_per_request']:.2f} ms, claim/outcome "
                f"{c['database_cpu_ms_per_request']:.2f} ms; server + database CPU ratio "
                f"{r['total_cpu_ratio']:.2f}"
            ]
            if r["total_cpu_ratio"] is not None
            else []
        ),
        "  busiest server process's share of the server CPU, per round: healthz "
        f"{', '.join(f'{b:.2f}' for b in h['busiest_process_share'])}; claim/outcome "
        f"{', '.join(f'{b:.2f}' for b in c['busiest_process_share'])} "
        f"(1/{r['workers']} is even, 1.00 one process)",
        f"  double hand-outs: {c['double_handouts']} in the responses; "
        f"{db['targets_called_twice']} targets called twice in the database; "
        f"{db['attempts']:,} calls recorded for {c['outcomes_ok_total']:,} outcomes answered",
        f"  errors: {errors or 'none'}; empty claims (204): {c['empty_claims']}",
        f"  workspace GET /call/{SLUG}/ over HTTP ({ws['pages']}×): median {ws['median_ms']:.1f} ms"
        f", p90 {ws['p90_ms']:.1f} ms"
        + (f", {ws['errors']} ERRORS" if ws["errors"] else "")
        + ("" if ws["median_ms"] < TARGET_WORKSPACE_MS else f"  (OVER {TARGET_WORKSPACE_MS} ms)"),
        f"  workspace view in-process, Django test Client ({wi['pages']}×): "
        + (
            f"FAILED: {wi['problem']}"
            if wi["problem"]
            else f"median {wi['median_ms']:.1f} ms, p90 {wi['p90_ms']:.1f} ms"
        ),
        f"  setup: {r['setup']['import_counts']['imported']:,} contacts imported in "
        f"{r['setup']['import_seconds']:.1f} s",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="measured seconds of each load, in all"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternate the two loads this many times"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured s per round")
    parser.add_argument("--pages", type=int, default=200, help="workspace page requests")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="gunicorn workers (default: serve's for the database)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="threads per worker (default: serve's)"
    )
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    parser.add_argument("--seed", type=int, default=1949)
    parser.add_argument("--timeout", type=int, default=180, help="give up after this many s")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--child-setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_setup:
        child_setup(args)
        return
    if args.child_check:
        child_check(args)
        return

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    with deadline(args.timeout):
        result = bench(args, say)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(report(result)))
    broken = (
        result["claims"]["double_handouts"]
        or result["database_check"]["targets_called_twice"]
        or result["workspace_http"]["errors"]
        or result["workspace_inprocess"]["errors"]
        or result["workspace_inprocess"]["problem"]
    )
    if broken:
        sys.exit(1)


if __name__ == "__main__":
    main()
