"""Celery tasks: thin. Each takes an id, re-reads the row, and is safe to deliver twice."""

from __future__ import annotations

import threading

from celery.signals import worker_ready, worker_shutting_down

from worker.celery import app

# Set when this worker is asked to stop (SIGTERM: `docker compose stop`, a recreated container). The solo
# pool would otherwise wait for the whole training run; the supervisor hands the run back instead.
_shutting_down = threading.Event()


@worker_shutting_down.connect
def _note_shutdown(sig=None, how=None, exitcode=None, **kwargs) -> None:
    _shutting_down.set()


@app.task(acks_late=True, reject_on_worker_lost=True)
def train_run(run_id: int) -> str:
    from sentiment.run_execution import training_run_supervise

    worker = train_run.request.hostname or "worker"
    return training_run_supervise(run_id=run_id, worker=worker, stopping=_shutting_down.is_set)


@app.task
def recover_runs() -> list[int]:
    """Periodic: runs whose worker stopped sending heartbeats are marked interrupted and queued again."""
    from sentiment.services import training_runs_recover

    return training_runs_recover()


@worker_ready.connect
def _recover_on_start(sender, **kwargs) -> None:
    """A starting worker cannot be running anything: runs recorded as running on it were interrupted."""
    from sentiment.services import training_runs_recover

    hostname = getattr(sender, "hostname", None)
    training_runs_recover(worker=hostname)


@app.task(acks_late=True)
def classify_csv(job_id: int) -> str:
    from sentiment.services import csv_classification_process

    return csv_classification_process(job_id=job_id)
