"""The Celery app, configured for long GPU work on Redis.

- late acknowledgement, and rejection when the worker process is lost, so a killed worker's run is
  delivered again instead of vanishing;
- a Redis visibility timeout longer than any run (otherwise Redis re-delivers a task still running);
- a prefetch of one, so a worker busy training holds no other task hostage;
- training runs on its own queue, served by a worker with one process (``--pool solo``), which starts
  each run as a child process (see ``sentiment.run_execution``), so no CUDA is ever set up in a process
  that forks.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("sentiment")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 7 * 24 * 3600},
    task_default_queue="default",
    task_routes={"worker.tasks.train_run": {"queue": "training"}},
    beat_schedule={"recover-runs": {"task": "worker.tasks.recover_runs", "schedule": 60.0}},
)
app.autodiscover_tasks(["worker"])
