"""Celery tasks: thin. Each takes an id, re-reads the row through a service, and is safe to deliver twice.

Their names are ``sentiment.jobs``' (the services queue them by name); acknowledgement and routing are
``worker.celery``'s.
"""

from __future__ import annotations

import threading

from celery.signals import worker_ready, worker_shutting_down

from sentiment import jobs, services
from sentiment.run_execution import training_run_supervise
from worker.celery import app

# Set when this worker is asked to stop (SIGTERM: `docker compose stop`, a recreated container). The solo
# pool would otherwise wait for the whole training run; the supervisor hands the run back instead.
_shutting_down = threading.Event()


@worker_shutting_down.connect
def _note_shutdown(sig=None, how=None, exitcode=None, **kwargs) -> None:
    _shutting_down.set()


@app.task(name=jobs.TRAIN_RUN)
def train_run(run_id: int) -> str:
    worker = train_run.request.hostname or "worker"
    return training_run_supervise(run_id=run_id, worker=worker, stopping=_shutting_down.is_set)


@app.task(name=jobs.SWEEP)
def sweep() -> dict[str, list[int]]:
    """Periodic: runs and CSV jobs whose worker stopped sending heartbeats are handed back, and queued
    jobs whose message never reached the broker are sent again."""
    return services.jobs_sweep()


@worker_ready.connect
def _recover_on_start(sender, **kwargs) -> None:
    """A starting worker cannot be running anything: jobs recorded as running on it were interrupted."""
    services.jobs_sweep(worker=getattr(sender, "hostname", None))


@app.task(name=jobs.CLASSIFY_CSV)
def classify_csv(job_id: int) -> str:
    return services.csv_classification_process(job_id=job_id, worker=classify_csv.request.hostname or "worker")
