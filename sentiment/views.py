"""Pages: thin. Each parses the request, calls one service or selector, and renders.

These are the pages of anyone signed in, each seeing only their own reviews, files and keys; the staff
pages of training runs and serving are in ``sentiment.run_views``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from sentiment import selectors, services
from sentiment.forms import ApiKeyForm, CsvUploadForm, FeedbackForm, ReviewForm
from sentiment.permissions import can_manage_training

HISTORY_PAGE_SIZE = 20


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
            **_serving(),
            "recent": selectors.prediction_list(user=request.user)[:5],
        },
    )


def _serving() -> dict:
    """What the pages that need a model say about it (``_served.html``): the served model, or while there is
    none, the run that will give the first one."""
    served = selectors.served_model()
    return {"served": served, "coming": None if served else selectors.first_model_run()}


@login_required
def history(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.prediction_list(user=request.user, query=query), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "sentiment/history.html", {"page": page, "query": query})


@login_required
def prediction_why(request, prediction_id: int):
    """Why one of the person's answers came out as it did: its words highlighted by their push, worked out by
    a worker (``services.analysis``); until it is done, the page shows the job's progress."""
    prediction = get_object_or_404(selectors.prediction_list(user=request.user), pk=prediction_id)
    explanation, problem, job = None, "", None
    try:
        job = services.prediction_explanation_request(prediction=prediction, user=request.user)
    except ValidationError as exc:
        problem = " ".join(exc.messages)
    if job is not None and job.status == job.Status.SUCCEEDED:
        explanation = job.result
    elif job is not None and job.status == job.Status.FAILED:
        problem = job.error
    waiting = job if job is not None and job.is_active else None
    context = {"prediction": prediction, "explanation": explanation, "problem": problem, "job": job_shown(waiting)}
    return render(request, "sentiment/prediction_why.html", context)


@never_cache
@login_required
def analysis_status(request, job_id: int):
    """A job's progress, as the pages that wait on it poll it: its owner's (an explanation) or staff's."""
    job = get_object_or_404(selectors.analysis_jobs_visible(user=request.user), pk=job_id)
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


@require_POST
@login_required
def prediction_feedback(request, prediction_id: int):
    """ "This answer is wrong": the right label (and a comment) for one of the person's own answers."""
    prediction = get_object_or_404(selectors.prediction_list(user=request.user), pk=prediction_id)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            services.prediction_feedback_give(
                prediction=prediction,
                correct_label=form.cleaned_data["correct_label"],
                comment=form.cleaned_data["comment"],
            )
            messages.success(request, "Thank you: staff will review it, and accepted corrections teach the next model.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(form.cleaned_data["next"] or "sentiment:history")
    messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    return redirect("sentiment:history")


NEW_KEY = "sentiment.new_api_key"  # session key: a new API key, until the page that shows it once


@never_cache  # the page may show a key: no browser or proxy may keep a copy
@login_required
def api_keys(request):
    """How to call the API, and the person's keys. Post/redirect/get: a new key is kept in the session
    just long enough for the next GET to show it once, so a refresh or the back button never shows it."""
    form = ApiKeyForm(request.POST or None, staff=can_manage_training(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            request.session[NEW_KEY] = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"].strip(),
                expires_in_days=form.cleaned_data["expires_in_days"],
                scope=form.chosen_scope,
            )
            return redirect("sentiment:api_keys")
        except ValidationError as exc:
            form.add_error(None, exc)
    return render(
        request,
        "sentiment/api_keys.html",
        {
            "form": form,
            "new_key": request.session.pop(NEW_KEY, None),
            "tokens": selectors.api_token_list(user=request.user),
            "now": timezone.now(),
        },
    )


@require_POST
@login_required
def api_key_revoke(request, token_id: int):
    """Revoke one of the person's own keys (another's, or one already revoked: 404, nothing changes)."""
    if not services.api_token_revoke(user=request.user, token_id=token_id):
        raise Http404("No such active key of yours.")
    messages.success(request, "The key is revoked: requests with it are refused from now on.")
    return redirect("sentiment:api_keys")


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
    return render(request, "sentiment/csv_upload.html", {"form": form, "jobs": jobs, **_serving()})


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
            "status_display": job.status_display,
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
