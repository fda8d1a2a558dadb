"""Background jobs as the services ask for them: the one seam between the services and Celery.

A service names a job and the row it works on; the message leaves once the current transaction commits,
so the worker always finds the row it is told about (what Celery's ``delay_on_commit`` does). The
tasks are ``worker.tasks``, thin functions that call back into the services, and ``worker.celery``
routes each job to its queue. Jobs are sent by name so that the dependency runs one way: ``worker``
imports ``sentiment``, never the reverse.

The broker can be away when a job is sent (Redis restarting). The row is stored all the same and its
``dispatched_at`` stays empty: the page says the job starts when the broker is back, and the sweep
(``services.jobs_sweep``) sends it again. A job sent twice is claimed once, so sending again is safe.

The training and CSV names are those of the tasks since the first release, so messages already queued
by an older version are still understood.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.apps import apps
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

TRAIN_RUN = "worker.tasks.train_run"
CLASSIFY_CSV = "worker.tasks.classify_csv"
SWEEP = "worker.tasks.sweep"
ANALYSE = "worker.tasks.analyse"

# The table each job works on (by label: the Celery app, and so this module, loads before Django's models).
ROWS = {
    TRAIN_RUN: "sentiment.TrainingRun",
    CLASSIFY_CSV: "sentiment.CsvClassification",
    ANALYSE: "sentiment.AnalysisJob",
}
# The name of that row's id on the job's log lines (worker.observability).
LOG_FIELDS = {TRAIN_RUN: "run_id", CLASSIFY_CSV: "csv_job_id", ANALYSE: "analysis_job_id"}


def job_enqueue(*, name: str, object_id: int) -> None:
    """Queue job ``name`` for row ``object_id`` when the transaction commits (at once outside one).

    A broker that cannot be reached is logged, not raised: the row is the job, and the sweep sends it
    once the broker is back. The row records when its message was sent, or that it could not be.
    """

    def send() -> None:
        try:
            current_app.signature(name, args=[object_id]).delay()
            sent_at = timezone.now()
        except OperationalError as exc:
            logger.warning("no broker (%s): %s %s stays queued until the broker is back", exc, name, object_id)
            sent_at = None
        if name in ROWS:
            apps.get_model(ROWS[name]).objects.filter(pk=object_id).update(dispatched_at=sent_at)

    transaction.on_commit(send)
