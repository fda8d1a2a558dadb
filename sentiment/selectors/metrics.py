"""Reads for Prometheus' scrapes (``sentiment.metrics.scrape``): small grouped counts on indexed columns,
and the few runs that are training, so that a scrape every 15 seconds costs the database nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from sentiment.models import AnalysisJob, TrainingRun


@dataclass(frozen=True)
class RunningRun:
    """What a scrape reports of a run that is training."""

    run_id: int
    step: int
    max_steps: int
    heartbeat_at: datetime | None


def training_runs_by_status() -> dict[str, int]:
    """Runs in each status, every status present (0 when none)."""
    counted = dict(TrainingRun.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return {status: counted.get(status, 0) for status in TrainingRun.Status.values}


def training_runs_running() -> list[RunningRun]:
    """The runs a worker is training now, with their progress as last recorded."""
    rows = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).order_by("pk")
    return [RunningRun(*row) for row in rows.values_list("pk", "step", "max_steps", "heartbeat_at")]


def analysis_jobs_by_kind_status() -> dict[tuple[str, str], int]:
    """Analysis jobs (kept ``ANALYSIS_KEEP_HOURS`` after they end) by kind and status, every pair present."""
    counted = {
        (kind, status): n
        for kind, status, n in AnalysisJob.objects.order_by().values_list("kind", "status").annotate(n=Count("pk"))
    }
    return {
        (kind, status): counted.get((kind, status), 0)
        for kind in AnalysisJob.Kind.values
        for status in AnalysisJob.Status.values
    }
