"""The workers' figures for Prometheus: each worker serves those of its processes on ``WORKER_METRICS_BIND``
(``host:port``; empty: none), where Prometheus scrapes it (``webapp/prometheus/prometheus.yml``).

A worker is several processes (the default workers' pool; the training worker's training child), so they
write their figures to one folder that a scrape adds up (``sentiment.metrics.folder``). Its path must be in
the worker's environment as ``PROMETHEUS_MULTIPROC_DIR`` before ``celery`` starts: the ``celery`` command
imports prometheus_client as it starts (Flower's plugin does), which then picks where figures live. The
compose stack sets both; a worker given ``WORKER_METRICS_BIND`` without it refuses to start, saying so.
The folder is emptied as the worker starts; a pool process that ends stops counting as alive. Each task's
time and outcome, and the tasks that raised, are counted from Celery's signals in the process that ran them.

Nothing here imports prometheus_client at import: the web processes load this module with the Celery app.
"""

from __future__ import annotations

import logging
import os
import time

from celery.signals import (
    celeryd_init,
    task_failure,
    task_postrun,
    task_prerun,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings

logger = logging.getLogger(__name__)
OUTCOME_WORDS = 16  # a task's returned word longer than this is not an outcome: Celery's state is used
_started: dict[str, float] = {}
_folder: dict = {}  # the metrics server, while it runs


@celeryd_init.connect
def _metrics_folder(sender=None, **kwargs) -> None:
    from sentiment.metrics.folder import VARIABLE, metrics_folder_prepare

    if not settings.WORKER_METRICS_BIND:
        return
    if not os.environ.get(VARIABLE):
        # SystemExit, not an exception: Celery logs a signal handler's exceptions and starts all the same
        raise SystemExit(
            f"WORKER_METRICS_BIND is set but {VARIABLE} is not: set both in the worker's environment "
            "(a folder of its own, e.g. /tmp/sentiment-metrics), or neither (README, Metrics)"
        )
    metrics_folder_prepare()


@worker_ready.connect
def _metrics_serve(sender=None, **kwargs) -> None:
    if not settings.WORKER_METRICS_BIND:
        return
    from sentiment.metrics.exposition import metrics_server_start

    _folder["server"] = metrics_server_start(settings.WORKER_METRICS_BIND)


@worker_shutdown.connect
def _metrics_stop(sender=None, **kwargs) -> None:
    if server := _folder.pop("server", None):
        server.shutdown()


@worker_process_shutdown.connect
def _pool_process_ended(pid=None, **kwargs) -> None:
    from sentiment.metrics.folder import metrics_process_dead

    metrics_process_dead(pid or os.getpid())


@task_prerun.connect
def _task_started(task_id=None, **kwargs) -> None:
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_ended(task_id=None, task=None, retval=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    if started is None or task is None:
        return
    from sentiment.metrics.families import task_count

    word = retval if isinstance(retval, str) and 0 < len(retval) <= OUTCOME_WORDS else None
    task_count(task=task.name, outcome=word or state or "unknown", seconds=time.perf_counter() - started)


@task_failure.connect
def _task_failed(sender=None, **kwargs) -> None:
    from sentiment.metrics.families import task_failure_count

    task_failure_count(task=getattr(sender, "name", "unknown"))
