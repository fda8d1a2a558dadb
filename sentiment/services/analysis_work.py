"""The worker's side of heavy reading (``sentiment.services.analysis``): claim a job, compute it, store the
result, under a lease.

Apart from the requesting side so that what computes a job (an explanation, the evidence, the behavioural
checks), which requests jobs itself, and the queue's mechanics import no circle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from ml.errors import without_paths
from sentiment.metrics.families import analysis_job_count
from sentiment.models import AnalysisJob, Prediction, TrainingRun
from sentiment.selectors.evidence import evidence_compute
from sentiment.services.analysis import Progress
from sentiment.services.checks import training_run_check_behaviour
from sentiment.services.classify import prediction_explanation_compute

logger = logging.getLogger(__name__)
Status = AnalysisJob.Status
Kind = AnalysisJob.Kind


class _LeaseLost(Exception):
    """This worker no longer holds the job."""


def analysis_job_process(*, job_id: int, worker: str = "local") -> str:
    """Worker side: claim the job, compute it, store the result. Returns "succeeded", "failed", "skipped"
    (not claimable: another worker has it, or it ended) or "lost" (the lease went to another meanwhile)."""
    claimed = AnalysisJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, worker=worker, heartbeat_at=timezone.now()
    )
    if not claimed:
        return "skipped"
    job = AnalysisJob.objects.get(pk=job_id)
    started = time.perf_counter()
    outcome = _compute_held(job=job, worker=worker)
    analysis_job_count(kind=job.kind, outcome=outcome, seconds=time.perf_counter() - started)
    return outcome


def _compute_held(*, job: AnalysisJob, worker: str) -> str:
    """Compute a claimed job and store its result, while ``worker`` holds it: "succeeded", "failed" or "lost"."""
    job_id = job.pk
    held = AnalysisJob.objects.filter(pk=job_id, status=Status.RUNNING, worker=worker)

    def progress(done: int, total: int) -> None:
        if not held.update(done=done, total=total, heartbeat_at=timezone.now()):
            raise _LeaseLost()

    try:
        result = _COMPUTE[job.kind](job, progress)
    except _LeaseLost:
        logger.warning("analysis %s is no longer held by %s: this copy stops", job_id, worker)
        return "lost"
    except Exception as exc:
        logger.warning("analysis %s failed", job_id, exc_info=not isinstance(exc, ValidationError))
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        held.update(status=Status.FAILED, error=without_paths(reason)[:2000], finished_at=timezone.now())
        return "failed"
    if not held.update(status=Status.SUCCEEDED, result=result, done=F("total"), finished_at=timezone.now()):
        return "lost"
    return "succeeded"


def _explanation(job: AnalysisJob, progress: Progress) -> dict:
    prediction = Prediction.objects.select_related("run").get(pk=job.params["prediction"])
    return prediction_explanation_compute(prediction=prediction, progress=progress)


def _evidence(job: AnalysisJob, progress: Progress) -> dict:
    return evidence_compute(params=job.params, progress=progress)


def _behaviour(job: AnalysisJob, progress: Progress) -> dict:
    progress(0, 1)
    return training_run_check_behaviour(run=TrainingRun.objects.get(pk=job.params["run"]))


_COMPUTE: dict[str, Callable[[AnalysisJob, Progress], dict]] = {
    Kind.EXPLANATION: _explanation,
    Kind.EVIDENCE: _evidence,
    Kind.BEHAVIOUR: _behaviour,
}
