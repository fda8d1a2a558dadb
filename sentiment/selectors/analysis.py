"""Reads: heavy-reading jobs (explanations, evidence, checks) a person may follow."""

from __future__ import annotations

from django.db.models import QuerySet

from sentiment.models import (
    AnalysisJob,
)
from sentiment.permissions import can_manage_training


def analysis_jobs_visible(*, user) -> QuerySet[AnalysisJob]:
    """The analyses ``user`` may follow: explanations of their own answers; every analysis, for staff."""
    if can_manage_training(user):
        return AnalysisJob.objects.all()
    # an explanation is asked for by the owner of the answer alone (its key names the prediction)
    return AnalysisJob.objects.filter(kind=AnalysisJob.Kind.EXPLANATION, requested_by=user)


def analysis_job_active(*, key: str) -> AnalysisJob | None:
    return AnalysisJob.objects.filter(key=key, status__in=AnalysisJob.ACTIVE).order_by("-created_at").first()
