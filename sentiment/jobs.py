"""Background jobs as the services ask for them: the one seam between the services and Celery.

A service names a job and the row it works on; the message leaves once the current transaction commits,
so the worker always finds the row it is told about (what Celery's ``delay_on_commit`` does). The
tasks are ``worker.tasks``, thin functions that call back into the services, and ``worker.celery``
routes each job to its queue. Jobs are sent by name so that the dependency runs one way: ``worker``
imports ``sentiment``, never the reverse.

The names are those of the tasks since the first release, so messages already queued by an older
version are still understood.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

TRAIN_RUN = "worker.tasks.train_run"
CLASSIFY_CSV = "worker.tasks.classify_csv"
RECOVER_RUNS = "worker.tasks.recover_runs"


def job_enqueue(*, name: str, object_id: int) -> None:
    """Queue job ``name`` for row ``object_id`` when the transaction commits (at once outside one)."""
    transaction.on_commit(current_app.signature(name, args=[object_id]).delay)
