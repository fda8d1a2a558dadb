"""A heavy-reading job followed from a page: its state as JSON, polled by ``analysis.js``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from sentiment.selectors.analysis import analysis_jobs_visible


@never_cache
@login_required
def analysis_status(request, job_id: int):
    """A job's progress, as the pages that wait on it poll it: its owner's (an explanation) or staff's."""
    job = get_object_or_404(analysis_jobs_visible(user=request.user), pk=job_id)
    return JsonResponse({**job_shown(job), "error": job.error})


def job_shown(job) -> dict | None:
    """An analysis job as the pages show and poll it (``_analysis_job.html``, analysis.js)."""
    if job is None:
        return None
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "percent": job.progress_percent,
    }
