"""``manage.py bootstrap``: from an empty deployment to a served model, in one command.

It creates the administrator (``ADMIN_USERNAME``, ``ADMIN_PASSWORD``, ``ADMIN_EMAIL`` from the
environment, e.g. the compose stack's ``.env``; a password is generated and shown once when none is
set) and, when no model is served, launches the offline ``smoke`` run through the training queue,
promoted when it succeeds. It then follows that run until its model is served. Running it again
changes nothing that exists: the account keeps its password, a run under way is followed, not repeated.
"""

from __future__ import annotations

import os
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sentiment.management.database import database_ready
from sentiment.models import TrainingRun
from sentiment.permissions import can_manage_training
from sentiment.selectors.serving import served_model
from sentiment.services.accounts import admin_user_ensure
from sentiment.services.runs import first_model_ensure


class Command(BaseCommand):
    help = (
        "Create the administrator from ADMIN_USERNAME / ADMIN_PASSWORD / ADMIN_EMAIL and, when no model is "
        "served yet, train the offline smoke model through the worker and serve it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-wait", action="store_true", help="Launch the first run and return at once.")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Seconds to wait for the first model (default 3600)."
        )

    def handle(self, *args, **options):
        database_ready()
        username = os.environ.get("ADMIN_USERNAME") or "admin"
        try:
            user, created, generated = admin_user_ensure(
                username=username,
                password=os.environ.get("ADMIN_PASSWORD", ""),
                email=os.environ.get("ADMIN_EMAIL", ""),
            )
        except ValidationError as exc:
            raise CommandError(f"ADMIN_PASSWORD is not accepted: {' '.join(exc.messages)}") from exc
        if generated:
            self.stdout.write(f"Created the administrator {username!r} with the password {generated} (shown only now).")
        elif created:
            self.stdout.write(f"Created the administrator {username!r} with the password from ADMIN_PASSWORD.")
        elif not can_manage_training(user):
            raise CommandError(f"{username!r} exists but is not active staff: choose another ADMIN_USERNAME")
        else:
            self.stdout.write(f"The administrator {username!r} exists; its password is unchanged.")

        run = first_model_ensure(user=user)
        if run is None:
            self.stdout.write(self.style.SUCCESS(f"A model is served: {served_model().name}."))
            return
        self.stdout.write(
            f"No model is served yet: {run} (the offline smoke recipe) trains on the worker and is promoted "
            "when it succeeds, a few minutes on a CPU."
        )
        if not options["no_wait"]:
            self._follow(run, options["timeout"])

    def _follow(self, run: TrainingRun, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        shown = None
        while time.monotonic() < deadline:
            run.refresh_from_db()
            line = f"{run}: {run.get_status_display()}, {run.progress_percent:.0f}%"
            if run.status == TrainingRun.Status.RUNNING and run.seconds_left:
                line += f", about {run.seconds_left / 60:.0f} min left"
            if line != shown:
                self.stdout.write(line)
                shown = line
            if not run.is_active:
                break
            time.sleep(5)
        else:
            raise CommandError(f"{run} is still {run.get_status_display()} after {timeout:.0f} s; its page shows why")
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"{run} ended {run.get_status_display()}: {run.error}")
        accuracy = run.test_accuracy
        scored = f" (test accuracy {accuracy:.3f})" if accuracy is not None else ""
        self.stdout.write(self.style.SUCCESS(f"{run} is served{scored}. Sign in and classify."))
