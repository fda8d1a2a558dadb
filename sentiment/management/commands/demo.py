"""``manage.py demo``: the whole product on this machine, in one command (``make demo``).

It migrates the database, starts Redis when none answers, starts the Celery workers and the web server,
creates a demo staff account and, when no model is served yet, launches the offline ``smoke`` run and
promotes it when it succeeds. Ctrl-C stops everything it started.

The demo account has a published password, so the command refuses to run outside development settings
(``DEBUG`` off, as in ``webapp.settings_production``): it must never create that account in a real
deployment's database.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from sentiment import services

DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"


class Command(BaseCommand):
    help = "Run the site, Redis, the workers and a first training run, for trying the product locally."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port of the web server (default 8000).")
        parser.add_argument("--no-train", action="store_true", help="Do not launch the first smoke run.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                f"demo creates the account {DEMO_USER}/{DEMO_PASSWORD}: it runs only with development settings "
                "(DEBUG on); use `manage.py bootstrap` for a real deployment"
            )
        self.children: list[tuple[str, subprocess.Popen]] = []
        for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
            signal.signal(signum, _interrupt)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            self._ensure_redis()
            user, _, _ = services.admin_user_ensure(username=DEMO_USER, password=DEMO_PASSWORD)
            python = [sys.executable, "-m"]
            self._start("training worker", [*python, "celery", "-A", "worker", "worker", "-Q", "training",
                                            "--pool", "solo", "-n", "training@%h", "--loglevel", "INFO"])  # fmt: skip
            self._start("default worker", [*python, "celery", "-A", "worker", "worker", "-Q", "sweep,default",
                                           "--concurrency", "1", "-B", "-n", "default@%h", "--loglevel", "INFO",
                                           "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")])  # fmt: skip
            self._start("web", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{options['port']}", "--noreload"])
            if not options["no_train"]:
                self._first_run(user)
            url = f"http://127.0.0.1:{options['port']}/"
            self.stdout.write(self.style.SUCCESS(f"\nThe site is at {url}"))
            self.stdout.write(f"Sign in as {DEMO_USER} / {DEMO_PASSWORD} (a staff account). Ctrl-C stops everything.\n")
            self._wait()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop_all()

    def _ensure_redis(self) -> None:
        url = settings.CELERY_BROKER_URL
        if _redis_answers(url):
            return
        server = shutil.which("redis-server")
        parsed = urlparse(url)
        if not server or parsed.hostname not in ("127.0.0.1", "localhost"):
            raise CommandError(f"no Redis answers at {url}; install redis-server or set CELERY_BROKER_URL")
        port = str(parsed.port or 6379)
        self._start("redis", [server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        for _ in range(50):
            if _redis_answers(url):
                return
            time.sleep(0.1)
        raise CommandError(f"redis-server did not answer on port {port}")

    def _first_run(self, user) -> None:
        run = services.first_model_ensure(user=user)
        if run is not None:
            self.stdout.write(f"No model is served yet: {run} (smoke recipe) trains and is promoted when it succeeds.")

    def _start(self, name: str, command: list[str]) -> None:
        self.stdout.write(f"Starting {name}")
        self.children.append((name, subprocess.Popen(command, cwd=settings.BASE_DIR)))

    def _wait(self) -> None:
        while True:
            for name, child in self.children:
                if child.poll() is not None:
                    raise CommandError(f"{name} stopped (exit status {child.returncode})")
            time.sleep(1)

    def _stop_all(self) -> None:
        for _, child in reversed(self.children):
            if child.poll() is None:
                child.terminate()  # Celery: warm shutdown; the web server and Redis: exit
        for _, child in reversed(self.children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
