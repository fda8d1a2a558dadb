"""Heavy reading as jobs: explanations, the promote page's evidence and behavioural checks run by a worker.

Each of these runs a model many times for one page (an explanation reads a review up to 41 times; the
evidence replays up to ``REPLAY_PREDICTIONS`` reviews with two models). Done inside a web request, two of
them stalled both gunicorn workers, and explaining an answer given by an older run loaded that model
into the web process. So a page (or the API) asks for an ``AnalysisJob`` and shows its progress; a
Celery worker on the default queue computes it.

- **Shared**: a job is found by its ``key``, what its result depends on (an explanation: the prediction,
  its runtime and the model's files; the evidence: the candidate, the served promotion, the corrections'
  version and the replay's size). A second request for the same key gets the job under way, or its
  result while it is fresh (``max_age``), or its failure and reason for ten minutes: asking again costs
  nothing.
- **Bounded**: a person has at most ``ANALYSIS_JOBS_PER_PERSON`` jobs waiting or running, and no more than
  ``ANALYSIS_QUEUE_MAX`` wait in all: past either, the request is refused (429, "try again shortly"),
  not queued. At most as many run at once as the default workers have processes.
- **Leased**, like a CSV job: the worker that claimed it writes a heartbeat with its progress and every
  write is conditional on still holding it; the sweep hands back a job whose worker died, and fails it
  after ``ANALYSIS_MAX_ATTEMPTS`` losses. Results are deleted ``ANALYSIS_KEEP_HOURS`` after the job ended
  (an explanation holds the review's text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from sentiment import jobs
from sentiment.models import AnalysisJob

logger = logging.getLogger(__name__)
Status = AnalysisJob.Status
Kind = AnalysisJob.Kind
RETRY_FAILED_AFTER = timedelta(minutes=10)  # a failed job is shown with its reason this long, then tried again


class AnalysisBusy(ValidationError):
    """Too many analyses wait (the person's, or everybody's): try again shortly."""


Progress = Callable[[int, int], None]  # (done, total): a heartbeat too


def analysis_job_request(
    *, kind: str, key: str, params: dict, user=None, max_age: timedelta | None = None
) -> AnalysisJob:
    """The job for ``key``: under way, or done within ``max_age`` (None: whenever), or a new one queued."""
    same = AnalysisJob.objects.filter(kind=kind, key=key)
    active = same.filter(status__in=AnalysisJob.ACTIVE).order_by("-created_at").first()
    if active is not None:
        return active
    done = same.filter(status=Status.SUCCEEDED)
    if max_age is not None:
        done = done.filter(finished_at__gte=timezone.now() - max_age)
    found = done.order_by("-finished_at").first()
    if found is not None:
        return found
    failed = same.filter(status=Status.FAILED, finished_at__gte=timezone.now() - RETRY_FAILED_AFTER)
    found = failed.order_by("-finished_at").first()
    if found is not None:  # its reason, not the same failure again at every visit
        return found
    _room_check(user=user)
    job = AnalysisJob.objects.create(kind=kind, key=key, params=params, requested_by=user)
    jobs.job_enqueue(name=jobs.ANALYSE, object_id=job.pk)
    return job


def _room_check(*, user) -> None:
    waiting = AnalysisJob.objects.filter(status__in=AnalysisJob.ACTIVE)
    if user is not None and waiting.filter(requested_by=user).count() >= settings.ANALYSIS_JOBS_PER_PERSON:
        raise AnalysisBusy(
            f"You have {settings.ANALYSIS_JOBS_PER_PERSON} analyses under way already: "
            "try again when one of them is done."
        )
    if waiting.filter(status=Status.QUEUED).count() >= settings.ANALYSIS_QUEUE_MAX:
        raise AnalysisBusy("The workers have many analyses waiting: try again in a minute.")


def analysis_jobs_recover(*, worker: str | None = None) -> list[int]:
    """Hand back jobs whose worker died (a stale heartbeat, or held by ``worker``, which is starting);
    one lost ``ANALYSIS_MAX_ATTEMPTS`` times fails with that reason."""
    now = timezone.now()
    running = AnalysisJob.objects.filter(status=Status.RUNNING)
    stale = running.filter(heartbeat_at__lt=now - timedelta(seconds=settings.ANALYSIS_HEARTBEAT_TIMEOUT))
    orphans = stale | running.filter(worker=worker) if worker else stale
    recovered = []
    for job in orphans.only("pk", "worker"):
        lost = running.filter(pk=job.pk, worker=job.worker)
        if lost.filter(faults__gte=settings.ANALYSIS_MAX_ATTEMPTS - 1).update(
            status=Status.FAILED, faults=F("faults") + 1, finished_at=now,
            error=f"Its worker stopped {settings.ANALYSIS_MAX_ATTEMPTS} times while computing it; gave up.",
        ):  # fmt: skip
            continue
        if lost.update(status=Status.QUEUED, worker="", faults=F("faults") + 1, dispatched_at=None):
            recovered.append(job.pk)
            jobs.job_enqueue(name=jobs.ANALYSE, object_id=job.pk)
    return recovered


def analysis_jobs_expire(*, now=None) -> int:
    """Delete jobs that ended more than ``ANALYSIS_KEEP_HOURS`` ago (an explanation holds a review's text)."""
    before = (now or timezone.now()) - timedelta(hours=settings.ANALYSIS_KEEP_HOURS)
    deleted, _ = AnalysisJob.objects.filter(finished_at__lt=before).delete()
    return deleted
