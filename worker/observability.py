"""What a worker's logs and traces say about its jobs (README, "Logs and traces").

- Celery leaves logging alone: the worker's lines, Celery's own included, are formatted as the site's are
  (``settings.LOGGING``, webapp/logging_config.py; ``LOG_LEVEL`` rather than ``--loglevel``).
- Each job's lines carry the ids its message brought from where it was queued (``request_id``, ``user_id``
  and ``ip`` of the request; django-structlog puts them in the message's headers in every process), its own
  ``task_id`` and the id of its row under a name that says what it is (``run_id``...), and the job's start
  and end are logged with its duration.
- Each worker process starts traces when the OTEL_* variables ask for them (webapp/tracing.py).
"""

from __future__ import annotations

import structlog
from celery import bootsteps
from celery.signals import (
    setup_logging,
    task_failure,
    task_prerun,
    task_rejected,
    task_retry,
    task_revoked,
    task_success,
    task_unknown,
    worker_process_init,
)
from django.dispatch import receiver
from django_structlog.celery.receivers import CeleryReceiver
from django_structlog.celery.signals import bind_extra_task_metadata

from sentiment import jobs


@setup_logging.connect
def _logging_as_configured(**kwargs) -> None:
    """Connected, this tells Celery not to install its own handlers and format: Django's are in place."""


class JobLogContext(bootsteps.Step):
    """django-structlog's worker half (its ``DjangoStructLogInitStep`` without the sending half, which its app
    already connected in this process: connected twice, every sent job would be logged twice)."""

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.receiver = CeleryReceiver()
        task_prerun.connect(self.receiver.receiver_task_prerun)
        task_retry.connect(self.receiver.receiver_task_retry)
        task_success.connect(self.receiver.receiver_task_success)
        task_failure.connect(self.receiver.receiver_task_failure)
        task_revoked.connect(self.receiver.receiver_task_revoked)
        task_unknown.connect(self.receiver.receiver_task_unknown)
        task_rejected.connect(self.receiver.receiver_task_rejected)


@receiver(bind_extra_task_metadata)
def _bind_job_row(sender, task=None, **kwargs) -> None:
    """The job's row id as ``run_id``, ``csv_job_id`` or ``analysis_job_id`` on each of its lines."""
    field = jobs.LOG_FIELDS.get(getattr(task, "name", None))
    if field and task.request.args:
        structlog.contextvars.bind_contextvars(**{field: task.request.args[0]})


@worker_process_init.connect
def _traces(**kwargs) -> None:
    from webapp.tracing import tracing_start

    tracing_start(service="worker")
