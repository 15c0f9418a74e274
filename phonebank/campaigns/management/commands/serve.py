import os
import signal
import subprocess  # starts our own interpreter only  # nosec B404
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

WORKERS, THREADS = 2, 4  # gunicorn gthread; chosen by measurement (docs/benchmarks.md)


def serve(
    host: str, port: int, workers: int, with_worker: bool, stdout, threads: int = THREADS
) -> int:
    """Run gunicorn and the import worker side by side until interrupted."""
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
    procs = [subprocess.Popen(server, env=env)]  # noqa: S603 - our own interpreter and args  # nosec B603
    if with_worker:
        procs.append(subprocess.Popen([sys.executable, "-m", "phonebank.cli", "worker"], env=env))  # nosec B603
    stdout.write(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    return max((p.returncode or 0) for p in procs)


class Command(BaseCommand):
    help = "Serve phonebank with gunicorn, static files through whitenoise, and the import worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=WORKERS)
        parser.add_argument("--threads", type=int, default=THREADS, help="threads per worker")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the background import worker"
        )

    def handle(self, *args, host, port, workers, threads, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        serve(host, port, workers, not no_worker, self.stdout, threads=threads)
