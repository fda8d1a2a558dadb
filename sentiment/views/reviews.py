"""Pages of anyone signed in: classify a review, their history, why an answer, and saying it was wrong.

Thin: each parses the request, calls one service or selector, and renders. Each person sees only their
own reviews, files and keys; the staff pages of runs and serving are ``sentiment.views.runs`` and
``sentiment.views.serving``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from sentiment.forms import FeedbackForm, ReviewForm
from sentiment.selectors.predictions import prediction_list
from sentiment.selectors.serving import first_model_run, served_model
from sentiment.services.classify import prediction_explanation_request, review_classify
from sentiment.services.feedback import prediction_feedback_give
from sentiment.services.serving import NoModelServed
from sentiment.views.analysis import job_shown

HISTORY_PAGE_SIZE = 20


@login_required
def classify(request):
    form = ReviewForm(request.POST or None)
    prediction = None
    if request.method == "POST" and form.is_valid():
        try:
            prediction = review_classify(user=request.user, text=form.cleaned_data["text"])
            form = ReviewForm()
        except ValidationError as exc:
            form.add_error("text", exc)
        except NoModelServed as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "sentiment/classify.html",
        {
            "form": form,
            "prediction": prediction,
            **served_shown(),
            "recent": prediction_list(user=request.user)[:5],
        },
    )


def served_shown() -> dict:
    """What the pages that need a model say about it (``_served.html``): the served model, or while there is
    none, the run that will give the first one."""
    served = served_model()
    return {"served": served, "coming": None if served else first_model_run()}


@login_required
def history(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(prediction_list(user=request.user, query=query), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "sentiment/history.html", {"page": page, "query": query})


@login_required
def prediction_why(request, prediction_id: int):
    """Why one of the person's answers came out as it did: its words highlighted by their push, worked out by
    a worker (``analysis``); until it is done, the page shows the job's progress."""
    prediction = get_object_or_404(prediction_list(user=request.user), pk=prediction_id)
    explanation, problem, job = None, "", None
    try:
        job = prediction_explanation_request(prediction=prediction, user=request.user)
    except ValidationError as exc:
        problem = " ".join(exc.messages)
    if job is not None and job.status == job.Status.SUCCEEDED:
        explanation = job.result
    elif job is not None and job.status == job.Status.FAILED:
        problem = job.error
    waiting = job if job is not None and job.is_active else None
    context = {"prediction": prediction, "explanation": explanation, "problem": problem, "job": job_shown(waiting)}
    return render(request, "sentiment/prediction_why.html", context)


@require_POST
@login_required
def prediction_feedback(request, prediction_id: int):
    """ "This answer is wrong": the right label (and a comment) for one of the person's own answers."""
    prediction = get_object_or_404(prediction_list(user=request.user), pk=prediction_id)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            prediction_feedback_give(
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
