"""The Celery app. Training tasks arrive in the next issue; the reliability settings are set now.

- late acknowledgement, and rejection when the worker process is lost, so a killed worker's run is
  delivered again instead of vanishing;
- a Redis visibility timeout longer than any run (otherwise Redis re-delivers a task still running);
- a prefetch of one, so a worker busy training holds no other task hostage.
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
)
app.autodiscover_tasks(["sentiment"])
