"""The sweep: what a worker that died, or a broker that went away, left behind is picked up again.

It runs every ``SWEEP_INTERVAL`` seconds on its own queue (``worker.celery``), so that a backlog of CSV
files never delays it, and once when a worker starts, for what that worker held before it restarted.
Each step is safe to run twice at once: every hand-back is a conditional UPDATE, and a job sent twice
is claimed once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from sentiment import jobs
from sentiment.services.analysis import analysis_jobs_expire, analysis_jobs_recover
from sentiment.services.csv_jobs import csv_classifications_recover
from sentiment.services.runs import training_runs_recover
from sentiment.services.storage import stored_expire

logger = logging.getLogger(__name__)
UNSENT_GRACE = timedelta(seconds=10)  # a new row's message leaves as its transaction commits: well within this


def jobs_sweep(*, worker: str | None = None) -> dict:
    """Hand back runs and CSV jobs whose worker died (or that ``worker`` held before it restarted), send
    again the queued ones whose message may not be in the broker, and apply the retention of what people
    stored (``services.storage``). Returns the ids, by kind, and the retention's counts."""
    return {
        "runs": training_runs_recover(worker=worker),
        "csv": csv_classifications_recover(worker=worker),
        "analyses": analysis_jobs_recover(worker=worker),
        "resent": queued_jobs_resend(),
        "expired": {**stored_expire(), "analyses": analysis_jobs_expire()},
    }


def queued_jobs_resend() -> list[int]:
    """Send again what waits in QUEUED without a message known to be in the broker: rows whose message
    could not be sent (the broker was away; ``dispatched_at`` is empty), and rows sent longer ago than
    ``JOB_RESEND_AFTER`` (a broker restarted without its data loses them). Each resend is claimed by
    moving ``dispatched_at`` in one UPDATE, so two sweeps do not both send."""
    now = timezone.now()
    unsent = Q(dispatched_at__isnull=True, created_at__lt=now - UNSENT_GRACE)
    long_ago = Q(dispatched_at__lt=now - timedelta(seconds=settings.JOB_RESEND_AFTER))
    resent = []
    for name, label in jobs.ROWS.items():
        model = apps.get_model(label)
        waiting = model.objects.filter(unsent | long_ago, status=model.Status.QUEUED)
        for pk, sent_at in waiting.values_list("pk", "dispatched_at"):
            if model.objects.filter(pk=pk, status=model.Status.QUEUED, dispatched_at=sent_at).update(dispatched_at=now):
                logger.warning("%s %s is queued without a message in the broker: sending it again", name, pk)
                jobs.job_enqueue(name=name, object_id=pk)
                resent.append(pk)
    return resent
