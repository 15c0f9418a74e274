import ctypes
import os
import signal
import subprocess  # starts our own interpreter only  # nosec B404
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# gunicorn gthread (workers, threads per worker), by database; chosen by measurement
# (docs/benchmarks.md, bench/claims.py on two cores): on SQLite, threads of one process
# contending for its write queue and the GIL cost 2.3x the CPU per claim or outcome, so one
# thread per process; on PostgreSQL the split made no difference, and threads wait on the
# database more cheaply than processes.
DEFAULTS = {"sqlite": (4, 1), "postgresql": (2, 4)}
WORKERS, THREADS = DEFAULTS["postgresql"]


def defaults_for(vendor: str) -> tuple[int, int]:
    """(workers, threads per worker) for a database vendor."""
    return DEFAULTS.get(vendor, (WORKERS, THREADS))


# What stops the server besides Ctrl-C: `kill`, systemd and container runtimes send SIGTERM;
# a closed terminal sends SIGHUP (gunicorn would take it as "reload": here it means stop).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum, _frame):
    raise _Stop(signum)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM should this process die without stopping it (SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def serve(
    host: str, port: int, workers: int, with_worker: bool, stdout, threads: int = THREADS
) -> int:
    """Run gunicorn and the import worker side by side until interrupted (Ctrl-C, SIGTERM or
    SIGHUP), then stop both and wait for them: nothing is left holding the port."""
    call_command("collectstatic", interactive=False, verbosity=0)
    env = dict(os.environ)
    server = [
        sys.executable,
        "-m",
        "gunicorn",
        "phonebank.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--forwarded-allow-ips",
        "127.0.0.1,::1",
    ]
    commands = [server]
    if with_worker:
        commands.append([sys.executable, "-m", "phonebank.cli", "worker"])
    procs: list[subprocess.Popen] = []
    previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, signal.SIGINT)}
    for s in STOP_SIGNALS:
        signal.signal(s, _raise_stop)
    try:
        for command in commands:
            procs.append(subprocess.Popen(command, env=env, preexec_fn=_die_with_parent))  # noqa: S603 - our own interpreter and args; no other thread runs here  # nosec B603
        stdout.write(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        # A second signal must not cut the shutdown short and leave a child behind.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        try:
            _stop_all(procs)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return max(((p.returncode or 0) for p in procs), default=0)


class Command(BaseCommand):
    help = "Serve phonebank with gunicorn, static files through whitenoise, and the import worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers", type=int, default=None, help="gunicorn workers (SQLite 4, PostgreSQL 2)"
        )
        parser.add_argument(
            "--threads", type=int, default=None, help="threads per worker (SQLite 1, PostgreSQL 4)"
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the background import worker"
        )

    def handle(self, *args, host, port, workers, threads, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        default_workers, default_threads = defaults_for(connection.vendor)
        serve(
            host,
            port,
            workers or default_workers,
            not no_worker,
            self.stdout,
            threads=threads or default_threads,
        )
