"""The Django project. Its Celery app is loaded with it, so the web processes queue jobs on the broker
and with the options the workers use (Celery's documented pattern for Django)."""

from worker.celery import app as celery_app

__all__ = ["celery_app"]
