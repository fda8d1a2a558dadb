"""Celery tasks: thin. Each takes an id, re-reads the row through a service, and is safe to deliver twice.

Their names are ``sentiment.jobs``' (the services queue them by name); acknowledgement and routing are
``worker.celery``'s.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections

from sentiment import jobs
from sentiment.services.analysis_work import analysis_job_process
from sentiment.services.csv_jobs import csv_classification_process
from sentiment.services.run_execution import training_run_supervise
from sentiment.services.sweep import jobs_sweep
from sentiment.services.workers import worker_host_record
from worker.celery import TRAINING_QUEUE, app

logger = logging.getLogger(__name__)

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
    return jobs_sweep()


@worker_ready.connect
def _recover_on_start(sender, **kwargs) -> None:
    """A starting worker cannot be running anything: jobs recorded as running on it were interrupted."""
    jobs_sweep(worker=getattr(sender, "hostname", None))


@app.task(name=jobs.CLASSIFY_CSV)
def classify_csv(job_id: int) -> str:
    return csv_classification_process(job_id=job_id, worker=classify_csv.request.hostname or "worker")


@app.task(name=jobs.ANALYSE)
def analyse(job_id: int) -> str:
    return analysis_job_process(job_id=job_id, worker=analyse.request.hostname or "worker")


@worker_ready.connect
def _describe_hardware(sender, **kwargs) -> None:
    """A training worker records its hardware (device, memory, free disk) for the launch form's estimate.

    ``ml.hardware`` runs in a process of its own, so this worker never sets up CUDA (it starts children),
    and in a thread, so that the worker takes tasks meanwhile."""
    if TRAINING_QUEUE not in {queue.name for queue in sender.task_consumer.queues}:
        return
    hostname = getattr(sender, "hostname", None) or "worker"
    threading.Thread(target=_hardware_record, args=(hostname,), daemon=True, name="describe-hardware").start()


def _hardware_record(hostname: str) -> None:
    command = [sys.executable, "-m", "ml.hardware", str(settings.RUNS_DIR)]
    try:
        found = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
        worker_host_record(hostname=hostname, hardware=json.loads(found.stdout))
    except Exception:  # an estimate is a convenience: nothing the worker does depends on it
        logger.warning("could not record this worker's hardware for the launch form's estimate", exc_info=True)
    finally:
        close_old_connections()
