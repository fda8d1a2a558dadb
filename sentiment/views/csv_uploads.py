"""CSV files of reviews: upload, follow and download, each person their own."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from sentiment.forms import CsvUploadForm
from sentiment.selectors.predictions import csv_classification_list
from sentiment.services.csv_jobs import csv_classification_create
from sentiment.services.serving import NoModelServed
from sentiment.views.reviews import served_shown


@login_required
def csv_upload(request):
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = csv_classification_create(user=request.user, upload=form.cleaned_data["file"])
            return redirect("sentiment:csv_detail", job_id=job.pk)
        except ValidationError as exc:
            form.add_error("file", exc)
        except NoModelServed as exc:
            messages.error(request, str(exc))
    jobs = csv_classification_list(user=request.user)[:20]
    return render(request, "sentiment/csv_upload.html", {"form": form, "jobs": jobs, **served_shown()})


@login_required
def csv_detail(request, job_id: int):
    job = get_object_or_404(csv_classification_list(user=request.user), pk=job_id)
    return render(request, "sentiment/csv_detail.html", {"job": job})


@login_required
def csv_status(request, job_id: int):
    job = get_object_or_404(csv_classification_list(user=request.user), pk=job_id)
    return JsonResponse(
        {
            "status": job.status,
            "status_display": job.status_display,
            "done": job.done_rows,
            "total": job.total_rows,
            "percent": job.progress_percent,
            "error": job.error,
        }
    )


@login_required
def csv_download(request, job_id: int):
    job = get_object_or_404(csv_classification_list(user=request.user), pk=job_id)
    if not job.result:
        raise Http404("This file has not been classified yet.")
    return FileResponse(job.result.open("rb"), as_attachment=True, filename=f"classified-{job.filename}")
