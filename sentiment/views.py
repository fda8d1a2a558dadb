"""Pages: thin. Each parses the request, calls one service or selector, and renders."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from sentiment import selectors, services
from sentiment.forms import CsvUploadForm, ReviewForm
from sentiment.models import TrainingRun
from sentiment.services.serving import serve_int8

HISTORY_PAGE_SIZE = 20


def staff_member_required(view):
    """Staff only: others signed in get 403 Forbidden, anonymous visitors the sign-in page."""

    @wraps(view)
    @login_required
    def guarded(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can see or change training runs.")
        return view(request, *args, **kwargs)

    return guarded


@login_required
def classify(request):
    form = ReviewForm(request.POST or None)
    prediction = None
    if request.method == "POST" and form.is_valid():
        try:
            prediction = services.review_classify(user=request.user, text=form.cleaned_data["text"])
            form = ReviewForm()
        except ValidationError as exc:
            form.add_error("text", exc)
        except services.NoModelServed as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "sentiment/classify.html",
        {
            "form": form,
            "prediction": prediction,
            "served": selectors.served_model(),
            "recent": selectors.prediction_list(user=request.user)[:5],
        },
    )


@login_required
def history(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.prediction_list(user=request.user, query=query), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "sentiment/history.html", {"page": page, "query": query})


@login_required
def api_keys(request):
    """How to call the API, and the person's keys; a new key is shown once, right after it is made."""
    new_key = None
    if request.method == "POST":
        new_key = services.api_token_create(user=request.user, name=request.POST.get("name", "").strip())
    return render(
        request,
        "sentiment/api_keys.html",
        {"new_key": new_key, "tokens": selectors.api_token_list(user=request.user)},
    )


@login_required
def csv_upload(request):
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.csv_classification_create(user=request.user, upload=form.cleaned_data["file"])
            return redirect("sentiment:csv_detail", job_id=job.pk)
        except ValidationError as exc:
            form.add_error("file", exc)
        except services.NoModelServed as exc:
            messages.error(request, str(exc))
    jobs = selectors.csv_classification_list(user=request.user)[:20]
    return render(request, "sentiment/csv_upload.html", {"form": form, "jobs": jobs})


@login_required
def csv_detail(request, job_id: int):
    job = get_object_or_404(selectors.csv_classification_list(user=request.user), pk=job_id)
    return render(request, "sentiment/csv_detail.html", {"job": job})


@login_required
def csv_status(request, job_id: int):
    job = get_object_or_404(selectors.csv_classification_list(user=request.user), pk=job_id)
    return JsonResponse(
        {
            "status": job.status,
            "done": job.done_rows,
            "total": job.total_rows,
            "percent": job.progress_percent,
            "error": job.error,
        }
    )


@login_required
def csv_download(request, job_id: int):
    job = get_object_or_404(selectors.csv_classification_list(user=request.user), pk=job_id)
    if not job.result:
        raise Http404("This file has not been classified yet.")
    return FileResponse(job.result.open("rb"), as_attachment=True, filename=f"classified-{job.filename}")


@staff_member_required
def run_detail(request, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id)
    return render(
        request,
        "sentiment/run_detail.html",
        {
            "run": run,
            "progress": selectors.training_run_progress(run=run),
            "served": selectors.served_model(),
            "int8": (run.metrics or {}).get("int8"),
            "int8_served": serve_int8(run),
        },
    )


@staff_member_required
def run_progress(request, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id)
    return JsonResponse(selectors.training_run_progress(run=run))


@require_POST
@staff_member_required
def run_cancel(request, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id)
    try:
        services.training_run_cancel(run=run, user=request.user)
        messages.success(request, f"{run}: cancel requested.")
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    return redirect("sentiment:run_detail", run_id=run.pk)


@require_POST
@staff_member_required
def run_promote(request, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id)
    try:
        services.training_run_promote(run=run, user=request.user)
        messages.success(request, f"{run} is now served.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("sentiment:run_detail", run_id=run.pk)
