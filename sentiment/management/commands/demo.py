"""``manage.py demo``: the whole product on this machine, in one command (``make demo``).

It migrates the database, starts Redis when none answers, starts the Celery workers and the web server,
creates a demo staff account and, when no model is served yet, launches the offline ``smoke`` run and
promotes it when it succeeds. Ctrl-C stops everything it started.

The workers' logs run through the same terminal, so the command says again where the site is and how to
sign in once the training worker is ready, says when the first run starts training (and where to watch
it), and says when the first model is served: the terminal tells the story even when nobody watches a page.

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
from dataclasses import dataclass
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from sentiment.models import TrainingRun
from sentiment.selectors import estimates
from sentiment.selectors.serving import served_model, served_version
from sentiment.services.accounts import admin_user_ensure
from sentiment.services.runs import first_model_ensure

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
        self.started_at = timezone.now()
        self.url = f"http://127.0.0.1:{options['port']}"
        for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
            signal.signal(signum, _interrupt)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            self._ensure_redis()
            user, _, _ = admin_user_ensure(username=DEMO_USER, password=DEMO_PASSWORD)
            python = [sys.executable, "-m"]
            self._start("training worker", [*python, "celery", "-A", "worker", "worker", "-Q", "training",
                                            "--pool", "solo", "-n", "training@%h", "--loglevel", "INFO"])  # fmt: skip
            self._start("default worker", [*python, "celery", "-A", "worker", "worker", "-Q", "sweep,default",
                                           "--concurrency", "1", "-B", "-n", "default@%h", "--loglevel", "INFO",
                                           "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")])  # fmt: skip
            self._start("web", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{options['port']}", "--noreload"])
            first = self._first_run(user) if not options["no_train"] else None
            self._where()
            self._wait(_Story(first_run=first.pk if first else None, served=served_version() is not None))
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

    def _first_run(self, user) -> TrainingRun | None:
        run = first_model_ensure(user=user)
        if run is not None:
            self.stdout.write(f"No model is served yet: {run} (smoke recipe) trains and is promoted when it succeeds.")
        return run

    def _where(self) -> None:
        """Where the site is and how to sign in (said again as the story goes on: the logs scroll it away)."""
        self.stdout.write(self.style.SUCCESS(f"\nThe site is at {self.url}/"))
        self.stdout.write(f"Sign in as {DEMO_USER} / {DEMO_PASSWORD} (a staff account). Ctrl-C stops everything.\n")

    def _tell(self, story: _Story) -> None:
        """Say what happened since the last look: the training worker ready, the first run training or
        ended, the first model served."""
        worker = estimates.training_worker()
        if not story.worker_ready and worker is not None and worker.seen_at >= self.started_at:
            story.worker_ready = True
            self.stdout.write(self.style.SUCCESS(f"\nThe training worker is ready ({worker.hostname})."))
            self._where()
        run = TrainingRun.objects.filter(pk=story.first_run).first() if story.first_run else None
        if run is not None and run.status != story.first_run_status:
            story.first_run_status = run.status
            page = self.url + reverse("sentiment:run_detail", args=[run.pk])
            if run.status == TrainingRun.Status.RUNNING:
                self.stdout.write(self.style.SUCCESS(f"\n{run} is training the first model: watch it at {page}"))
            elif run.status in (TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED):
                self.stdout.write(self.style.ERROR(f"\n{run} ended {run.get_status_display().lower()}: {run.error}"))
                launch = self.url + reverse("admin:sentiment_trainingrun_launch")
                self.stdout.write(f"Its page: {page}; launch another from {launch}")
        if not story.served:
            served = served_model()
            if served is not None:
                story.served = True
                self.stdout.write(self.style.SUCCESS(f"\nThe first model is served: {served.name}."))
                self.stdout.write(f"Classify reviews with it at {self.url}/")
                self._where()

    def _start(self, name: str, command: list[str]) -> None:
        self.stdout.write(f"Starting {name}")
        self.children.append((name, subprocess.Popen(command, cwd=settings.BASE_DIR)))

    def _wait(self, story: _Story) -> None:
        while True:
            for name, child in self.children:
                if child.poll() is not None:
                    raise CommandError(f"{name} stopped (exit status {child.returncode})")
            self._tell(story)
            self.stdout.flush()  # the workers' logs share the terminal (or the pipe): say it now
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


@dataclass
class _Story:
    """What the terminal has been told so far."""

    first_run: int | None
    served: bool
    worker_ready: bool = False
    first_run_status: str = ""


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
