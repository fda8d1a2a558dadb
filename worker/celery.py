"""The Celery app, configured for long GPU work on Redis. Every Celery option of the project is here.

- late acknowledgement, and rejection when the worker process is lost, so a killed worker's job is
  delivered again instead of vanishing (each task is safe to deliver twice);
- a Redis visibility timeout longer than any run (otherwise Redis re-delivers a task still running);
- a prefetch of one, so a worker busy training holds no other task hostage;
- training runs on its own queue, served by a worker with one process (``--pool solo``), which starts
  each run as a child process (see ``sentiment.services.run_execution``), so no CUDA is ever set up in a process
  that forks; the sweep (``services.jobs_sweep``) on a small queue of its own, which the default
  workers read before their CSV files, so that a backlog of files never delays recovering a lost run;
  everything else goes to the default queue.

The web processes load this app at start (``webapp/__init__.py``) and queue jobs through
``sentiment.jobs``; the tasks live in ``worker.tasks``; what the workers log and trace, in
``worker.observability``.
"""

import os

from celery import Celery
from django.conf import settings

from sentiment import jobs
from worker import metrics  # noqa: F401  (the workers' figures, from Celery's signals)
from worker.observability import JobLogContext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

TRAINING_QUEUE = "training"
DEFAULT_QUEUE = "default"
SWEEP_QUEUE = "sweep"

app = Celery("sentiment")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 7 * 24 * 3600},
    task_default_queue=DEFAULT_QUEUE,
    task_routes={jobs.TRAIN_RUN: {"queue": TRAINING_QUEUE}, jobs.SWEEP: {"queue": SWEEP_QUEUE}},
)
app.autodiscover_tasks(["worker"])
app.steps["worker"].add(JobLogContext)


@app.on_after_configure.connect
def _schedule_sweep(sender, **kwargs) -> None:
    """The beat sends the sweep every SWEEP_INTERVAL seconds (read once Django's settings are loaded)."""
    sender.add_periodic_task(settings.SWEEP_INTERVAL, sender.signature(jobs.SWEEP), name="sweep")
